"""Settings: ``MODLABEL_*`` environment variables or a ``.env`` file (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODLABEL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the embedded SQLite database and generated files live.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "MODLABEL_DATABASE_URL"),
        description="Any SQLAlchemy URL; unset means SQLite in data_dir.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_request_bytes: int = Field(2 * 1024 * 1024, description="Largest accepted request body (413 above).")
    policy_dir: Path | None = Field(None, description="A labels tree to use instead of the shipped one.")
    model_dir: Path | None = Field(None, description="A trained classifier artifact to use instead of the shipped one.")
    classifier_enabled: bool = True
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|text)$", description="'json' (one object a line) or 'text'.")
    shutdown_drain_seconds: float = Field(0.5, ge=0, le=30, description="On SIGTERM, stop accepting, then wait this long for accepted connections' requests before shutting down.")
    reload_on_sighup: bool = Field(True, description="Reload the policy tree on SIGHUP (main thread of each worker).")
    webhook_tolerance_seconds: int = 300
    webhook_fail_mode: str = Field("open", description="'open' or 'closed' when the database is down.")
    # Storage, webhook deliveries and callbacks (service.storage, service.outbox).
    migrate_on_start: bool | None = Field(None, description="Run migrations at start; unset means only for embedded SQLite.")
    db_pool_size: int = 10
    webhook_wait_seconds: float = Field(10.0, description="How long a duplicate delivery waits for the first one to finish.")
    webhook_claim_lease_seconds: float = Field(60.0, description="After this, a delivery left 'processing' is taken over.")
    callback_urls: dict[str, str] = Field(default_factory=dict, description="Publisher -> callback URL; wins over labels/publishers/<name>.json.")
    outbox_enabled: bool = Field(True, description="Run the callback sender in the app's lifespan.")
    outbox_poll_seconds: float = 2.0
    outbox_max_attempts: int = 12
    outbox_backoff_seconds: float = Field(5.0, description="First retry delay; doubles per attempt.")
    outbox_backoff_max_seconds: float = 3600.0
    outbox_lease_seconds: float = Field(60.0, description="A claimed callback not marked sent by then is sent again.")
    outbox_timeout_seconds: float = 10.0
    review_claim_seconds: int = 900
    bootstrap_admin: bool = Field(True, description="Create and print an admin key on first start.")
    # Moderators (service.auth, service.overrides, service.ui).
    key_cache_seconds: float = Field(5.0, description="How long a looked-up API key is trusted before it is read again.")
    session_secret: str | None = Field(None, description="Signs the moderator page's cookie; unset = a file in data_dir "
                                       "(set it when several replicas serve /ui).")
    session_hours: float = Field(8.0, description="How long a moderator page sign-in lasts.")
    # Rate limits (service.ratelimit): 429 rate_limited with Retry-After.
    rate_limit_per_minute: int = Field(6000, ge=0, description="Requests a minute per API key, unless the key has its "
                                       "own (`modlabel keys limit`); 0 = no limit.")
    webhook_rate_limit_per_minute: int | None = Field(None, ge=0, description="Signed webhook deliveries a minute per "
                                                      "publisher; unset = rate_limit_per_minute; 0 = no limit.")
    rate_limit_storage: str = Field("memory://", description="Where the counters live: memory:// (per process) or a "
                                    "redis:// URL shared by every worker and replica.")
    override_sweep_seconds: float = Field(30.0, description="How often expired overrides are lifted (0 = never in the background).")
    # Media hashing and hash banks (service.banks, service.routes.banks, service.routes.media).
    media_max_upload_bytes: int = Field(10 * 1024 * 1024, description="Largest image POST /v1/media/hash accepts (413 above).")
    bank_import_max_bytes: int = Field(32 * 1024 * 1024, description="Largest request body of the /v1/banks routes (imports).")
    bank_refresh_seconds: float = Field(5.0, description="How often a process picks up bank changes made by other processes.")
    bank_flood_threshold: int | None = Field(100, description="Default for new banks: quarantine an entry matching more "
                                             "distinct items than this within the window (None = off).")
    bank_flood_window_seconds: int = Field(86_400, description="Default flood window of new banks.")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        return f"sqlite:///{(self.data_dir / 'modlabel.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
