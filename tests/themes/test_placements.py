"""People's placements teach the known-themes recogniser: a record a person moved into a
known problem's theme is one more example of that problem the next time the model is
trained (at start, `relay model train`, `relay themes rebuild`)."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings, get_settings
from service.db import Database
from service.feedback import learning
from service.feedback.models import Feedback
from service.themes import known, matching
from service.themes import service as themes
from service.themes.cli import themes_app
from service.themes.models import Theme
from tests.feedback.test_learning import restore_classifier as restore_classifier
from tests.themes.test_api import _log_in
from tests.themes.test_api import app as app  # the app with the themes pages
from tests.themes.test_clustering import add_record

EXPORT_KEY = "dashboard-report-export"
EXPORT = (
    "Payments CSV export keeps timing out",
    "The June payments export from the dashboard (Payments > Export > CSV) spins for two "
    "minutes and then fails with a 504 gateway timeout. About 48,000 transactions are in "
    "range; a single week exports fine.",
)
# A question the shipped corpus has no example of: the model reads it as "no theme".
RECEIPTS = [
    (
        "Official receipts show the wrong TIN",
        "The official receipts PayMongo emails to our customers print our old TIN and an "
        "outdated business address. BIR auditors flagged it. Where do we update the TIN?",
    ),
    (
        "Receipt emails carry our old TIN",
        "Customer receipts still show the previous TIN after we updated our BIR "
        "registration. Can the receipt template take the new TIN?",
    ),
    (
        "Wrong TIN printed on customer receipts",
        "Our new TIN is not on the receipts customers get by email; the old one from before "
        "our BIR update is printed instead.",
    ),
]
RECEIPTS_AGAIN = (
    "TIN on payment receipts is outdated",
    "The emailed payment receipts keep showing our old tax identification number (TIN) even "
    "though our BIR documents were updated last month.",
)
AGENT = "agent@example.ph"


def _receipt(session: Session, text: tuple[str, str]) -> Feedback:
    return add_record(session, text, area="dashboard", category="how_to")


def _recognised(session: Session, text: tuple[str, str]) -> known.KnownMatch | None:
    return matching.matching(matching.MatchInput.of(_receipt(session, text))).recognised


def _export_theme(session: Session) -> Theme:
    theme = themes.attach(session, record=add_record(session, EXPORT, area="dashboard"))
    assert theme is not None and theme.known_key == EXPORT_KEY
    return theme


def _place_receipts(session: Session, theme: Theme) -> list[str]:
    ids = []
    for text in RECEIPTS:
        record = _receipt(session, text)
        themes.attach(session, record=record)
        themes.move(session, feedback_id=record.id, theme_id=theme.id, actor=AGENT)
        ids.append(record.id)
    return ids


def test_records_people_place_in_a_known_problem_teach_the_recogniser(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture, restore_classifier: None
) -> None:
    with db.session() as session:
        export = _export_theme(session)
        assert _recognised(session, RECEIPTS_AGAIN) is None  # the corpus has no such example
        _place_receipts(session, export)
        export_id = export.id

    with caplog.at_level(logging.INFO, logger="relay.learning"):
        learning.load_classifier(db, settings)  # as a process starts
    (loaded,) = [r for r in caplog.records if r.getMessage() == "classifier loaded"]
    assert loaded.known_theme_placements == 3

    with db.session() as session:
        recognised = _recognised(session, RECEIPTS_AGAIN)
        assert recognised is not None and recognised.key == EXPORT_KEY
        record = _receipt(session, RECEIPTS_AGAIN)
        theme = themes.attach(session, record=record)
        assert theme is not None and theme.id == export_id
        reasons = {f.id: m for m, f in themes.members(session, theme_id=export_id)}[
            record.id
        ].reasons
        assert reasons["known_theme"] == EXPORT_KEY and "pinned_by" not in reasons


def test_only_records_placed_by_hand_in_a_known_problems_theme_are_examples(
    db: Database,
) -> None:
    with db.session() as session:
        export = _export_theme(session)
        kept, split_off, deleted = _place_receipts(session, export)
        # Recognised by the model, not placed by a person: not an example.
        themes.attach(session, record=add_record(session, EXPORT, area="dashboard"))
        # Split off into a theme of no known problem: nothing to learn it as.
        receipts = themes.split(
            session, theme_id=export.id, feedback_ids=[split_off], title="TIN", actor=AGENT
        )
        assert receipts.known_key is None
        # A deleted record teaches nothing.
        record = session.get(Feedback, deleted)
        assert record is not None
        record.deleted = True
        session.flush()
        assert [(r.id, key) for r, key in themes.placements(session)] == [(kept, EXPORT_KEY)]


def test_a_merged_known_theme_hands_its_placements_to_the_theme_it_went_into(
    db: Database,
) -> None:
    with db.session() as session:
        export = _export_theme(session)
        placed = _place_receipts(session, export)
        target = themes.split(
            session, theme_id=export.id, feedback_ids=placed[:1], title="TIN", actor=AGENT
        )
        assert {r.id for r, _ in themes.placements(session)} == set(placed[1:])
        themes.merge(session, theme_ids=[export.id], into=target.id, actor=AGENT)
        session.flush()
        assert target.known_key == EXPORT_KEY
        assert {(r.id, key) for r, key in themes.placements(session)} == {
            (record_id, EXPORT_KEY) for record_id in placed
        }


def test_model_train_and_themes_rebuild_learn_the_placements(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, restore_classifier: None
) -> None:
    with db.session() as session:
        _place_receipts(session, _export_theme(session))
    monkeypatch.setenv("RELAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAY_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        trained = CliRunner().invoke(cli, ["model", "train"])
        assert trained.exit_code == 0, trained.output
        assert "known themes: trained with 3 placement(s) people made" in trained.output
        known.use(None)  # back to the corpus's model: the rebuild must learn them again
        with db.session() as session:
            assert _recognised(session, RECEIPTS_AGAIN) is None
        rebuilt = CliRunner().invoke(themes_app, ["rebuild"])
        assert rebuilt.exit_code == 0, rebuilt.output
        with db.session() as session:
            recognised = _recognised(session, RECEIPTS_AGAIN)
            assert recognised is not None and recognised.key == EXPORT_KEY
    finally:
        get_settings.cache_clear()


def test_the_theme_page_says_the_model_learns_from_a_placed_record(
    client: TestClient, db: Database, app: FastAPI
) -> None:
    with db.session() as session:
        export = _export_theme(session)
        placed = _place_receipts(session, export)
        export_id = export.id
    _log_in(client, db)
    page = client.get(f"/themes/{export_id}")
    assert page.status_code == 200
    lesson = f"The known-problem model learns from it as an example of {EXPORT_KEY}"
    assert page.text.count(lesson) == len(placed)  # the placed records, not the recognised one
    assert all(record_id in page.text for record_id in placed)
