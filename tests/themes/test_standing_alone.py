"""A record the model reads as a one-off ("no theme" at NO_THEME_BAR or above) joins no
theme by similarity: it starts one of its own, and says why."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.db import Database
from service.feedback.models import Feedback
from service.themes import known, similarity
from service.themes import service as themes
from tests.themes.test_api import _log_in
from tests.themes.test_api import app as app  # the app with the themes pages
from tests.themes.test_clustering import SIGNATURE, SIGNATURE_AGAIN, add_record


def _one_off(confidence: float) -> known.KnownMatch:
    return known.KnownMatch(known.NO_THEME, confidence, "webhook-signature-mismatch")


def test_only_no_theme_at_the_bar_stands_alone() -> None:
    assert _one_off(known.NO_THEME_BAR).stands_alone
    assert not _one_off(known.NO_THEME_BAR - 0.01).stands_alone
    assert not known.KnownMatch("webhook-signature-mismatch", 0.99, known.NO_THEME).stands_alone


def _read_as(monkeypatch: pytest.MonkeyPatch, guess: known.KnownMatch) -> None:
    # Nothing is recognised; SIGNATURE_AGAIN's best guess is `guess`, SIGNATURE's the model's.
    real_guess = themes._best_guess

    def best_guess(record: Feedback) -> known.KnownMatch:
        return guess if record.subject == SIGNATURE_AGAIN[0] else real_guess(record)

    monkeypatch.setattr(themes, "_recognise", lambda record: None)
    monkeypatch.setattr(themes, "_best_guess", best_guess)


@pytest.mark.parametrize(
    ("confidence", "joins"), [(known.NO_THEME_BAR - 0.2, True), (known.NO_THEME_BAR + 0.1, False)]
)
def test_a_record_read_as_a_one_off_starts_its_own_theme(
    db: Database, monkeypatch: pytest.MonkeyPatch, confidence: float, joins: bool
) -> None:
    _read_as(monkeypatch, _one_off(confidence))
    with db.session() as session:
        first = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, SIGNATURE_AGAIN, merchant="m_2")
        placed = themes.attach(session, record=record)
        assert first is not None and placed is not None
        assert (placed is first) is joins
        reasons = {f.id: m for m, f in themes.members(session, theme_id=placed.id)}[
            record.id
        ].reasons
        if joins:  # the two texts are alike: similarity alone would join them
            assert reasons["similarity"] >= similarity.JOIN_THRESHOLD
            assert "no_theme_confidence" not in reasons
        else:
            assert placed.record_count == 1 and first.record_count == 1
            assert reasons["started_theme"] is True
            assert reasons["no_theme_confidence"] == round(confidence, 4)


def test_a_member_read_as_a_one_off_does_not_move_by_similarity(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _read_as(monkeypatch, _one_off(0.95))
    with db.session() as session:
        signature = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, ("Payout question", "When do payouts arrive?"))
        record.subject = SIGNATURE_AGAIN[0]  # now reads as a one-off
        alone = themes.attach(session, record=record)
        record.text = SIGNATURE_AGAIN[1]  # its text now matches the signature theme
        assert themes.attach(session, record=record) is alone is not signature


def test_the_theme_page_says_why_a_record_stands_alone(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    _read_as(monkeypatch, _one_off(0.91))
    with db.session() as session:
        themes.attach(session, record=add_record(session, SIGNATURE))
        placed = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        assert placed is not None
        theme_id = placed.id
    _log_in(client, db)
    page = client.get(f"/themes/{theme_id}")
    assert page.status_code == 200
    assert "Read as a one-off" in page.text and "(confidence 0.91)" in page.text


def test_the_evaluation_applies_the_same_rule() -> None:
    text = themes.corpus_features(similarity.load_corpus()[:1])[0]
    unsure = [_one_off(0.3), _one_off(known.NO_THEME_BAR - 0.01)]
    assert themes.cluster_with_known([text, text], [None, None], guesses=unsure) == [0, 0]
    alone = [_one_off(0.3), _one_off(known.NO_THEME_BAR)]
    assert themes.cluster_with_known([text, text], [None, None], guesses=alone) == [0, 1]
