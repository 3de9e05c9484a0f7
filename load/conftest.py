"""One PostgreSQL cluster of the suite's own, the demo directory loaded into it once, and
the API serving it with several workers. ``make test-load`` runs this suite; the quick unit
suite (``make test``) does not."""

import pytest

from load.harness import Api, Cluster, Directory, load_demo, open_directory

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
    api = Api(database_url, workers=WORKERS).start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def directory(api) -> Directory:
    return open_directory(api.base_url)
