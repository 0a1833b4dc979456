"""The outbound tables created by the migration are exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.db import Database
from service.models import Base


def test_outbound_models_match_the_migration(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    # Other domains' tables are their migrations' business; ours must show no difference.
    assert [d for d in diffs if "outbound_" in repr(d)] == []
