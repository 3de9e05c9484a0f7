import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.core.config import DEVELOPMENT_SECRET, Settings


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.delenv("SIGNPOST_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SIGNPOST_SECRET_KEY"):
        Settings(environment="production", _env_file=None)


def test_production_accepts_a_real_secret():
    settings = Settings(
        environment="production",
        secret_key="s3cret-" * 6,
        data_keys=Fernet.generate_key().decode(),
        _env_file=None,
    )
    assert settings.secret_key.get_secret_value() != DEVELOPMENT_SECRET


def test_production_needs_its_own_data_keys(monkeypatch):
    monkeypatch.delenv("SIGNPOST_DATA_KEYS", raising=False)
    with pytest.raises(ValidationError, match="SIGNPOST_DATA_KEYS"):
        Settings(environment="production", secret_key="s3cret-" * 6, _env_file=None)


def test_development_default_is_a_local_sqlite_file(monkeypatch):
    monkeypatch.delenv("SIGNPOST_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./var/signpost.db"
    assert settings.is_sqlite


def test_settings_come_from_prefixed_environment(monkeypatch):
    monkeypatch.setenv("SIGNPOST_MAX_PAGE_SIZE", "250")
    monkeypatch.setenv("SIGNPOST_CORS_ORIGINS", '["https://app.example.org"]')
    settings = Settings(_env_file=None)
    assert settings.max_page_size == 250
    assert settings.cors_origins == ["https://app.example.org"]


def test_default_page_size_cannot_exceed_the_maximum():
    with pytest.raises(ValidationError, match="DEFAULT_PAGE_SIZE"):
        Settings(default_page_size=500, max_page_size=100, _env_file=None)


def test_secret_is_not_printed():
    settings = Settings(secret_key="do-not-print-me", _env_file=None)
    assert "do-not-print-me" not in repr(settings)
