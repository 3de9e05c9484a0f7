"""Settings, read once from the environment (prefix ``SIGNPOST_``) or a ``.env`` file."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNPOST_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/signpost.db"
    # A read replica (PostgreSQL streaming replica) for the heaviest read-only routes:
    # referral search and reports. Unset: they read the primary like everything else.
    read_database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    default_page_size: int = Field(20, ge=1)
    max_page_size: int = Field(100, ge=1, le=1000)
    cors_origins: list[str] = []
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = []
    # Larger request bodies are refused with 413 before they are parsed.
    max_body_bytes: int = Field(1_000_000, ge=1_000)
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    access_token_minutes: int = Field(30, ge=1, le=24 * 60)
    signin_max_failures_per_account: int = Field(5, ge=1)
    signin_max_failures_per_address: int = Field(20, ge=1)
    signin_lockout_minutes: int = Field(15, ge=1)
    # Lists count their matches exactly up to this many; beyond, `total_items` is a lower
    # bound and `total_is_estimate` is true (a count never scans the whole directory).
    exact_count_limit: int = Field(1000, ge=1)
    # How long a worker remembers who an API key or bearer token belongs to (0: not at all);
    # see app/accounts/principal_cache.py.
    auth_cache_seconds: float = Field(5.0, ge=0, le=60)
    # How long a feed list's total is remembered per process (app/openreferral/counts.py).
    feed_count_seconds: float = Field(30.0, ge=0, le=3600)
    # Search-log rows are written in batches per worker (app/search/search_log.py): when a
    # batch holds this many rows or its first row has waited this long (0: each at once).
    search_log_batch_size: int = Field(200, ge=1, le=10_000)
    search_log_batch_seconds: float = Field(1.0, ge=0, le=60)
    # Demo accounts (one per role, password below) are created only by seed-demo.
    demo_password: SecretStr = SecretStr("signpost-demo")
    # Connections per worker process. Sync routes run in AnyIO's thread pool, which is sized
    # to match at start-up, and at most this many requests are in flight per worker (see
    # max_in_flight), so a request never waits for a connection another request holds.
    db_pool_size: int = Field(10, ge=1)
    # Every wait is bounded; running out answers 503 with Retry-After, never a hang or 500.
    db_lock_timeout_ms: int = Field(2000, ge=1)  # a row lock (PostgreSQL), any lock (SQLite)
    db_statement_timeout_ms: int = Field(10000, ge=1)  # one statement (PostgreSQL)
    db_pool_timeout_seconds: float = Field(3.0, gt=0)  # waiting for a pooled connection
    db_connect_timeout_seconds: int = Field(3, ge=1)  # opening a connection (PostgreSQL)
    # Behind PgBouncer in transaction mode: no startup parameters (set the timeouts on the
    # role instead) and no server-side prepared statements.
    db_pgbouncer: bool = False
    # Pooled connections are replaced after this long.
    db_pool_recycle_seconds: int = Field(1800, ge=1)
    # A connection that sat unused in the pool this long is pinged before it is handed out
    # (one round trip, only after a quiet spell, never on a busy worker's hot path), so a
    # worker that was idle through a database restart does not answer its next requests 503
    # on connections the restart killed.
    db_ping_after_idle_seconds: float = Field(1.0, ge=0)
    # PostgreSQL's JIT compiles the search's plans on every request and costs more than it
    # saves on them (up to 78 ms); off for the application's connections.
    db_jit: bool = False
    # Requests in flight per worker; more get 503 at once. Default: db_pool_size.
    max_in_flight: int | None = Field(None, ge=1)
    retry_after_seconds: int = Field(2, ge=1)
    # On SIGTERM, requests in progress get this long to finish before they are cut off.
    shutdown_grace_seconds: int = Field(20, ge=1)
    # Fernet keys (comma-separated, newest first) for personal data at rest; see app/core/crypto.py.
    # Unset outside production: a key derived from SIGNPOST_SECRET_KEY.
    data_keys: SecretStr | None = None
    referral_response_days: int = Field(14, ge=1, le=365)
    referral_retention_days: int = Field(90, ge=1, le=3650)
    # Assurance: which items an organisation needs verified and current to be `assured`,
    # and how soon before it lapses an item counts as `expiring`.
    assurance_required: list[
        Literal[
            "safeguarding_policy",
            "safeguarding_lead",
            "dbs_checks",
            "public_liability_insurance",
            "ico_registration",
            "data_protection_policy",
        ]
    ] = [
        "safeguarding_policy",
        "public_liability_insurance",
        "ico_registration",
    ]
    assurance_expiring_days: int = Field(30, ge=0, le=365)
    # Listing freshness, in days since an activity was last confirmed accurate.
    review_due_days: int = Field(183, ge=1)
    stale_days: int = Field(365, ge=1)
    hide_after_days: int = Field(548, ge=1)

    referral_expiry_warning_hours: int = Field(48, ge=1, le=24 * 30)
    # Notifications (app/notifications): links in emails, mail transport, the worker.
    app_url: str = "http://localhost:3000"  # the front end: emails link to items there
    public_api_url: str = "http://127.0.0.1:8000"  # this API as email readers reach it
    smtp_host: str | None = None  # unset: emails are written to mail_dir (development)
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_from: str = "Signpost <no-reply@signpost.localhost>"
    mail_dir: str = "./var/mail"
    worker_poll_seconds: float = Field(1.0, gt=0)
    worker_batch_size: int = Field(50, ge=1, le=1000)
    worker_sweep_minutes: int = Field(60, ge=1)  # how often the worker runs the sweeps
    delivery_max_attempts: int = Field(8, ge=1, le=50)
    delivery_retry_initial_seconds: float = Field(30.0, gt=0)
    delivery_retry_max_seconds: float = Field(6 * 3600.0, gt=0)
    digest_hour: int = Field(7, ge=0, le=23)  # daily digests go out at this hour, UK time
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=60)
    webhook_disable_after_failures: int = Field(15, ge=1)  # failed attempts in a row
    # Webhooks to loopback, private and link-local addresses, and plain http: refused in
    # production (server-side request forgery), allowed elsewhere so tests and local
    # receivers work. Set explicitly to override.
    webhook_allow_private: bool | None = None
    still_accurate_link_days: int = Field(14, ge=1, le=90)
    outbox_retention_days: int = Field(30, ge=1)

    @property
    def webhooks_may_reach_private(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.environment != "production"

    @property
    def in_flight_limit(self) -> int:
        return self.max_in_flight or self.db_pool_size

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if (
            self.environment == "production"
            and self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
        ):
            raise ValueError(
                "SIGNPOST_SECRET_KEY must be set to a private value when "
                "SIGNPOST_ENVIRONMENT=production"
            )
        if self.environment == "production" and self.data_keys is None:
            raise ValueError(
                "SIGNPOST_DATA_KEYS must be set when SIGNPOST_ENVIRONMENT=production "
                "(generate one with: signpost new-data-key)"
            )
        if not self.review_due_days < self.stale_days < self.hide_after_days:
            raise ValueError(
                "SIGNPOST_REVIEW_DUE_DAYS < SIGNPOST_STALE_DAYS < SIGNPOST_HIDE_AFTER_DAYS "
                "must hold"
            )
        if self.default_page_size > self.max_page_size:
            raise ValueError("SIGNPOST_DEFAULT_PAGE_SIZE must not exceed SIGNPOST_MAX_PAGE_SIZE")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
