"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
RELAY_TEST_DATABASE_URL says so), migrated once per run and emptied before each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import Base
from service.structuring import pipeline
from service.structuring.classifier import Classifier
from service.structuring.training import load_corpus, train
from service.themes import known, matching

ADMIN_TOKEN = "rly_test_admin_token_0123456789"
WEBHOOK_SECRETS = {
    "zendesk": "zendesk-test-secret",
    "jira": "jira-test-secret",
    "intercom": "intercom-test-secret",
    "freshdesk": "freshdesk-test-token",
}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("RELAY_TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'relay-test.db'}"
    if url.startswith("postgresql"):
        _reset_postgres(url)
    migrate.upgrade(url)
    return url


def _reset_postgres(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    empty_all_tables(database)
    yield database
    database.dispose()


def empty_all_tables(database: Database) -> None:
    with database.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        zendesk_webhook_secret=WEBHOOK_SECRETS["zendesk"],
        jira_webhook_secret=WEBHOOK_SECRETS["jira"],
        intercom_client_secret=WEBHOOK_SECRETS["intercom"],
        freshdesk_webhook_token=WEBHOOK_SECRETS["freshdesk"],
        session_secret="test-session-secret",
        log_json=False,
        worker_poll_seconds=0.05,
        worker_backoff_base_seconds=0.05,
        digest_schedule="off",  # tests that want the scheduled digest turn it on
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session", autouse=True)
def classifier() -> Classifier:
    """Trained once per run on the shipped corpus and used by every test's pipeline."""
    model = train(load_corpus())
    pipeline.use_classifier(model)
    return model


@pytest.fixture(autouse=True)
def corpus_known_themes() -> Iterator[None]:
    """Each test ends with the known-themes model of the shipped corpus back in place (one
    that learned a test's placements must not recognise the next test's records)."""
    yield
    known.use(None)
    matching.forget()


@pytest.fixture
def app(db: Database, settings: Settings) -> FastAPI:
    # The session's classifier is already in use; training one per app would be slow.
    return create_app(settings, run_worker=False, load_model=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def drain(database: Database, settings: Settings, *, rounds: int = 50) -> int:
    """Run the worker until no event is due; the number of events it handled."""
    from service.worker.runner import Worker

    worker, total = Worker(database, settings), 0
    for _ in range(rounds):
        handled = worker.run_once()
        if not handled:
            return total
        total += handled
    raise AssertionError("the worker still had due events after many rounds")


@pytest.fixture
def run_worker(app: FastAPI, settings: Settings) -> Callable[[], int]:
    """Process every due event now, in the test's thread."""
    return lambda: drain(app.state.db, settings)
