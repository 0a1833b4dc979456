"""Jira issue and comment events in neutral terms, with the JiraRef used for escalation links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.common import (
    load_json_object,
    lookup,
    non_blank,
    parse_model,
    unique,
)
from integrations.contracts import (
    JiraRef,
    NormalizedTicket,
    Person,
    TicketComment,
    TicketPriority,
    TicketStatus,
    UnparseablePayload,
)
from integrations.jira.schemas import (
    JiraComment,
    JiraIssue,
    JiraIssueFields,
    JiraUser,
    JiraWebhook,
)

SOURCE = "jira"
ISSUE_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
COMMENT_EVENTS = frozenset({"comment_created", "comment_updated", "comment_deleted"})
DELETED_EVENT = "jira:issue_deleted"
COMMENT_DELETED_EVENT = "comment_deleted"

# The status category is the workflow-independent signal; names vary per project.
STATUS_CATEGORIES: Mapping[str, TicketStatus] = {
    "new": "new",
    "indeterminate": "open",
    "done": "solved",
}
# Only for old Server payloads whose status has no statusCategory (e.g. "Open" in 2013 captures).
STATUS_NAMES: Mapping[str, TicketStatus] = {
    "open": "open",
    "reopened": "open",
    "in_progress": "open",
    "in_review": "open",
    "to_do": "new",
    "backlog": "new",
    "selected_for_development": "new",
    "done": "solved",
    "resolved": "solved",
    "closed": "closed",
}
# Both the current scheme (Highest..Lowest) and the legacy one (Blocker..Trivial, where
# Major was the default, hence "normal").
PRIORITIES: Mapping[str, TicketPriority] = {
    "highest": "urgent",
    "blocker": "urgent",
    "high": "high",
    "critical": "high",
    "medium": "normal",
    "major": "normal",
    "low": "low",
    "lowest": "low",
    "minor": "low",
    "trivial": "low",
}


def normalize(body: bytes, headers: Mapping[str, str]) -> NormalizedTicket | None:
    """The issue or comment event in neutral terms; None for project, sprint, version... events."""
    data = load_json_object(body)
    event = data.get("webhookEvent")
    if not isinstance(event, str) or not event.strip():
        # Every Jira webhook names its event. A body without one (e.g. the synthetic
        # `{"accountId", "username"}` capture) is neither a ticket event nor a known
        # non-ticket event, so it is quarantined rather than silently dropped.
        raise UnparseablePayload("no webhookEvent: not a recognizable Jira webhook body")
    if event not in ISSUE_EVENTS and event not in COMMENT_EVENTS:
        return None
    hook = parse_model(JiraWebhook, data)
    issue = hook.issue
    if issue is None or not issue.key:
        raise UnparseablePayload(_missing_issue_reason(hook))
    return _ticket(hook, issue, issue.key)


def _missing_issue_reason(hook: JiraWebhook) -> str:
    """Why the event has no `jira:<KEY>`; names the issue id when the comment URL has it."""
    url = hook.comment.self_url if hook.comment else None
    match = re.search(r"/issue/(\d+)/comment/", url or "")
    if match:
        # The numeric id is not the key that names the ticket everywhere else; using it would
        # split one issue into two records, so keep the hint for whoever replays it.
        return f"{hook.webhook_event} has no issue key (comment URL names issue id {match[1]})"
    return f"{hook.webhook_event} has no issue key"


def _ticket(hook: JiraWebhook, issue: JiraIssue, key: str) -> NormalizedTicket:
    fields = issue.fields or JiraIssueFields()
    deleted = hook.webhook_event == DELETED_EVENT
    return NormalizedTicket(
        source=SOURCE,
        external_id=f"{SOURCE}:{key}",
        external_url=_browse_url(issue.self_url, key),
        event_type=hook.webhook_event,
        occurred_at=hook.timestamp or fields.updated,
        created_at=fields.created,
        subject=non_blank(fields.summary),
        description=non_blank(_text(fields.description)),
        comments=_comments(hook, fields),
        status="deleted" if deleted else _status(fields),
        priority=lookup(fields.priority.name if fields.priority else None, PRIORITIES),
        tags=tuple(fields.labels) if fields.labels is not None else None,
        requester=_person(fields.reporter),
        jira=_jira_ref(hook, issue, key, fields),
        deleted=deleted,
    )


def _status(fields: JiraIssueFields) -> TicketStatus | None:
    status = fields.status
    if status is None:
        return None
    category = status.status_category.key if status.status_category else None
    return lookup(category, STATUS_CATEGORIES) or lookup(status.name, STATUS_NAMES)


def _jira_ref(hook: JiraWebhook, issue: JiraIssue, key: str, fields: JiraIssueFields) -> JiraRef:
    status = fields.status
    items = hook.changelog.items if hook.changelog else []
    return JiraRef(
        key=key,
        issue_id=issue.id,
        status=status.name if status else None,
        status_category=(status.status_category.key if status and status.status_category else None),
        resolution=fields.resolution.name if fields.resolution else None,
        fix_versions=tuple(v.name for v in fields.fix_versions or [] if v.name),
        issue_type=fields.issuetype.name if fields.issuetype else None,
        labels=tuple(fields.labels or ()),
        # fieldId is stable ("status"); `field` is a display name that may be capitalised.
        changed_fields=unique(
            name.lower() for item in items if (name := item.field_id or item.field)
        ),
    )


def _comments(hook: JiraWebhook, fields: JiraIssueFields) -> tuple[TicketComment, ...]:
    """The issue's embedded comments plus the event's own comment (not for a deletion)."""
    known: list[JiraComment] = list(fields.comment.comments) if fields.comment else []
    if hook.comment is not None and hook.webhook_event != COMMENT_DELETED_EVENT:
        known.append(hook.comment)
    converted = (_comment(comment) for comment in known)
    by_id = {comment.id: comment for comment in converted if comment is not None}
    return tuple(by_id.values())


def _comment(comment: JiraComment) -> TicketComment | None:
    text = non_blank(_text(comment.body))
    if not comment.id or text is None:
        return None
    return TicketComment(
        id=comment.id,
        body=text,
        public=_comment_is_public(comment),
        # Jira is the engineering side of an escalation: whoever comments there is staff.
        author_role="agent",
        author_name=comment.author.display_name if comment.author else None,
        created_at=comment.created,
    )


def _comment_is_public(comment: JiraComment) -> bool:
    """Service-management comments say so (`jsdPublic`); a visibility restriction means private."""
    if comment.jsd_public is not None:
        return comment.jsd_public
    return comment.visibility is None


def _person(user: JiraUser | None) -> Person | None:
    if user is None:
        return None
    return Person(
        id=user.account_id or user.key or user.name,
        name=user.display_name,
        email=non_blank(user.email),
    )


def _browse_url(self_url: str | None, key: str) -> str | None:
    """`https://site/rest/api/2/issue/10000` → `https://site/browse/KEY` (keeps DC context path)."""
    match = re.match(r"(https?://.+?)/rest/api/", self_url or "")
    return f"{match[1]}/browse/{key}" if match else None


_ADF_BLOCKS = frozenset({"paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule"})


def _text(value: str | dict[str, Any] | None) -> str | None:
    """Plain text of a REST v2 string (as is) or an ADF document (its text nodes)."""
    if value is None or isinstance(value, str):
        return value
    return _adf_text(value).strip()


def _adf_text(node: Any) -> str:
    if isinstance(node, list):
        return "".join(_adf_text(child) for child in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    inner = _adf_text(node.get("content") or [])
    return inner + "\n" if kind in _ADF_BLOCKS else inner
