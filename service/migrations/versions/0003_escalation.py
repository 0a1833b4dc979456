"""escalation: escalations, jira links, engineering comments, helpdesk notes

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import service.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("jira_key", sa.String(length=40), nullable=True),
        sa.Column("jira_url", sa.String(length=1000), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_merchants", sa.Integer(), nullable=False),
        sa.Column("notified_records", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["themes.id"], name=op.f("fk_escalations_theme_id_themes")
        ),
        sa.PrimaryKeyConstraint("theme_id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("jira_key", name=op.f("uq_escalations_jira_key")),
    )

    op.create_table(
        "jira_links",
        sa.Column("jira_key", sa.String(length=40), nullable=False),
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=60), nullable=True),
        sa.Column("status_category", sa.String(length=20), nullable=True),
        sa.Column("resolution", sa.String(length=60), nullable=True),
        sa.Column("fix_versions", _json(), nullable=False),
        sa.Column("resolved_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("event_version", sa.String(length=120), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jira_key", name=op.f("pk_jira_links")),
    )
    with op.batch_alter_table("jira_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jira_links_theme_id"), ["theme_id"], unique=False)

    op.create_table(
        "engineering_comments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.Column("jira_key", sa.String(length=40), nullable=False),
        sa.Column("comment_id", sa.String(length=60), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engineering_comments")),
        sa.UniqueConstraint(
            "jira_key", "comment_id", name=op.f("uq_engineering_comments_jira_key_comment_id")
        ),
    )
    with op.batch_alter_table("engineering_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engineering_comments_theme_id"), ["theme_id"], unique=False
        )

    op.create_table(
        "helpdesk_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_key", sa.String(length=200), nullable=False),
        sa.Column("feedback_id", sa.String(length=40), nullable=False),
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.Column("ticket", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("jira_key", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("comment_id", sa.String(length=60), nullable=True),
        sa.Column("sent_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_notes")),
        sa.UniqueConstraint("job_key", name=op.f("uq_helpdesk_notes_job_key")),
    )
    with op.batch_alter_table("helpdesk_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_notes_feedback_id"), ["feedback_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_helpdesk_notes_theme_id"), ["theme_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_notes_theme_id"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_notes_feedback_id"))
    op.drop_table("helpdesk_notes")
    with op.batch_alter_table("engineering_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engineering_comments_theme_id"))
    op.drop_table("engineering_comments")
    with op.batch_alter_table("jira_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jira_links_theme_id"))
    op.drop_table("jira_links")
    op.drop_table("escalations")
