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
    max_media_items: int = 100
    max_field_chars: int = 20_000
    max_body_chars: int = 2 * 1024 * 1024
    max_html_depth: int = 512
    policy_dir: Path | None = Field(None, description="A labels tree to use instead of the shipped one.")
    model_dir: Path | None = Field(None, description="A trained classifier artifact to use instead of the shipped one.")
    classifier_enabled: bool = True
    log_level: str = "INFO"
    webhook_tolerance_seconds: int = 300
    webhook_fail_mode: str = Field("open", description="'open' or 'closed' when the database is down.")
    rate_limit_per_minute: int = 600
    review_claim_seconds: int = 900
    bootstrap_admin: bool = Field(True, description="Create and print an admin key on first start.")

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
