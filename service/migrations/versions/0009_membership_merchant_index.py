"""theme memberships by merchant: a worker batch reads which themes count its merchants

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_theme_memberships_by_merchant",
        "theme_memberships",
        ["merchant_id", "theme_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_theme_memberships_by_merchant", table_name="theme_memberships")
