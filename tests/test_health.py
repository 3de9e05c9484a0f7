from sqlalchemy import text

from app.core.migrations import head_revision


def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_checks_database_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "database": "ok", "migration": head_revision()}


def test_readyz_is_unavailable_while_the_schema_is_behind(client, session):
    older = "0001_directory_core"
    session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": older})
    session.commit()
    try:
        response = client.get("/readyz")
    finally:
        session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()})
        session.commit()
    assert response.status_code == 503
    assert response.json()["migration"] == f"{older} (head is {head_revision()})"
    assert client.get("/readyz").status_code == 200


def test_every_response_carries_a_request_id(client):
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


def test_interactive_docs_and_contract_are_served(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "Signpost"
