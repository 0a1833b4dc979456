"""What every vendor edge hands to the service, and the outbound client protocols.

Each inbound vendor package (`integrations.<vendor>`) exposes a module-level object
satisfying `WebhookSource`; the service looks them up by name in `integrations.SOURCES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

AuthorRole = Literal["requester", "agent", "system", "unknown"]
TicketStatus = Literal["new", "open", "pending", "on_hold", "solved", "closed", "deleted"]
TicketPriority = Literal["low", "normal", "high", "urgent"]


class InvalidSignature(Exception):
    """The request is not authentic: bad, missing or stale signature or token."""


class UnparseablePayload(Exception):
    """The request is authentic but its body cannot be understood; it goes to quarantine."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Frozen):
    id: str | None = None
    name: str | None = None
    email: str | None = None


class MerchantRef(_Frozen):
    """The merchant behind a ticket: a helpdesk organization, or the requester's company."""

    id: str
    name: str | None = None


class TicketComment(_Frozen):
    id: str
    body: str
    public: bool
    author_role: AuthorRole = "unknown"
    author_name: str | None = None
    created_at: datetime | None = None


class JiraRef(_Frozen):
    """Jira-specific facts kept for escalation linking."""

    key: str
    issue_id: str | None = None
    status: str | None = None
    status_category: str | None = None  # "new" | "indeterminate" | "done"
    resolution: str | None = None
    fix_versions: tuple[str, ...] = ()
    issue_type: str | None = None
    labels: tuple[str, ...] = ()
    changed_fields: tuple[str, ...] = ()  # changelog field ids touched by this event


class NormalizedTicket(_Frozen):
    """One vendor event about one ticket, in neutral terms.

    Snapshot fields (subject, status, ...) describe the ticket as of `occurred_at`;
    None means "this event does not say". Comments are additive: an event carries
    the comments it adds (or all it knows of).
    """

    source: Literal["zendesk", "freshdesk", "intercom", "jira", "api"]
    external_id: str  # "<source>:<vendor id>", e.g. "zendesk:5158", "jira:KAN-22"
    external_url: str | None = None
    event_type: str  # vendor event name, e.g. "zen:event-type:ticket.created"
    occurred_at: datetime | None = None  # the source's timestamp for this event
    created_at: datetime | None = None  # when the ticket itself was created
    subject: str | None = None
    description: str | None = None
    comments: tuple[TicketComment, ...] = ()
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    tags: tuple[str, ...] | None = None
    merchant: MerchantRef | None = None
    requester: Person | None = None
    jira: JiraRef | None = None
    deleted: bool = False


class WebhookSource(Protocol):
    """An inbound vendor: verify on raw bytes, name the delivery, normalize the body."""

    name: str

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secret: str,
        *,
        now: datetime | None = None,
        tolerance_seconds: int = 300,
    ) -> None:
        """Raise InvalidSignature unless the request is authentic. Headers are lower-cased."""

    def delivery_key(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The vendor's identity for this delivery, the same across its retries."""

    def normalize(self, body: bytes, headers: Mapping[str, str]) -> NormalizedTicket | None:
        """The ticket event in neutral terms; None when the event is not about a ticket
        (e.g. Intercom `ping`, a Jira project event). Raise UnparseablePayload otherwise."""


# --------------------------------------------------------------------------- outbound clients
#
# Outbound vendor calls (Jira issues, helpdesk notes) go through these protocols, so the
# service never imports a vendor library and tests can point the real clients at fakes.
# Clients raise only the three exceptions below; the worker turns them into a retry,
# a retry at the vendor's stated time, or a quarantine.


class OutboundUnavailable(Exception):
    """The vendor could not be reached or failed (timeout, connection, 5xx): retry later."""


class OutboundRateLimited(OutboundUnavailable):
    """The vendor asked us to slow down (429); `retry_after` is its wait in seconds."""

    DEFAULT_WAIT = 60.0  # when the vendor says 429 but not how long

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @classmethod
    def from_header(cls, message: str, value: str | None) -> OutboundRateLimited:
        """From a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110)."""
        return cls(message, retry_after=_retry_after_seconds(value, cls.DEFAULT_WAIT))


def _retry_after_seconds(value: str | None, default: float) -> float:
    if value is None or not value.strip():
        return default
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class OutboundRejected(Exception):
    """The vendor refused the call (4xx other than 429): the same call cannot succeed."""


class TrackerIssue(_Frozen):
    """An issue in the engineering tracker, as far as Relay cares."""

    key: str
    url: str | None = None
    status: str | None = None
    status_category: str | None = None  # "new" | "indeterminate" | "done"


class NewIssue(_Frozen):
    """What Relay files: wiki-markup description, labels and components already mapped."""

    project: str
    summary: str
    description: str
    issue_type: str
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()


class IssueTracker(Protocol):
    """Outbound Jira: find Relay's issue by its label, file one, comment on one."""

    def find_by_label(self, *, project: str, label: str) -> TrackerIssue | None:
        """The oldest issue of `project` carrying `label`, if any."""

    def create_issue(self, issue: NewIssue) -> TrackerIssue:
        """File `issue`; the created issue's key and URL."""

    def add_comment(self, *, key: str, body: str) -> str:
        """Comment on issue `key`; the comment id."""

    def has_comment(self, *, key: str, marker: str) -> bool:
        """Whether issue `key` has a comment containing `marker`."""


class HelpdeskNotes(Protocol):
    """Outbound helpdesk: internal notes on tickets, findable again by a marker."""

    def has_note(self, *, ticket_id: str, marker: str) -> bool:
        """Whether the ticket already has a comment containing `marker`."""

    def add_internal_note(self, *, ticket_id: str, body: str) -> str | None:
        """Add a private note to ticket `ticket_id`; the comment id when the vendor says."""
