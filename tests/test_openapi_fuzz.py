"""Schemathesis against Relay's own OpenAPI document: no input makes any operation answer 5xx.

Every operation gets a bounded number of generated requests (valid and invalid), sent
with the admin token through the ASGI app against the test database. A 503 with Relay's
error envelope is deliberate (a dependency such as Jira is not configured); a 500 never is.

The schema is loaded at import (schemathesis's `from_fixture` does not work with pytest 9),
from an app whose settings and lifespan are set per test by the `fuzzed_app` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.config import Settings
from service.db import Database

EXAMPLES_PER_OPERATION = 10

APP = create_app(Settings(_env_file=None), run_worker=False, load_model=False)  # type: ignore[call-arg]
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def fuzzed_app(db: Database, settings: Settings) -> Iterator[FastAPI]:
    """APP on the test database, its lifespan (database, inbox writer) running."""
    APP.state.settings = settings
    with TestClient(APP):
        yield APP


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_causes_a_server_error(
    case: Any, fuzzed_app: FastAPI, admin_headers: dict[str, str]
) -> None:
    response = case.call(headers=admin_headers)
    if response.status_code == 503:
        # CONTRACT.md: 503 when a dependency is not configured or storage is down.
        assert _deliberate(response), _answered(case, response)
        return
    assert response.status_code < 500, _answered(case, response)
    case.validate_response(response, checks=[not_a_server_error], headers=admin_headers)


def _answered(case: Any, response: Any) -> str:
    return f"{case.method} {case.path} answered {response.status_code}: {response.content[:300]!r}"


def _deliberate(response: Any) -> bool:
    """A 503 Relay chose to give (an error envelope with a code), not a crash."""
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and isinstance(error.get("code"), str)
