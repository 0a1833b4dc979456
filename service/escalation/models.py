"""Tables of the escalation domain: Relay's Jira issue per theme, every Jira issue linked to a
theme with its engineering status, the engineers' comments, and the helpdesk notes sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class EscalationState:
    QUEUED = "queued"  # asked for; the worker has not filed the issue yet
    CREATED = "created"  # the issue exists (created, or found after a timed-out attempt)


class Escalation(Base):
    """Relay's one Jira issue for a theme (asked for once; later asks return the same)."""

    __tablename__ = "escalations"

    theme_id: Mapped[str] = mapped_column(ForeignKey("themes.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default=EscalationState.QUEUED)
    jira_key: Mapped[str | None] = mapped_column(String(40), nullable=True, unique=True)
    jira_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The theme's size when Engineering last heard about it: the growth comments count from here.
    notified_merchants: Mapped[int] = mapped_column(Integer, default=0)
    notified_records: Mapped[int] = mapped_column(Integer, default=0)


class JiraLink(Base):
    """A Jira issue tied to a theme (Relay's own, or one that mentions the theme or a ticket),
    with the engineering state its newest webhook reported."""

    __tablename__ = "jira_links"

    jira_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    theme_id: Mapped[str] = mapped_column(String(40), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # relay | mention
    status: Mapped[str | None] = mapped_column(String(60), nullable=True)
    status_category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(60), nullable=True)
    fix_versions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Ordering key of the newest event applied ("<iso time>|<delivery id>"): older news
    # arriving late never overwrites newer state.
    event_version: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EngineeringComment(Base):
    """An engineer's comment on a linked Jira issue: the theme's engineering timeline."""

    __tablename__ = "engineering_comments"
    __table_args__ = (UniqueConstraint("jira_key", "comment_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    theme_id: Mapped[str] = mapped_column(String(40), index=True)
    jira_key: Mapped[str] = mapped_column(String(40))
    comment_id: Mapped[str] = mapped_column(String(60))
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")  # redacted
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HelpdeskNote(Base):
    """An internal note Relay put on a helpdesk ticket (one per ticket, theme and status)."""

    __tablename__ = "helpdesk_notes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_key: Mapped[str] = mapped_column(String(200), unique=True)
    feedback_id: Mapped[str] = mapped_column(String(40), index=True)
    theme_id: Mapped[str] = mapped_column(String(40), index=True)
    ticket: Mapped[str] = mapped_column(String(200))  # the record's external id, e.g. zendesk:5158
    status: Mapped[str] = mapped_column(String(20))  # the theme status the note announces
    jira_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    comment_id: Mapped[str | None] = mapped_column(String(60), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
