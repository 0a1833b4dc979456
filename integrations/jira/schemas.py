"""Pydantic shapes of Jira Cloud and Data Center webhook bodies (REST v2 representation)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from integrations.common import Id, Lenient, Text, Timestamp, TimestampMs


class JiraUser(Lenient):
    """Cloud users carry `accountId`; Server/DC users carry `name`/`key` instead."""

    account_id: Id = Field(default=None, alias="accountId")
    key: Id = None
    name: Text = None
    display_name: Text = Field(default=None, alias="displayName")
    email: Text = Field(default=None, alias="emailAddress")


class JiraNamed(Lenient):
    """Any `{id, name}` reference: priority, resolution, issue type, version."""

    id: Id = None
    name: Text = None


class JiraStatusCategory(Lenient):
    key: Text = None
    name: Text = None


class JiraStatus(Lenient):
    id: Id = None
    name: Text = None
    status_category: JiraStatusCategory | None = Field(default=None, alias="statusCategory")


class JiraVisibility(Lenient):
    type: Text = None
    value: Text = None


class JiraComment(Lenient):
    id: Id = None
    self_url: Text = Field(default=None, alias="self")
    # Strings in the REST v2 representation; ADF documents (dicts) are tolerated too.
    body: str | dict[str, Any] | None = None
    author: JiraUser | None = None
    created: Timestamp = None
    updated: Timestamp = None
    jsd_public: bool | None = Field(default=None, alias="jsdPublic")
    visibility: JiraVisibility | None = None


class JiraCommentPage(Lenient):
    comments: list[JiraComment] = Field(default_factory=list)


class JiraIssueFields(Lenient):
    summary: Text = None
    description: str | dict[str, Any] | None = None
    status: JiraStatus | None = None
    priority: JiraNamed | None = None
    resolution: JiraNamed | None = None
    issuetype: JiraNamed | None = None
    labels: list[str] | None = None
    fix_versions: list[JiraNamed] | None = Field(default=None, alias="fixVersions")
    reporter: JiraUser | None = None
    created: Timestamp = None
    updated: Timestamp = None
    comment: JiraCommentPage | None = None


class JiraIssue(Lenient):
    id: Id = None
    key: Id = None
    self_url: Text = Field(default=None, alias="self")
    fields: JiraIssueFields | None = None


class JiraChangeItem(Lenient):
    field: Text = None
    field_id: Text = Field(default=None, alias="fieldId")
    from_string: Text = Field(default=None, alias="fromString")
    to_string: Text = Field(default=None, alias="toString")


class JiraChangelog(Lenient):
    id: Id = None
    items: list[JiraChangeItem] = Field(default_factory=list)


class JiraWebhook(Lenient):
    webhook_event: str = Field(alias="webhookEvent")
    issue_event_type_name: Text = None
    timestamp: TimestampMs = None  # epoch milliseconds
    user: JiraUser | None = None
    issue: JiraIssue | None = None
    changelog: JiraChangelog | None = None
    comment: JiraComment | None = None
