"""A record the model reads as a one-off ("no theme" at NO_THEME_BAR or above) joins a theme
by similarity only as close as the same question asked again (ONE_OFF_JOIN_THRESHOLD)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from service.db import Database
from service.feedback.models import Feedback
from service.themes import known, similarity
from service.themes import service as themes
from service.themes.models import Theme
from tests.themes.test_api import _log_in
from tests.themes.test_api import app as app  # the app with the themes pages
from tests.themes.test_clustering import SIGNATURE, SIGNATURE_AGAIN, add_record
from tests.themes.test_ruled_out import unsure_of

# SIGNATURE_AGAIN filed under another product area fits SIGNATURE's theme at about 0.46:
# above JOIN_THRESHOLD, below ONE_OFF_JOIN_THRESHOLD (checked in the test that uses it).
OTHER_AREA = "cards"


def _one_off(confidence: float) -> known.KnownMatch:
    return known.KnownMatch(known.NO_THEME, confidence, "webhook-signature-mismatch")


def test_only_no_theme_at_the_bar_reads_as_a_one_off() -> None:
    assert _one_off(known.NO_THEME_BAR).reads_as_one_off
    assert not _one_off(known.NO_THEME_BAR - 0.01).reads_as_one_off
    assert not known.KnownMatch("webhook-signature-mismatch", 0.99, known.NO_THEME).reads_as_one_off
    assert similarity.JOIN_THRESHOLD < similarity.ONE_OFF_JOIN_THRESHOLD


def _read_as(monkeypatch: pytest.MonkeyPatch, guess: known.KnownMatch) -> None:
    # SIGNATURE_AGAIN is not recognised and its best guess is `guess`.
    unsure_of(monkeypatch, SIGNATURE_AGAIN[0], guess)


def _reasons(session: Session, theme: Theme, record: Feedback) -> dict[str, object]:
    members = {f.id: m for m, f in themes.members(session, theme_id=theme.id)}
    return dict(members[record.id].reasons)


@pytest.mark.parametrize(
    ("confidence", "joins"), [(known.NO_THEME_BAR - 0.2, True), (known.NO_THEME_BAR + 0.1, False)]
)
def test_a_one_off_joins_only_a_theme_it_nearly_repeats(
    db: Database, monkeypatch: pytest.MonkeyPatch, confidence: float, joins: bool
) -> None:
    _read_as(monkeypatch, _one_off(confidence))
    with db.session() as session:
        first = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, SIGNATURE_AGAIN, merchant="m_2", area=OTHER_AREA)
        placed = themes.attach(session, record=record)
        assert first is not None and placed is not None
        assert (placed is first) is joins
        reasons = _reasons(session, placed, record)
        if joins:  # similar, not the same: a record not read as a one-off joins
            score = reasons["score"]
            assert isinstance(score, float)
            assert similarity.JOIN_THRESHOLD <= score < similarity.ONE_OFF_JOIN_THRESHOLD
            assert "no_theme_confidence" not in reasons
        else:
            assert placed.record_count == 1 and first.record_count == 1
            assert reasons["started_theme"] is True
            assert reasons["no_theme_confidence"] == round(confidence, 4)


def test_the_same_one_off_asked_again_groups(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _read_as(monkeypatch, _one_off(0.95))
    with db.session() as session:
        first = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        again = add_record(session, SIGNATURE_AGAIN, merchant="m_2")
        assert themes.attach(session, record=again) is first is not None
        reasons = _reasons(session, first, again)
        assert reasons["no_theme_confidence"] == 0.95
        score = reasons["score"]
        assert isinstance(score, float) and score >= similarity.ONE_OFF_JOIN_THRESHOLD


def test_a_member_read_as_a_one_off_moves_only_to_a_theme_it_nearly_repeats(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _read_as(monkeypatch, _one_off(0.95))
    with db.session() as session:
        signature = themes.attach(session, record=add_record(session, SIGNATURE))
        payout = ("Payout question", "When do payouts arrive?")
        record = add_record(session, payout, area=OTHER_AREA)
        record.subject = SIGNATURE_AGAIN[0]  # read as a one-off from here on
        alone = themes.attach(session, record=record)
        record.text = SIGNATURE_AGAIN[1]  # now like the signature theme, not the same
        assert themes.attach(session, record=record) is alone is not signature


def test_the_theme_page_says_a_record_reads_as_a_one_off(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    _read_as(monkeypatch, _one_off(0.91))
    with db.session() as session:
        themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, SIGNATURE_AGAIN, area=OTHER_AREA)
        placed = themes.attach(session, record=record)
        assert placed is not None
        theme_id = placed.id
    _log_in(client, db)
    page = client.get(f"/themes/{theme_id}")
    assert page.status_code == 200
    assert "Read as a one-off" in page.text and "(confidence 0.91)" in page.text


def _features(text: tuple[str, str], area: str) -> similarity.RecordFeatures:
    return similarity.featurize(
        subject=text[0],
        text=text[1],
        product_area=area,
        payment_method=None,
        category="misconfiguration",
    )


def test_the_evaluation_applies_the_same_rule() -> None:
    similar = [_features(SIGNATURE, "webhooks"), _features(SIGNATURE_AGAIN, OTHER_AREA)]
    same = [_features(SIGNATURE_AGAIN, OTHER_AREA)] * 2
    unsure = [_one_off(0.3), _one_off(known.NO_THEME_BAR - 0.01)]
    one_off = [_one_off(0.3), _one_off(known.NO_THEME_BAR)]
    assert themes.cluster_with_known(similar, [None, None], guesses=unsure) == [0, 0]
    assert themes.cluster_with_known(similar, [None, None], guesses=one_off) == [0, 1]
    assert themes.cluster_with_known(same, [None, None], guesses=one_off) == [0, 0]
