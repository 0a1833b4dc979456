"""inbox due index ends with the id: a claim reads due events in index order and stops

The worker claims due events ordered by (next_attempt_at, id). With the id missing from
the index, SQLite fetched and sorted every due event to take the first batch, a scan of
the whole backlog per claim.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_inbox_events_due", table_name="inbox_events")
    op.create_index("ix_inbox_events_due", "inbox_events", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_due", table_name="inbox_events")
    op.create_index("ix_inbox_events_due", "inbox_events", ["status", "next_attempt_at"])
