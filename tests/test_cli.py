import json

from typer.testing import CliRunner

from app.cli import cli


def test_export_openapi_writes_the_document(tmp_path):
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli, ["export-openapi", "--path", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["info"]["title"] == "Signpost"


def test_migrate_is_idempotent():
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "latest migration" in result.output


def test_seed_vocabulary_is_idempotent(client):
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-vocabulary"]).exit_code == 0
    first = client.get("/v1/taxonomy-terms").json()["total_items"]
    assert runner.invoke(cli, ["seed-vocabulary"]).exit_code == 0
    assert client.get("/v1/taxonomy-terms").json()["total_items"] == first > 0


def test_create_admin_makes_an_admin_who_can_sign_in(anon):
    result = CliRunner().invoke(
        cli,
        ["create-admin", "--email", "Boss@Example.org", "--display-name", "Boss"],
        env={"SIGNPOST_ADMIN_PASSWORD": "a long admin passphrase"},
    )
    assert result.exit_code == 0, result.output
    token = anon.post(
        "/v1/auth/token",
        data={"username": "boss@example.org", "password": "a long admin passphrase"},
    ).json()["access_token"]
    me = anon.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "admin"


def test_create_admin_refuses_a_short_password_and_a_taken_email(anon):
    runner = CliRunner()
    short = runner.invoke(
        cli,
        ["create-admin", "--email", "a@example.org", "--display-name", "A"],
        env={"SIGNPOST_ADMIN_PASSWORD": "short"},
    )
    assert short.exit_code != 0
    assert "password" in short.output
    args = ["create-admin", "--email", "b@example.org", "--display-name", "B"]
    env = {"SIGNPOST_ADMIN_PASSWORD": "a long admin passphrase"}
    assert runner.invoke(cli, args, env=env).exit_code == 0
    taken = runner.invoke(cli, args, env=env)
    assert taken.exit_code == 1
    assert "already exists" in taken.output


def test_seed_demo_is_refused_in_production(monkeypatch, client):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "environment", "production")
    result = CliRunner().invoke(cli, ["seed-demo"])
    assert result.exit_code == 1
    assert client.get("/v1/organisations").json()["total_items"] == 0
