"""JSON columns are written by orjson (`db.json_dumps`): what the standard library would
store reads back the same, and the values it could not store are written sensibly."""

from __future__ import annotations

import json
import math

import numpy as np
from sqlalchemy import select

from service.db import Database, json_dumps
from service.inbox.models import InboxEvent
from service.inbox.writer import NewEvent, store_events


def test_what_the_standard_library_stores_reads_back_the_same() -> None:
    value = {
        "text": 'quotes " and \\ backslashes, ñ, ₱, emoji 🙂, \u2028 and \x00',
        "numbers": [0, -1, 2**53, 0.1, 1e-7, 123456.789, 1e300],
        "nested": {"list": [{"a": None, "b": True, "c": False}], "empty": {}},
        "tuple": (1, 2),
    }
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


def test_integer_keys_become_strings_and_numpy_numbers_are_numbers() -> None:
    stored = json.loads(json_dumps({1: np.float64(0.25), "n": np.int64(7), "nan": math.nan}))
    assert stored == {"1": 0.25, "n": 7, "nan": None}  # NaN is not JSON: null


def test_a_json_column_round_trips_through_the_database(db: Database) -> None:
    hints = {"key_modes": ["live", "test"], "counts": {"2026-11-27": 3}, "ratio": 0.1}
    with db.session() as session:
        store_events(
            session,
            events=[
                NewEvent(source="test", delivery_key="json", task="t", payload="{}", hints=hints)
            ],
        )
    with db.session() as session:
        assert session.scalars(select(InboxEvent.hints)).one() == hints
