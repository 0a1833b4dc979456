"""Themes: deterministic incremental matching, people's decisions through rebuild, impact."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import Database, new_id, utcnow
from service.errors import RelayError
from service.feedback.models import Feedback, Merchant
from service.themes import service as themes
from service.themes import similarity
from service.themes.models import Theme, ThemeDecision, ThemeMembership

_counter = itertools.count()

SIGNATURE = (
    "Webhook signature mismatch on every event",
    "We compute HMAC SHA256 of the raw body with our whsk secret and compare it to the "
    "te= value in the Paymongo-Signature header. It never matches, so our handler rejects "
    "every webhook event with 401 signature invalid.",
)
SIGNATURE_AGAIN = (
    "Paymongo-Signature header never matches our HMAC",
    "Our Express handler verifies the Paymongo-Signature header: HMAC SHA256 over the raw "
    "body using the webhook secret, compared with te= and li=. Every webhook event fails "
    "the signature check.",
)
QR_EXPIRY = (
    "QR Ph code expires before customers pay",
    "Our QR Ph codes expire after 30 minutes while customers are still queueing at the "
    "counter. Can expiry_seconds be longer? The QR expired screen confuses everyone.",
)


def add_record(
    session: Session,
    text: tuple[str, str],
    *,
    merchant: str = "m_1",
    tpv: int | None = 1_000_000,
    area: str = "webhooks",
    category: str = "misconfiguration",
    codes: tuple[str, ...] = (),
    when: datetime | None = None,
    severity: str = "medium",
) -> Feedback:
    """A structured record (as the feedback pipeline leaves it), not yet in a theme."""
    if session.get(Merchant, merchant) is None:
        session.add(Merchant(id=merchant, name=f"Merchant {merchant}", monthly_tpv_php=tpv))
    record = Feedback(
        id=new_id("fb"),
        source="api",
        external_id=f"api:{next(_counter)}",
        subject=text[0],
        description=text[1],
        text=text[1],
        merchant_id=merchant,
        merchant_name=None,
        product_area=area,
        category=category,
        severity=severity,
        error_codes=list(codes),
        http_statuses=[],
        created_at=utcnow(),
        updated_at=utcnow(),
        source_created_at=when or utcnow(),
        comments=[],
        tags=[],
        jira_keys=[],
    )
    session.add(record)
    session.flush()
    return record


def test_features_and_corpus_clustering_are_deterministic() -> None:
    one = themes.corpus_features(similarity.load_corpus())
    two = themes.corpus_features(similarity.load_corpus())
    assert [f.vector for f in one] == [f.vector for f in two]
    assert similarity.cluster(one) == similarity.cluster(two)


def test_pairwise_counts_pairs_of_labelled_records() -> None:
    truth: list[str | None] = ["a", "a", "a", "b", None]
    assert similarity.pairwise(truth, [1, 1, 1, 2, 3]) == (1.0, 1.0)
    precision, recall = similarity.pairwise(truth, [1, 1, 2, 2, 2])
    assert (precision, recall) == (pytest.approx(1 / 4), pytest.approx(1 / 3))


def test_similar_records_share_a_theme_and_others_start_one(db: Database) -> None:
    with db.session() as session:
        first = add_record(session, SIGNATURE)
        theme = themes.attach(session, record=first)
        second = add_record(session, SIGNATURE_AGAIN, merchant="m_2")
        other = add_record(session, QR_EXPIRY, area="qrph", category="how_to")
        assert theme is not None
        assert themes.attach(session, record=second) is theme
        assert themes.attach(session, record=other) is not theme
        membership = session.get(ThemeMembership, second.id)
        assert membership is not None and membership.reasons["similarity"] > 0.2
        assert membership.reasons["product_area_match"] is True
        assert second.theme_id == theme.id and theme.record_count == 2


def test_reattaching_an_unchanged_record_writes_nothing(db: Database) -> None:
    with db.session() as session:
        record = add_record(session, SIGNATURE)
        theme = themes.attach(session, record=record)
        assert theme is not None
        version = theme.version
        assert themes.attach(session, record=record) is theme
        assert theme.version == version


def test_an_updated_record_moves_when_another_theme_fits_much_better(db: Database) -> None:
    with db.session() as session:
        for merchant in ("m_1", "m_2"):
            themes.attach(session, record=add_record(session, SIGNATURE, merchant=merchant))
        qr = themes.attach(session, record=add_record(session, QR_EXPIRY, area="qrph"))
        record = add_record(session, SIGNATURE_AGAIN, merchant="m_3")
        webhook = themes.attach(session, record=record)
        assert qr is not None and webhook is not None and webhook is not qr
        record.subject, record.text, record.product_area = QR_EXPIRY[0], QR_EXPIRY[1], "qrph"
        assert themes.attach(session, record=record) is qr
        assert webhook.record_count == 2 and qr.record_count == 2


def test_a_pinned_record_stays_when_it_changes(db: Database) -> None:
    with db.session() as session:
        webhook = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, QR_EXPIRY, area="qrph")
        themes.attach(session, record=record)
        assert webhook is not None
        themes.move(session, feedback_id=record.id, theme_id=webhook.id, actor="user:ana")
        record.subject = "QR Ph codes expire too fast, again"
        assert themes.attach(session, record=record) is webhook
        membership = session.get(ThemeMembership, record.id)
        assert membership is not None and membership.pinned


def test_a_theme_id_set_by_a_feedback_correction_counts_as_a_move(db: Database) -> None:
    with db.session() as session:
        webhook = themes.attach(session, record=add_record(session, SIGNATURE))
        record = add_record(session, QR_EXPIRY, area="qrph")
        themes.attach(session, record=record)
        assert webhook is not None
        record.theme_id = webhook.id  # what PATCH /api/v1/feedback/{id} does
        assert themes.attach(session, record=record) is webhook
        membership = session.get(ThemeMembership, record.id)
        assert membership is not None and membership.pinned


def test_deleted_records_leave_their_theme(db: Database) -> None:
    with db.session() as session:
        record = add_record(session, SIGNATURE)
        theme = themes.attach(session, record=record)
        record.deleted = True
        assert themes.attach(session, record=record) is None
        assert theme is not None and theme.record_count == 0


def _three_themes(session: Session) -> tuple[Theme, Theme, list[Feedback]]:
    records = [add_record(session, SIGNATURE, merchant=m) for m in ("m_1", "m_2")]
    records.append(add_record(session, QR_EXPIRY, area="qrph", merchant="m_3"))
    placed = [themes.attach(session, record=r) for r in records]
    assert placed[0] is placed[1] and placed[2] is not placed[0]
    assert placed[0] is not None and placed[2] is not None
    return placed[0], placed[2], records


def test_merge_persists_through_rebuild(db: Database) -> None:
    with db.session() as session:
        webhook, qr, _ = _three_themes(session)
        themes.rename(session, theme_id=webhook.id, title="Webhook troubles", actor="user:ana")
        themes.merge(session, theme_ids=[qr.id], into=webhook.id, actor="user:ana")
    with db.session() as session:
        report = themes.rebuild(session)
        assert report.records == 3
    with db.session() as session:
        target = themes.get(session, theme_id=webhook.id)
        assert target.record_count == 3 and target.title == "Webhook troubles"
        assert themes.get(session, theme_id=qr.id).merged_into == webhook.id
        live = themes.list_themes(session, filters=themes.ThemeFilters(), limit=10)
        assert [t.id for t in live] == [webhook.id]


def test_split_and_move_persist_through_rebuild(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Similarity alone: with known themes the unpinned record goes to its known theme
    # (test_known.py covers that).
    monkeypatch.setattr(themes, "KNOWN_THEMES", False)
    with db.session() as session:
        webhook, _qr, records = _three_themes(session)
        split = themes.split(
            session,
            theme_id=webhook.id,
            feedback_ids=[records[1].id],
            title="Express only",
            actor="user:ana",
        )
        themes.move(session, feedback_id=records[2].id, theme_id=webhook.id, actor="user:ana")
        split_id = split.id
    with db.session() as session:
        themes.rebuild(session)
    with db.session() as session:
        first, split_off, moved = _memberships(session, records)
        assert (split_off.theme_id, split_off.pinned) == (split_id, True)
        assert (moved.theme_id, moved.pinned) == (webhook.id, True)
        # Not pinned: it goes where its text fits, with the record it resembles.
        assert (first.theme_id, first.pinned) == (split_id, False)
        assert themes.get(session, theme_id=split_id).title == "Express only"
        kinds = session.scalars(select(ThemeDecision.kind).order_by(ThemeDecision.id)).all()
        assert kinds == ["split", "move"]


def test_rebuild_keeps_theme_identity_and_is_repeatable(db: Database) -> None:
    with db.session() as session:
        webhook, qr, records = _three_themes(session)
        themes.set_status(session, theme_id=webhook.id, status="investigating", reason="Jira")
    for _ in range(2):
        with db.session() as session:
            themes.rebuild(session)
        with db.session() as session:
            assert [m.theme_id for m in _memberships(session, records)] == [
                webhook.id,
                webhook.id,
                qr.id,
            ]
            assert themes.get(session, theme_id=webhook.id).status == "investigating"


def _memberships(session: Session, records: list[Feedback]) -> list[ThemeMembership]:
    found = [session.get(ThemeMembership, r.id) for r in records]
    assert all(m is not None for m in found)
    return [m for m in found if m is not None]


def test_split_refuses_records_outside_the_theme(db: Database) -> None:
    with db.session() as session:
        webhook, _qr, records = _three_themes(session)
        with pytest.raises(RelayError):
            themes.split(
                session,
                theme_id=webhook.id,
                feedback_ids=[records[2].id],
                title="x",
                actor="user:ana",
            )


def test_impact_counts_each_merchant_once_and_sums_distinct_tpv(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        days = [1, 2, 3, 9]  # three records this week, one the week before
        merchants = [("m_1", 5_000_000), ("m_1", 5_000_000), ("m_2", 20_000_000), ("m_3", None)]
        placed = {
            themes.attach(
                session,
                record=add_record(
                    session,
                    SIGNATURE,
                    merchant=m,
                    tpv=tpv,
                    when=now - timedelta(days=d),
                    severity="critical" if d == 1 else "medium",
                ),
            )
            for (m, tpv), d in zip(merchants, days, strict=True)
        }
        assert len(placed) == 1
        theme = placed.pop()
        assert theme is not None
        themes.recompute_impact(session, theme=theme, now=now)
        assert (theme.record_count, theme.merchant_count) == (4, 3)
        assert theme.tpv_at_risk_php == 25_000_000
        assert (theme.last_7d, theme.previous_7d, theme.trend) == (3, 1, 2.0)
        assert theme.first_seen is not None and theme.last_seen is not None
        assert (theme.last_seen - theme.first_seen).days == 8
        assert theme.max_severity == "critical" and theme.rank_score == themes.rank(theme)


def test_rank_orders_by_merchants_tpv_severity_and_trend() -> None:
    base = {"trend": 0.0, "status": "new", "record_count": 3, "max_severity": "low"}
    small = Theme(merchant_count=1, tpv_at_risk_php=1_000_000, **base)
    wide = Theme(merchant_count=7, tpv_at_risk_php=1_000_000, **base)
    rich = Theme(merchant_count=1, tpv_at_risk_php=1_000_000_000, **base)
    fixed = Theme(merchant_count=7, tpv_at_risk_php=1_000_000, **{**base, "status": "fixed"})
    assert themes.rank(wide) > themes.rank(small) and themes.rank(rich) > themes.rank(small)
    assert themes.rank(fixed) < themes.rank(wide)


def test_suggested_fix_follows_the_category() -> None:
    cases = {
        "docs_gap": "docs",
        "how_to": "docs",
        "misconfiguration": "merchant_config",
        "bug": "product",
        "incident": "product",
    }
    for category, fix_type in cases.items():
        theme = Theme(category=category, title="t", merchant_count=1, error_codes=[])
        assert themes.suggest_fix(theme)[0].value == fix_type
    friction = Theme(
        category="friction", product_area="dashboard", title="t", error_codes=[], merchant_count=1
    )
    assert themes.suggest_fix(friction)[0].value == "tooling"


def test_the_stored_fix_suggestion_follows_the_category_written_with_the_profile(
    db: Database,
) -> None:
    # The dominant category is written when the session flushes; the suggestion must be
    # made from it then, not from whatever the theme held at the record's join (the worker
    # attaches without autoflush, so nothing is written in between).
    with db.session() as session:
        record = add_record(session, SIGNATURE, category="misconfiguration")
        with session.no_autoflush:
            theme = themes.attach(session, record=record)
        assert theme is not None
        theme_id = theme.id
    with db.session() as session:
        stored = session.get(Theme, theme_id)
        assert stored is not None and stored.category == "misconfiguration"
        assert stored.fix_suggested == themes.suggest_fix(stored)[1]
        assert "setup checklist" in stored.fix_suggested


def test_trend_and_weekly_counts_follow_the_clock(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        theme = themes.attach(session, record=add_record(session, SIGNATURE, when=now))
        session.flush()  # the trend is derived when the session flushes
        assert theme is not None
        assert (theme.last_7d, theme.previous_7d) == (1, 0)
        assert themes.weekly_counts(theme, weeks=3, now=now) == [0, 0, 1]
        later = now + timedelta(days=8)
        assert themes.weekly_counts(theme, weeks=3, now=later) == [0, 1, 0]
        themes.refresh_impact(session, now=later)
        assert (theme.last_7d, theme.previous_7d, theme.trend) == (0, 1, -1.0)


def test_a_record_whose_day_moves_keeps_the_daily_counts_exact(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        records = [
            add_record(session, SIGNATURE, merchant=f"m_{n}", when=now - timedelta(days=n))
            for n in range(3)
        ]
        for record in records:
            themes.attach(session, record=record)
        theme = session.get(Theme, records[0].theme_id)
        assert theme is not None and theme.record_count == 3
        # A later event says the ticket was raised two days earlier, and its severity rose.
        records[0].source_created_at = now - timedelta(days=2)
        records[0].severity = "high"
        themes.attach(session, record=records[0])
        incremental = dict(theme.daily_counts)
        assert theme.max_severity == "high"
        themes.recompute_impact(session, theme=theme)  # a full recount, for comparison
        assert incremental == theme.daily_counts
        assert sum(incremental.values()) == 3


@pytest.mark.parametrize(
    ("member", "days_earlier", "severity"),
    [(1, 0, "critical"), (1, 5, "medium"), (0, 1, "low"), (2, -1, "high"), (0, 0, "low")],
)
def test_figures_adjusted_for_one_changed_member_equal_a_full_recount(
    db: Database, member: int, days_earlier: int, severity: str
) -> None:
    now = utcnow()
    with db.session() as session:
        records = [
            add_record(
                session,
                SIGNATURE,
                merchant=f"m_{n}",
                when=now - timedelta(days=n),
                severity=("medium", "high", "medium")[n],
            )
            for n in range(3)
        ]
        for record in records:
            themes.attach(session, record=record)
        theme = session.get(Theme, records[0].theme_id)
        assert theme is not None and theme.record_count == 3
        changed = records[member]
        changed.source_created_at = changed.source_created_at - timedelta(days=days_earlier)
        changed.severity = severity
        themes.attach(session, record=changed)
        figures = ("max_severity", "first_seen", "last_seen", "daily_counts", "record_count")
        adjusted = {name: getattr(theme, name) for name in figures}
        themes.recompute_impact(session, theme=theme)
        assert adjusted == {name: getattr(theme, name) for name in figures}


def _maya(code: str, subject: str) -> similarity.RecordFeatures:
    return similarity.featurize(
        subject=subject,
        text=f"Customers paying with Maya see the payment fail with {code}.",
        product_area="ewallets",
        payment_method="paymaya",
        category="how_to",
        error_codes=[code],
    )


def test_provider_codes_of_one_family_count_as_shared_and_say_so() -> None:
    # PY0105 and PY0119 are both Maya provider failures in the catalogue: one kind of problem.
    assert similarity.code_keys("PY0105") == ("PY0105", "provider:ewallets:paymaya")
    assert similarity.code_keys("parameter_invalid") == ("parameter_invalid",)
    profile = similarity.Profile()
    profile.add(_maya("PY0105", "What is PY0105?"))
    match = similarity.score(_maya("PY0119", "PY0119 on Maya"), "th_1", profile)
    assert match.shared_codes == ()
    assert match.reasons()["shared_code_families"] == ["provider:ewallets:paymaya"]
    without_family = similarity.fit(_maya("PY0119", "PY0119 on Maya"), similarity.Profile())
    assert match.score - without_family >= similarity.W_CODES


def test_profiles_stored_before_families_derive_them_from_their_codes() -> None:
    profile = similarity.Profile.from_json({"count": 1, "codes": {"PY0105": 1}}, {})
    assert profile.families == {"PY0105": 1, "provider:ewallets:paymaya": 1}


def test_one_transaction_counts_each_merchant_once_before_anything_is_flushed(
    db: Database,
) -> None:
    """The worker's way: memberships stay unflushed until commit, merchants already counted
    come from one preload query or from this transaction, never from a row per record."""
    with db.session() as session:
        first = add_record(session, SIGNATURE, merchant="m_1", tpv=5_000_000)
        theme = themes.attach(session, record=first)
        assert theme is not None
        theme_id = theme.id
    with db.session() as session:
        batch = [
            add_record(session, SIGNATURE_AGAIN, merchant="m_1", tpv=5_000_000),
            add_record(session, SIGNATURE, merchant="m_2", tpv=20_000_000),
            add_record(session, SIGNATURE_AGAIN, merchant="m_2", tpv=20_000_000),
            add_record(session, SIGNATURE, merchant="m_3", tpv=1_000_000),  # not preloaded
        ]
        themes.preload(session, feedback_ids=[r.id for r in batch], merchant_ids=["m_1", "m_2"])
        with session.no_autoflush:
            placed = {themes.attach(session, record=record) for record in batch}
        assert {t.id for t in placed if t is not None} == {theme_id}
        theme = session.get(Theme, theme_id)
        assert theme is not None
        incremental = (theme.record_count, theme.merchant_count, theme.tpv_at_risk_php)
        assert incremental == (5, 3, 26_000_000)
        themes.recompute_impact(session, theme=theme)
        assert (theme.record_count, theme.merchant_count, theme.tpv_at_risk_php) == incremental


def test_a_sync_in_mid_transaction_keeps_the_members_it_added(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache looks for other processes' changes while a worker transaction has not
    flushed its own: the themes it changed must not be re-read from the older rows."""
    monkeypatch.setattr(themes, "SYNC_EVERY", timedelta(0))  # look every time
    with db.session() as session:
        theme = themes.attach(session, record=add_record(session, SIGNATURE))
        assert theme is not None
        theme_id = theme.id
    with db.session() as session:
        records = [add_record(session, t) for t in (SIGNATURE_AGAIN, SIGNATURE, SIGNATURE_AGAIN)]
        with session.no_autoflush:  # as in a worker transaction: one flush, at commit
            for record in records:
                joined = themes.attach(session, record=record)
                assert joined is not None and joined.id == theme_id
    with db.session() as session:
        stored = session.get(Theme, theme_id)
        assert stored is not None
        assert stored.record_count == 4
        assert stored.signature["count"] == 4
        cache = themes._cache(session)
        assert cache.index.profiles[theme_id].count == 4
