"""Outbound Jira (the `IssueTracker` protocol) with the `jira` library, REST v2 wiki markup.

Every call is blocking and bounded by `timeout`; the library's own retries (which sleep)
are switched off, because retries belong to the worker, which backs off without holding
anything. Errors become the contract's Outbound* exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from jira import JIRA, JIRAError

from integrations.contracts import (
    NewIssue,
    OutboundRateLimited,
    OutboundRejected,
    OutboundUnavailable,
    TrackerIssue,
)


class JiraTracker:
    """An `IssueTracker` on one Jira site; the connection is made on first use."""

    def __init__(
        self,
        *,
        url: str,
        email: str,
        api_token: str,
        timeout: float,
        factory: Callable[..., Any] = JIRA,
    ) -> None:
        self.url = url.rstrip("/")
        self._auth = (email, api_token)
        self._timeout = timeout
        self._factory = factory
        self._client: Any = None

    def find_by_label(self, *, project: str, label: str) -> TrackerIssue | None:
        jql = f"project = {_quoted(project)} AND labels = {_quoted(label)} ORDER BY created ASC"
        with translated_errors():
            found = self._jira().search_issues(
                jql, maxResults=1, fields=["status", "labels"], validate_query=True
            )
        return self._issue(found[0]) if found else None

    def create_issue(self, issue: NewIssue) -> TrackerIssue:
        fields: dict[str, Any] = {
            "project": {"key": issue.project},
            "summary": issue.summary,
            "description": issue.description,
            "issuetype": {"name": issue.issue_type},
            "labels": list(issue.labels),
        }
        if issue.components:
            fields["components"] = [{"name": name} for name in issue.components]
        with translated_errors():
            # prefetch=False: the key is all we need, and one call less can time out.
            created = self._jira().create_issue(fields=fields, prefetch=False)
        return TrackerIssue(key=str(created.key), url=self.browse_url(str(created.key)))

    def add_comment(self, *, key: str, body: str) -> str:
        with translated_errors():
            comment = self._jira().add_comment(key, body)
        return str(comment.id)

    def has_comment(self, *, key: str, marker: str) -> bool:
        with translated_errors():
            # Newest first: Relay's marker is on a recent comment.
            comments = self._jira().comments(key, max_results=100, order_by="-created")
        return any(marker in str(getattr(c, "body", "") or "") for c in comments)

    def browse_url(self, key: str) -> str:
        return f"{self.url}/browse/{key}"

    def _jira(self) -> Any:
        if self._client is None:
            with translated_errors():
                # Constructing the client asks for serverInfo (Cloud or Server decides
                # which search endpoint the library uses).
                self._client = self._factory(
                    server=self.url,
                    basic_auth=self._auth,
                    timeout=self._timeout,
                    max_retries=0,
                    get_server_info=True,
                    logging=False,
                )
        return self._client

    def _issue(self, raw: Any) -> TrackerIssue:
        status = getattr(raw.fields, "status", None)
        category = getattr(status, "statusCategory", None)
        return TrackerIssue(
            key=str(raw.key),
            url=self.browse_url(str(raw.key)),
            status=getattr(status, "name", None),
            status_category=getattr(category, "key", None),
        )


def _quoted(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn `jira`/`requests` failures into OutboundUnavailable / RateLimited / Rejected."""
    try:
        yield
    except JIRAError as exc:
        raise _from_status(exc.status_code, exc.response, str(exc.text or exc)) from exc
    except requests.RequestException as exc:
        raise OutboundUnavailable(f"Jira unreachable: {type(exc).__name__}: {exc}") from exc


def _from_status(status: int | None, response: Any, text: str) -> Exception:
    if status == 429:
        headers = getattr(response, "headers", None) or {}
        return OutboundRateLimited.from_header(
            f"Jira rate limit: {text}", headers.get("Retry-After")
        )
    if status is None or status >= 500 or status in (408, 409):
        return OutboundUnavailable(f"Jira failed ({status}): {text}")
    return OutboundRejected(f"Jira refused the call ({status}): {text}")
