"""`db.new_row` builds objects without attribute events: what it builds is inserted with
every value, later changes to it are written, and a misspelt column is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from service.db import Database, new_row
from service.feedback.models import Feedback, Merchant

GIVEN = datetime(2026, 8, 1, 9, 30, tzinfo=UTC)  # not "now": a default would differ


def _values() -> dict[str, object]:
    return {
        "id": "fb_new_row",
        "source": "api",
        "external_id": "X-1",
        "subject": "GCash refund fails",
        "comments": [{"id": "c1", "body": "first"}],
        "tags": ["refund"],
        "field_versions": {"subject": "v1"},
        "created_at": GIVEN,
        "updated_at": GIVEN,
        "status": "new",
        "deleted": False,
    }


def test_a_new_row_is_inserted_with_its_values_and_later_changes(db: Database) -> None:
    with db.session() as session:
        record = new_row(Feedback, **_values())
        session.add(record)
        assert inspect(record).pending
        record.severity = "high"  # a change after building: through the attribute events
        record.tags = [*record.tags, "gcash"]
    with db.session() as session:
        stored = session.get(Feedback, "fb_new_row")
        assert stored is not None
        assert (stored.subject, stored.external_id, stored.status) == (
            "GCash refund fails",
            "X-1",
            "new",
        )
        assert stored.comments == [{"id": "c1", "body": "first"}]
        assert stored.field_versions == {"subject": "v1"}
        assert (stored.severity, stored.tags) == ("high", ["refund", "gcash"])
        assert stored.created_at == GIVEN


def test_a_new_row_with_a_relationship_is_written_after_what_it_names(db: Database) -> None:
    with db.session() as session:
        merchant = Merchant(id="m_new_row", name="Cove Resort")
        session.add(merchant)
        record = new_row(Feedback, **_values())
        record.merchant, record.merchant_id = merchant, merchant.id
        session.add(record)
    with db.session() as session:
        stored = session.get(Feedback, "fb_new_row")
        assert stored is not None and stored.merchant is not None
        assert stored.merchant.name == "Cove Resort"


def test_a_misspelt_column_is_refused_as_the_constructor_would() -> None:
    with pytest.raises(TypeError, match=r"Feedback has no columns \['subjet'\]"):
        new_row(Feedback, id="fb_x", subjet="typo")
