"""Settings: the one place that reads the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    # Escalation (service/escalation): the Jira calls run in the worker, each bounded by
    # the timeout; an escalated issue gets a comment (not a new issue) each time its theme
    # gains another `escalation_comment_merchant_step` merchants or `..._record_step` records.
    jira_issue_type: str = "Bug"
    jira_use_components: bool = True  # components named after product areas must exist
    jira_timeout_seconds: float = Field(default=10.0, gt=0)
    escalation_comment_merchant_step: int = Field(default=5, ge=1)
    escalation_comment_record_step: int = Field(default=25, ge=1)

    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_timeout_seconds: float = Field(default=10.0, gt=0)

    # Worker: how often an idle worker looks for due events, how long a claim is
    # held before another worker may retake it, and when an event is parked.
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    # How often the worker looks at the clock for scheduled jobs (the Product digest).
    worker_schedule_seconds: float = Field(default=60.0, gt=0)
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_backoff_base_seconds: float = Field(default=2.0, gt=0)
    worker_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # Events claimed per round. With no webhook waiting, one write transaction takes them
    # all: the per-transaction work (themes' profiles written, rows looked up again)
    # is shared by more records (bench.classify: 500 handles ~15 % more per second than 100).
    worker_batch_size: int = Field(default=500, ge=1)
    # Events handled per write transaction while webhook commits wait for SQLite's single
    # writer; with nobody waiting, a transaction takes the whole claimed batch.
    worker_commit_batch: int = Field(default=2, ge=1)
    # The in-process worker's share of the interpreter while webhooks are arriving (see
    # worker.runner.Pacer); 1.0 turns pacing off. A separate `relay worker` is not paced.
    worker_busy_share: float = Field(default=0.1, gt=0, le=1.0)
    # `relay worker` forks a helper process per worker that prepares (normalizes,
    # classifies, computes theme features for) the next claim on another core while the
    # worker writes the current one (see worker.helper). Not used on a one-core machine,
    # nor by the worker inside `relay serve` (a process with threads must not fork).
    worker_prepare_process: bool = True

    # The Product digest the worker builds by itself: each Monday the week before ("week"),
    # on the 1st the month before ("month"), or never ("off": `relay digest` only).
    digest_schedule: Literal["week", "month", "off"] = "week"

    # Content library (`relay docs lint`): a document not reviewed for this long fails.
    content_max_age_days: int = Field(default=180, ge=1)

    # Outbound events (Standard Webhooks to subscribers). Private/loopback targets are
    # refused unless allowed (tests, a subscriber on the same host); a subscription is
    # disabled after `outbound_disable_after` consecutive failed attempts.
    outbound_allow_private: bool = False
    outbound_timeout_seconds: float = Field(default=10.0, gt=0)
    outbound_max_attempts: int = Field(default=8, ge=1)
    outbound_disable_after: int = Field(default=20, ge=1)
    outbound_concurrency: int = Field(default=8, ge=1)

    # FAQ entries (service/faq): which themes get one, when a reviewed entry ages out,
    # and where approved entries are published (Zendesk Help Center, same credentials as
    # the write-back above). The optional LLM rewrite is off unless a base URL is set.
    faq_min_merchants: int = Field(default=3, ge=1)
    faq_review_max_age_days: int = Field(default=180, ge=1)
    zendesk_help_center_section_id: int | None = None
    zendesk_help_center_locale: str = "en-us"
    zendesk_help_center_permission_group_id: int | None = None
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)

    # Solution briefs (service/briefs): PDFs render in a pool of child processes, each
    # render bounded in time and address space so that a runaway document costs one child,
    # not the worker. Keep the timeout under worker_lease_seconds.
    brief_render_processes: int = Field(default=2, ge=1)
    brief_render_timeout_seconds: float = Field(default=30.0, gt=0)
    brief_render_memory_mb: int = Field(default=2048, ge=256)
    brief_library_dir: Path | None = None  # the content library; None: the shipped briefs/

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
