"""A worker never outlives its master.

``signpost serve --workers N`` runs N worker processes under a uvicorn master. If the master
is killed outright (SIGKILL, OOM killer), nothing tells the workers: they would keep their
sockets, connections and memory with nobody to stop them. Each worker therefore watches its
parent's sentinel (a pipe the parent holds open until it dies) and, when it closes, stops
itself the normal way (SIGTERM: finish requests in flight within the grace period, exit).
"""

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import wait

log = logging.getLogger(__name__)


def stop_with_parent() -> threading.Thread | None:
    """In a worker process started by multiprocessing (uvicorn's workers are), start a
    daemon thread that sends this process SIGTERM when its parent exits. In a process
    started any other way (one-process ``serve``, tests) there is no parent to watch."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return None

    def watch() -> None:
        wait([parent.sentinel])  # returns only once the parent has gone
        log.warning("master process exited; this worker is shutting down")
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
