"""A recognised record joins a theme already forming by similarity when that fits it better
than its known theme's records: the known-themes model can only name problems it was
taught, so a new problem's records are taken for the nearest known one."""

from __future__ import annotations

import pytest

from service.db import Database
from service.feedback.models import Feedback
from service.themes import known, similarity
from service.themes import service as themes
from tests.themes.test_clustering import QR_EXPIRY, SIGNATURE, SIGNATURE_AGAIN, add_record

TAKEN_FOR = known.KnownMatch("refund-stuck", 0.9)  # a known problem none of the texts is about


@pytest.fixture(autouse=True)
def signature_not_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGNATURE is not recognised (it starts a theme by similarity); every other text is
    # "recognised" as an unrelated known theme, as a new problem's records are.
    def recognise(record: Feedback) -> known.KnownMatch | None:
        return None if record.subject == SIGNATURE[0] else TAKEN_FOR

    monkeypatch.setattr(themes, "_recognise", recognise)


def test_a_recognised_record_joins_the_theme_forming_by_similarity(db: Database) -> None:
    with db.session() as session:
        taken = themes.attach(session, record=add_record(session, QR_EXPIRY, area="qrph"))
        forming = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, SIGNATURE_AGAIN, merchant="m_2")
        joined = themes.attach(session, record=record)
        assert taken is not None and taken.known_key == TAKEN_FOR.key
        assert forming is not None and joined is forming and forming.known_key is None
        members = {f.id: m for m, f in themes.members(session, theme_id=forming.id)}
        assert members[record.id].reasons["known_theme_set_aside"] == TAKEN_FOR.key
        assert members[record.id].score >= similarity.FORMING_THRESHOLD


def test_a_forming_theme_below_the_bar_leaves_the_record_to_its_known_theme(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(similarity, "FORMING_THRESHOLD", 9.0)
    with db.session() as session:
        taken = themes.attach(session, record=add_record(session, QR_EXPIRY, area="qrph"))
        themes.attach(session, record=add_record(session, SIGNATURE))
        joined = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        assert taken is not None and joined is taken


def test_a_known_theme_fitting_best_keeps_its_recognised_record(db: Database) -> None:
    with db.session() as session:
        taken = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        themes.attach(session, record=add_record(session, QR_EXPIRY, area="qrph"))
        joined = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        assert taken is not None and joined is taken


def test_a_known_theme_without_records_yet_adopts_the_forming_theme(db: Database) -> None:
    # The forming theme becomes the known theme's live one (`test_adopted`).
    with db.session() as session:
        forming = themes.attach(session, record=add_record(session, SIGNATURE))
        joined = themes.attach(session, record=add_record(session, SIGNATURE_AGAIN))
        assert joined is not None and joined is forming
        assert joined.known_key == TAKEN_FOR.key


def test_the_evaluation_applies_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    features = themes.corpus_features(similarity.load_corpus()[:2])
    other, text = features[1], features[0]  # the same text fits its own theme fully
    sequence, recognised = [other, text, text], [TAKEN_FOR, None, TAKEN_FOR]
    assert themes.cluster_with_known(sequence, recognised) == [0, 1, 1]
    assert themes.cluster_with_known(sequence[1:], recognised[1:]) == [0, 0]  # adopted
    monkeypatch.setattr(similarity, "FORMING_THRESHOLD", 9.0)
    assert themes.cluster_with_known(sequence, recognised) == [0, 1, 0]


def test_may_fit_judges_only_the_candidates_not_skipped() -> None:
    features = themes.corpus_features(similarity.load_corpus()[:2])
    text, other = features[0], features[1]
    index = similarity.ThemeIndex()
    for theme_id, member in (("known", text), ("forming", other)):
        profile = similarity.Profile()
        profile.add(member)
        index.put(theme_id, profile)
    own_fit = similarity.score(text, "known", index.profiles["known"]).score
    assert own_fit >= similarity.FORMING_THRESHOLD  # the same text fits its own theme fully
    forming_fit = similarity.score(text, "forming", index.profiles["forming"]).score
    assert forming_fit < similarity.FORMING_THRESHOLD
    assert index.may_fit(text, similarity.FORMING_THRESHOLD, skip=set())
    assert not index.may_fit(text, similarity.FORMING_THRESHOLD, skip={"known"})
    # Judged at the forming theme's own fit, it may fit when it is a candidate at all.
    reachable = "forming" in index.candidates(text)
    assert index.may_fit(text, forming_fit, skip={"known"}) is reachable
    assert not index.may_fit(text, 0.0, skip={"known", "forming"})  # no candidate left
