"""The outbound clients, built once per configuration and process (the worker's)."""

from __future__ import annotations

from functools import lru_cache

from integrations.contracts import HelpdeskNotes, IssueTracker
from integrations.jira.client import JiraTracker
from integrations.zendesk.client import ZendeskNotes
from service.config import Settings
from service.escalation import service, writeback
from service.worker.registry import PermanentFailure


def tracker(settings: Settings) -> IssueTracker:
    """The Jira client for these settings; a PermanentFailure when Jira is not configured."""
    if not service.jira_configured(settings):
        raise PermanentFailure("Jira is not configured (RELAY_JIRA_*): replay once it is")
    assert settings.jira_url and settings.jira_email and settings.jira_api_token
    return _tracker(
        settings.jira_url,
        settings.jira_email,
        settings.jira_api_token.get_secret_value(),
        settings.jira_timeout_seconds,
    )


def notes(settings: Settings) -> HelpdeskNotes:
    """The Zendesk client for these settings; a PermanentFailure when it is not configured."""
    if not writeback.zendesk_configured(settings):
        raise PermanentFailure("Zendesk is not configured (RELAY_ZENDESK_*): replay once it is")
    assert settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token
    return _notes(
        settings.zendesk_url,
        settings.zendesk_email,
        settings.zendesk_api_token.get_secret_value(),
        settings.zendesk_timeout_seconds,
    )


# Keyed by the configuration: a changed setting (or a test's fake server) gets its own client.
@lru_cache(maxsize=8)
def _tracker(url: str, email: str, token: str, timeout: float) -> JiraTracker:
    return JiraTracker(url=url, email=email, api_token=token, timeout=timeout)


@lru_cache(maxsize=8)
def _notes(url: str, email: str, token: str, timeout: float) -> ZendeskNotes:
    return ZendeskNotes(url=url, email=email, api_token=token, timeout=timeout)
