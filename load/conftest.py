"""One PostgreSQL cluster of the suite's own, the demo directory loaded into it once, and
the API serving it with several workers. ``make test-load`` runs this suite; the quick unit
suite (``make test``) does not."""

import datetime
import os
import subprocess

import pytest

from load.harness import APP_DIR, Api, Cluster, Directory, load_demo, open_directory

WORKERS = 3


@pytest.fixture(scope="session")
def cluster():
    cluster = Cluster()
    cluster.init()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def database_url(cluster) -> str:
    url = cluster.create_database("signpost")
    load_demo(url)
    return url


@pytest.fixture(scope="session")
def api(database_url):
    # LOAD_DB_POOL_SIZE: compare pool sizes (and so in-flight limits) on the same scenarios.
    pool = (
        {"db_pool_size": os.environ["LOAD_DB_POOL_SIZE"]}
        if "LOAD_DB_POOL_SIZE" in os.environ
        else {}
    )
    api = Api(database_url, workers=WORKERS, **pool).start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def directory(api) -> Directory:
    return open_directory(api.base_url)


@pytest.fixture(scope="session", autouse=True)
def results_heading():
    """Head this run's figures in LOAD_RESULTS: when, which code, with what settings."""
    if not os.environ.get("LOAD_RESULTS"):
        return
    commit = subprocess.run(
        ["git", "-C", str(APP_DIR), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    label = os.environ.get("LOAD_LABEL", "")
    with open(os.environ["LOAD_RESULTS"], "a") as results:
        results.write(
            f"\n### {datetime.date.today()} {label}\n\nCode: `{commit[:100]}`; "
            f"{os.cpu_count()} cores; PostgreSQL cluster of the suite's own; "
            f"API with {WORKERS} workers unless said; "
            f"pool size {os.environ.get('LOAD_DB_POOL_SIZE', 'default')}.\n"
        )
