"""Fixtures for the vendor-edge tests: payload files and a fixed clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def payload() -> Callable[[str, str], bytes]:
    """Raw bytes of a fixture file, e.g. payload("real-payloads/jira", "issue_deleted.json")."""

    def read(folder: str, name: str) -> bytes:
        return (FIXTURES / folder / name).read_bytes()

    return read


@pytest.fixture
def edited() -> Callable[[bytes, Callable[[dict[str, Any]], None]], bytes]:
    """A JSON body re-serialized after `change` mutated it (for synthetic variants)."""

    def apply(body: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
        data = json.loads(body)
        change(data)
        return json.dumps(data).encode()

    return apply


@pytest.fixture
def now() -> datetime:
    """A fixed clock so freshness checks are deterministic."""
    return datetime(2025, 1, 8, 14, 25, 30, tzinfo=UTC)
