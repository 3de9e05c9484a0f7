"""The load-and-fault suite's machinery: a PostgreSQL cluster of its own, the API run as in
production (a uvicorn master and its workers on a real socket), and many clients at once.

Everything stays on loopback and in a temporary folder; nothing touches the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The code under test: this checkout unless LOAD_APP_DIR names another (to measure "before").
APP_DIR = Path(os.environ.get("LOAD_APP_DIR", ROOT))
DEMO_PASSWORD = "signpost-demo"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pg_bin() -> Path:
    """The server binaries: LOAD_PG_BIN, else the newest Debian install, else PATH."""
    if os.environ.get("LOAD_PG_BIN"):
        return Path(os.environ["LOAD_PG_BIN"])
    installed = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if installed:
        return Path(installed[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL server binaries: set LOAD_PG_BIN")
    return Path(initdb).parent


class Cluster:
    """A throwaway PostgreSQL cluster on its own port, so the suite may stop and restart it.
    PostgreSQL refuses to run as root: under root it runs as the ``postgres`` user."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="signpost-load-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.bin = _pg_bin()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c max_connections=300 -c shared_buffers=128MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def connect(self, database: str, **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/{database}", connect_timeout=5, **kwargs
        )

    def scalar(self, database: str, query: str, *params):
        with self.connect(database) as connection:
            return connection.execute(query, params).fetchone()[0]


def signpost(database_url: str, *args: str, **env: str) -> None:
    """Run a ``signpost`` command against the database (the code under test's own CLI)."""
    subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=APP_DIR,
        env=api_environment(database_url, **env),
        check=True,
        capture_output=True,
        timeout=300,
    )


def api_environment(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    env.update(
        SIGNPOST_ENVIRONMENT="development",
        SIGNPOST_DATABASE_URL=database_url,
        SIGNPOST_LOG_LEVEL="WARNING",
    )
    env.update({f"SIGNPOST_{name.upper()}": str(value) for name, value in settings.items()})
    return env


class Api:
    """``signpost serve`` with several workers on a port of its own: at least two, so
    there is a master and workers, as in production."""

    def __init__(self, database_url: str, workers: int = 3, **settings: str) -> None:
        if workers < 2:
            raise ValueError("one worker runs without a master; the suite needs both")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = api_environment(database_url, **settings)
        self.log = Path(tempfile.mkstemp(prefix="signpost-load-api-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None
        self.started_workers: list[int] = []

    def start(self, timeout: float = 60) -> Api:
        command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=APP_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited at start-up:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
                if ready and len(self.worker_pids()) == self.workers:
                    self.started_workers = self.worker_pids()
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the API was not ready within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        """The master's worker processes (not multiprocessing's resource tracker)."""
        assert self.process is not None
        return [pid for pid in children(self.process.pid) if b"spawn_main" in cmdline(pid)]

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        """Stop everything this API started, whatever state it is in."""
        if self.process is None:
            return
        # Every worker it ever had: a killed master's workers (older code) may outlive it.
        workers = set(self.started_workers)
        if self.process.poll() is None:
            workers.update(self.worker_pids())
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


# --- The directory the scenarios work on -------------------------------------------------


@dataclass
class Directory:
    """The demo directory, signed in as the roles the scenarios need."""

    base_url: str
    tokens: dict[str, str]
    need_ids: list[str]
    activity_ids: list[str]
    referral_activity_ids: list[str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def referral_body(self, activity_id: str) -> dict:
        return {
            "activity_id": activity_id,
            "person_reference": f"LOAD-{uuid.uuid4().hex[:6]}",  # never 10 digits: an NHS number
            "need_ids": [self.need_ids[0]],
            "consent_confirmed": True,
            "contact": {"first_name": "Sam", "phone": "07700 900123"},
        }


def load_demo(database_url: str) -> None:
    signpost(database_url, "migrate")
    signpost(database_url, "seed-demo")


def open_directory(base_url: str) -> Directory:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        tokens = {}
        for role in ("admin", "linkworker", "commissioner"):
            answer = client.post(
                "/v1/auth/token",
                data={"username": f"{role}@demo.signpost.example", "password": DEMO_PASSWORD},
            )
            answer.raise_for_status()
            tokens[role] = answer.json()["access_token"]
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        needs = client.get(
            "/v1/taxonomy-terms", params={"taxonomy": "need", "per_page": 50}, headers=admin
        )
        needs.raise_for_status()
        activities = []
        for page in (1, 2, 3):
            answer = client.get("/v1/activities", params={"page": page, "per_page": 100})
            answer.raise_for_status()
            activities += answer.json()["contents"]
    return Directory(
        base_url=base_url,
        tokens=tokens,
        need_ids=[term["id"] for term in needs.json()["contents"]],
        activity_ids=[activity["id"] for activity in activities],
        referral_activity_ids=[
            activity["id"] for activity in activities if "referral" in activity["access_modes"]
        ],
    )


# --- Clients -----------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    status: int | None  # None: no HTTP answer (the error is in ``error``)
    seconds: float
    started: float
    error: str | None = None
    problem_json: bool = False
    retry_after: bool = False


@dataclass
class Tally:
    answers: list[Answer] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.answers.append(answer)

    def statuses(self) -> Counter:
        return Counter(a.status if a.status is not None else a.error for a in self.answers)

    def server_errors(self) -> list[Answer]:
        """What must never happen: a 5xx other than 503, or a 503 that is not a clear,
        retryable problem+json."""
        return [
            a
            for a in self.answers
            if a.status is not None
            and a.status >= 500
            and not (a.status == 503 and a.problem_json and a.retry_after)
        ]

    def transport_errors(self) -> list[Answer]:
        return [a for a in self.answers if a.status is None]

    def seconds(self, served_only: bool = False) -> list[float]:
        return sorted(
            a.seconds
            for a in self.answers
            if not served_only or (a.status is not None and a.status < 500)
        )


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def send(
    session: aiohttp.ClientSession, tally: Tally, kind: str, method: str, url: str, **kwargs
) -> Response | None:
    """Send one request and tally its answer (or the error that stood in for one)."""
    started = time.monotonic()
    try:
        async with session.request(method, url, **kwargs) as response:
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as error:
        tally.add(Answer(kind, None, time.monotonic() - started, started, type(error).__name__))
        return None
    answer = Response(response.status, response.headers, body)
    tally.add(
        Answer(
            kind,
            answer.status,
            time.monotonic() - started,
            started,
            problem_json=answer.headers.get("content-type", "").startswith(
                "application/problem+json"
            ),
            retry_after="retry-after" in answer.headers,
        )
    )
    return answer


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


async def honour_retry_after(response: Response | None) -> None:
    """Wait as a well-behaved client does after a 503 (jittered, capped for the suite)."""
    if response is not None and response.status == 503:
        wait = float(response.headers.get("retry-after", "1"))
        await asyncio.sleep(min(wait, 2.0) * random.uniform(0.5, 1.0))
    elif response is None:
        await asyncio.sleep(random.uniform(0.2, 0.5))


def client_session(base_url: str, connections: int = 1) -> aiohttp.ClientSession:
    """A simulated user's connection(s). aiohttp, not httpx: with hundreds of users on the
    same two cores, the client's cost per request must stay small beside the server's."""
    return aiohttp.ClientSession(
        base_url=base_url,
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=connections),
    )


async def run_for(seconds: float, clients: int, loop: Callable[[int], Awaitable[None]]) -> None:
    """Run ``clients`` copies of ``loop(i)`` until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        while time.monotonic() < deadline:
            await loop(index)

    await asyncio.gather(*(client(i) for i in range(clients)))


def record(title: str, lines: list[str]) -> None:
    """Print a scenario's figures and append them to LOAD_RESULTS when it is set."""
    text = f"\n#### {title}\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    print(text)
    if os.environ.get("LOAD_RESULTS"):
        with open(os.environ["LOAD_RESULTS"], "a") as results:
            results.write(text)


def by_kind(tally: Tally) -> list[str]:
    """Per kind of request: count, answers and served p50/p99."""
    kinds: dict[str, list[Answer]] = {}
    for answer in tally.answers:
        kinds.setdefault(answer.kind, []).append(answer)
    lines = []
    for kind, answers in sorted(kinds.items()):
        served = [a.seconds for a in answers if a.status is not None and a.status < 500]
        statuses = Counter(a.status if a.status is not None else a.error for a in answers)
        lines.append(
            f"{kind}: {len(answers)} ({dict(sorted(statuses.items(), key=str))}), served p50 "
            f"{percentile(served, 50) * 1000:.0f} ms, p99 {percentile(served, 99) * 1000:.0f} ms"
        )
    return lines
