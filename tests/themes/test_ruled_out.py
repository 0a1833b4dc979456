"""A record the model does not recognise may join a known theme by similarity, but not one
the model ranks below the record's two most likely classes."""

from __future__ import annotations

import numpy as np
import pytest

from service.db import Database
from service.feedback.models import Feedback
from service.themes import known, similarity
from service.themes import service as themes
from tests.themes.test_clustering import SIGNATURE, SIGNATURE_AGAIN, add_record
from tests.themes.test_known_no_theme import QUESTION, REFUND, corpus, doc

SIGNATURE_KEY = "webhook-signature-mismatch"  # what the shipped model recognises SIGNATURE as


def unsure_of(monkeypatch: pytest.MonkeyPatch, subject: str, guess: known.KnownMatch) -> None:
    """The model does not recognise records with this subject and its best guess for them
    is `guess`; every other record is read by the real model."""
    real_recognise, real_guess = themes._recognise, themes._best_guess

    def recognise(record: Feedback) -> known.KnownMatch | None:
        return None if record.subject == subject else real_recognise(record)

    def best_guess(record: Feedback) -> known.KnownMatch:
        return guess if record.subject == subject else real_guess(record)

    monkeypatch.setattr(themes, "_recognise", recognise)
    monkeypatch.setattr(themes, "_best_guess", best_guess)


def _unsure(monkeypatch: pytest.MonkeyPatch, runner_up: str) -> None:
    # SIGNATURE_AGAIN is not recognised; the model's best guess for it is another problem,
    # with `runner_up` second.
    guess = known.KnownMatch("qrph-expiry-timer", 0.15, runner_up)
    unsure_of(monkeypatch, SIGNATURE_AGAIN[0], guess)


@pytest.mark.parametrize(("runner_up", "joins"), [(SIGNATURE_KEY, True), (known.NO_THEME, False)])
def test_an_unrecognised_record_joins_a_known_theme_only_if_the_model_finds_it_likely(
    db: Database, monkeypatch: pytest.MonkeyPatch, runner_up: str, joins: bool
) -> None:
    _unsure(monkeypatch, runner_up)
    with db.session() as session:
        webhook = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, SIGNATURE_AGAIN, merchant="m_2")
        placed = themes.attach(session, record=record)
        assert webhook is not None and webhook.known_key == SIGNATURE_KEY
        assert placed is not None and (placed is webhook) is joins
        members = {f.id: m for m, f in themes.members(session, theme_id=placed.id)}
        reasons = members[record.id].reasons
        if joins:
            assert "known_theme_ruled_out" not in reasons and reasons["similarity"] > 0
        else:  # it starts a theme of its own, not a known one, and says why
            assert placed.known_key is None and placed.record_count == 1
            assert reasons["started_theme"] is True
            assert reasons["known_theme_ruled_out"] == SIGNATURE_KEY
            assert reasons["ruled_out_score"] >= similarity.JOIN_THRESHOLD


def test_a_theme_the_model_does_not_know_is_never_ruled_out() -> None:
    model = known.KnownThemes.train(*corpus())
    best = model.best([doc(*REFUND, "new", area="refunds")])[0]
    assert best.key == "refund-stuck" and best.runner_up in model.keys
    assert model.rules_out(best, "payout-delay") is (best.runner_up != "payout-delay")
    assert not model.rules_out(best, "refund-stuck")
    assert not model.rules_out(best, "a-key-from-an-older-model")


def test_the_runner_up_is_the_second_most_probable_class() -> None:
    model = known.KnownThemes.train(*corpus())
    documents = [doc(*REFUND, "x"), doc(*QUESTION, "y"), doc(REFUND[0], QUESTION[0])]
    for match, row in zip(model.best(documents), model.probabilities(documents), strict=True):
        order = np.argsort(-row, kind="stable")
        assert (match.key, match.runner_up) == (model.keys[order[0]], model.keys[order[1]])
        assert match.likely == {match.key, match.runner_up}


def test_the_evaluation_applies_the_same_rule() -> None:
    text = themes.corpus_features(similarity.load_corpus()[:1])[0]
    recognised = [known.KnownMatch(SIGNATURE_KEY, 0.9), None]
    assert themes.cluster_with_known([text, text], recognised) == [0, 0]
    first = known.KnownMatch(SIGNATURE_KEY, 0.9)
    likely_it = [first, known.KnownMatch("qrph-expiry-timer", 0.2, SIGNATURE_KEY)]
    assert themes.cluster_with_known([text, text], recognised, guesses=likely_it) == [0, 0]
    unlikely = [first, known.KnownMatch("qrph-expiry-timer", 0.2, known.NO_THEME)]
    assert themes.cluster_with_known([text, text], recognised, guesses=unlikely) == [0, 1]
    # A theme formed by similarity (no known key) is never ruled out.
    assert themes.cluster_with_known([text, text], [None, None], guesses=unlikely) == [0, 0]
