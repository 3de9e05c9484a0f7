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
