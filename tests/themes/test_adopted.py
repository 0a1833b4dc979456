"""A known problem's first records, which the model was unsure of, may form its theme by
similarity before the first record it recognises: that record adopts the theme they
formed (it becomes the known problem's live theme) instead of starting a second one."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.db import Database
from service.themes import known, similarity
from service.themes import service as themes
from tests.themes.test_api import _log_in
from tests.themes.test_api import app as app  # the app with the themes pages
from tests.themes.test_clustering import QR_EXPIRY, SIGNATURE, SIGNATURE_AGAIN, add_record
from tests.themes.test_ruled_out import SIGNATURE_KEY, unsure_of


def _unsure_of(monkeypatch: pytest.MonkeyPatch, subject: str) -> None:
    # The model does not recognise records with this subject (its guess: the right problem,
    # too unsure); it recognises SIGNATURE as SIGNATURE_KEY.
    unsure_of(monkeypatch, subject, known.KnownMatch(SIGNATURE_KEY, 0.15, "qrph-expiry-timer"))


def test_the_first_recognised_record_adopts_the_theme_its_problem_formed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unsure_of(monkeypatch, SIGNATURE_AGAIN[0])
    with db.session() as session:
        formed = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        assert formed is not None and formed.known_key is None
        recognised = add_record(session, SIGNATURE, merchant="m_2")
        assert themes.attach(session, record=recognised) is formed
        assert formed.known_key == SIGNATURE_KEY and formed.record_count == 2
        reasons = {f.id: m for m, f in themes.members(session, theme_id=formed.id)}[
            recognised.id
        ].reasons
        assert reasons["known_theme_adopted"] is True
        assert reasons["known_theme"] == SIGNATURE_KEY
        assert reasons["score"] >= similarity.FORMING_THRESHOLD
        # From now on it is the known problem's theme: the next recognised record joins it.
        again = themes.attach(session, record=add_record(session, SIGNATURE, merchant="m_3"))
        assert again is formed and formed.record_count == 3


def test_a_formed_theme_that_does_not_fit_is_not_adopted(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unsure_of(monkeypatch, QR_EXPIRY[0])
    with db.session() as session:
        qr = themes.attach(session, record=add_record(session, QR_EXPIRY, area="qrph"))
        known_theme = themes.attach(session, record=add_record(session, SIGNATURE))
        assert qr is not None and known_theme is not None and known_theme is not qr
        assert qr.known_key is None and known_theme.known_key == SIGNATURE_KEY


def test_the_theme_page_says_the_theme_was_adopted(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    _unsure_of(monkeypatch, SIGNATURE_AGAIN[0])
    with db.session() as session:
        themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        theme = themes.attach(session, record=add_record(session, SIGNATURE, merchant="m_2"))
        assert theme is not None
        theme_id = theme.id
    _log_in(client, db)
    page = client.get(f"/themes/{theme_id}")
    assert page.status_code == 200
    assert "recognising this record made it the known problem's theme" in page.text
    assert f"Recognised as the known problem {SIGNATURE_KEY}" in page.text


def test_the_evaluation_applies_the_same_rule() -> None:
    text, other = themes.corpus_features(similarity.load_corpus()[:2])
    key = known.KnownMatch(SIGNATURE_KEY, 0.9)
    # An unrecognised record forms a theme; the first recognised one that fits adopts it.
    assert themes.cluster_with_known([text, text, text], [None, key, key]) == [0, 0, 0]
    # One that does not fit starts the known theme, which the next recognised record joins.
    assert themes.cluster_with_known([other, text, text], [None, key, key]) == [0, 1, 1]
