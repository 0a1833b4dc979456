"""briefs

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import service.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "briefs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("merchant_name", sa.String(length=300), nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recommended_channel", sa.String(length=40), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("pdf_path", sa.String(length=500), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("sources", _json(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rendered_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_briefs_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefs")),
    )
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.create_index("ix_briefs_owner_created", ["owner_id", "created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_briefs_merchant_name"), ["merchant_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_briefs_request_hash"), ["request_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_briefs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_briefs_fingerprint"), ["fingerprint"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_briefs_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_briefs_status"))
        batch_op.drop_index(batch_op.f("ix_briefs_request_hash"))
        batch_op.drop_index(batch_op.f("ix_briefs_merchant_name"))
        batch_op.drop_index("ix_briefs_owner_created")
    op.drop_table("briefs")
