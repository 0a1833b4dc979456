"""themes: known_key (the known theme a theme stands for)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("known_key", sa.String(length=120), nullable=True))
    op.create_index(
        "uq_themes_known_key_live",
        "themes",
        ["known_key"],
        unique=True,
        sqlite_where=sa.text("merged_into IS NULL"),
        postgresql_where=sa.text("merged_into IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_themes_known_key_live", table_name="themes")
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.drop_column("known_key")
