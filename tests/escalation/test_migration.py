"""The 0003 migration creates exactly the escalation tables the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.db import Database
from service.escalation import models
from service.models import Base

TABLES = {
    models.Escalation.__tablename__,
    models.JiraLink.__tablename__,
    models.EngineeringComment.__tablename__,
    models.HelpdeskNote.__tablename__,
}


def _ours(diff: object) -> bool:
    """Whether one autogenerate difference touches an escalation table."""
    text = repr(diff)
    return any(f"'{table}'" in text or f"Table('{table}'" in text for table in TABLES)


def test_models_and_migration_agree(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if _ours(d)]
    assert differences == []
