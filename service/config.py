"""Settings: the one place that reads the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob Relay has; names are `RELAY_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/relay.db"
    data_dir: Path = Path("./var")
    admin_token: SecretStr | None = None

    zendesk_webhook_secret: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None
    intercom_client_secret: SecretStr | None = None
    freshdesk_webhook_token: SecretStr | None = None
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1)

    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_project: str | None = None

    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None

    # Worker: how often an idle worker looks for due events, how long a claim is
    # held before another worker may retake it, and when an event is parked.
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_backoff_base_seconds: float = Field(default=2.0, gt=0)
    worker_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    worker_batch_size: int = Field(default=100, ge=1)  # events claimed per round
    # Events handled per write transaction while webhook commits wait for SQLite's single
    # writer; with nobody waiting, a transaction takes the whole claimed batch.
    worker_commit_batch: int = Field(default=2, ge=1)

    session_secret: SecretStr | None = None
    session_max_age_seconds: int = 12 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 900

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
