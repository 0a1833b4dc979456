"""Themes: attach records incrementally, keep impact figures, apply people's decisions.

`attach` runs after each record is structured. It scores the record against the themes
that share its strongest features or codes (similarity.ThemeIndex, cached per process and
refreshed by `Theme.version`), joins the best one or starts a theme, and refreshes that
theme's impact. People's decisions (move, split, merge, rename) are logged and survive
`rebuild`: moved and split-off records are pinned, merges and renames are re-applied.

Rank (what Product sorts by), see `rank`:

    rank_score = (log2(1 + merchants) + log10(1 + TPV at risk / PHP 1M)
                  + severity weight + 0.5 * trend clamped to [-1, 2]) * status weight

so doubling the merchants affected adds 1, ten times the TPV adds 1, a critical record
adds 2 (high 1, medium 0.5), a theme that doubled this week adds 0.5, and fixed or
won't-fix themes keep a quarter of their score.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Engine,
    and_,
    case,
    delete,
    distinct,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session, SessionTransaction, undefer

from service.db import chunked, forget_session_caches, new_id, new_row, session_cache, utcnow
from service.errors import Conflict, InvalidRequest, NotFound
from service.feedback.models import Feedback, Merchant
from service.outbound import service as outbound
from service.themes import known, matching, similarity
from service.themes.models import FixType, Theme, ThemeDecision, ThemeMembership, ThemeStatus
from service.themes.similarity import Match, Profile, RecordFeatures

log = logging.getLogger("relay.themes")

SEVERITY_LEVEL = {"low": 0, "medium": 1, "high": 2, "critical": 3}
SEVERITY_WEIGHT = {"low": 0.0, "medium": 0.5, "high": 1.0, "critical": 2.0}
DONE_STATUSES = (ThemeStatus.FIXED.value, ThemeStatus.WONT_FIX.value)
SUGGESTED_FIX = {
    "docs_gap": FixType.DOCS,
    "how_to": FixType.DOCS,
    "misconfiguration": FixType.MERCHANT_CONFIG,
    "bug": FixType.PRODUCT,
    "incident": FixType.PRODUCT,
    "feature_request": FixType.PRODUCT,
}
DAYS_KEPT = 12 * 7 + 14  # daily counts kept: a 12-week sparkline plus this fortnight's trend
SYNC_MARGIN = timedelta(seconds=10)  # other processes' commits may land a little late
FULL_RELOAD = timedelta(minutes=10)  # ...and a late one older than the margin is caught here
SYNC_EVERY = timedelta(seconds=1)  # how stale other processes' theme changes may be here
# Recognise records as the known themes of the labelled corpus before similarity (known.py).
KNOWN_THEMES = True


class ThemeNotFound(NotFound):
    code = "theme_not_found"


class ThemeMerged(Conflict):
    code = "theme_merged"


class InvalidThemeChange(InvalidRequest):
    code = "invalid_theme_change"


# ---------------------------------------------------------------- the per-process cache


@dataclass
class _Cache:
    """Profiles of live themes for one database, refreshed from `Theme.version`."""

    index: similarity.ThemeIndex = field(default_factory=similarity.ThemeIndex)
    versions: dict[str, int] = field(default_factory=dict)
    watermark: datetime | None = None
    loaded_at: datetime | None = None
    dirty: set[str] = field(default_factory=set)
    synced_at: datetime | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def forget(self) -> None:
        """Drop everything: the next use reloads from the database."""
        self.index, self.versions, self.dirty = similarity.ThemeIndex(), {}, set()
        self.watermark = self.loaded_at = self.synced_at = None

    def store(self, theme_id: str, version: int, profile: Profile | None) -> None:
        """Remember one theme's profile (None: the theme takes no new records)."""
        self.versions[theme_id] = version
        self.index.put(theme_id, profile or Profile())


_CACHES: WeakKeyDictionary[Engine, _Cache] = WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(session: Session) -> _Cache:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = _Cache()
    return cache


def _touched(session: Session, cache: _Cache, theme_id: str) -> None:
    # The cache runs ahead of the database; if this transaction does not commit, the
    # themes it changed are re-read at the next use.
    cache_and_ids = session.info.setdefault("themes_touched", (cache, set()))
    cache_and_ids[1].add(theme_id)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop("themes_touched", None)
    session_cache(session, "themes").clear()  # rows now: read again (`_find`) if used again


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    touched = session.info.pop("themes_touched", None) if transaction.parent is None else None
    if touched is not None:
        cache, theme_ids = touched
        with cache.lock:
            cache.dirty |= theme_ids


def _sync(session: Session, cache: _Cache) -> None:
    now = utcnow()
    if cache.loaded_at is None or now - cache.loaded_at > FULL_RELOAD:
        cache.forget()
        cache.loaded_at = now
    elif not cache.dirty and cache.synced_at and now - cache.synced_at < SYNC_EVERY:
        return  # this process's own changes are in the cache already; others' can wait
    cache.synced_at = now
    # This transaction's own changes are in the cache already and must read as current:
    # written first (once a second at most, as the worker otherwise flushes at commit).
    session.flush()
    query = select(Theme.id, Theme.version, Theme.updated_at)
    if cache.watermark is not None:
        query = query.where(Theme.updated_at >= cache.watermark - SYNC_MARGIN)
    rows = session.execute(query).all()
    stale = {row.id for row in rows if cache.versions.get(row.id) != row.version} | cache.dirty
    _reload(session, cache, sorted(stale))
    if rows:
        newest = max(row.updated_at for row in rows)
        cache.watermark = max(newest, cache.watermark or newest)


def _reload(session: Session, cache: _Cache, theme_ids: list[str]) -> None:
    for theme_id in theme_ids:
        cache.index.discard(theme_id)
        cache.versions.pop(theme_id, None)
    cache.dirty.clear()
    for chunk in chunked(theme_ids):
        query = select(Theme).where(Theme.id.in_(chunk))
        for theme in session.scalars(
            query.options(undefer(Theme.signature), undefer(Theme.centroid))
        ):
            cache.store(theme.id, theme.version, _stored_profile(theme))


def _stored_profile(theme: Theme) -> Profile | None:
    if theme.merged_into is not None:
        return None
    return Profile.from_json(theme.signature or {}, theme.centroid or {})


def _profile(cache: _Cache, theme: Theme) -> Profile:
    cached = cache.index.profiles.get(theme.id)
    if cached is not None and cache.versions.get(theme.id) == theme.version:
        return cached
    return Profile.from_json(theme.signature or {}, theme.centroid or {})


def _save_profile(session: Session, cache: _Cache, theme: Theme, profile: Profile) -> None:
    theme.version = (theme.version or 0) + 1
    theme.updated_at = utcnow()
    cache.store(theme.id, theme.version, profile if theme.merged_into is None else None)
    _touched(session, cache, theme.id)
    # Written when the session flushes: a busy theme gains many records per transaction,
    # and its profile is serialized once instead of once per record.
    session_cache(session, "unsaved_profiles")[theme.id] = (theme, profile)


@event.listens_for(Session, "before_flush")
def _write_profiles(session: Session, _context: Any, _instances: Any) -> None:
    unsaved = session_cache(session, "unsaved_profiles")
    underived = session_cache(session, "underived_themes")
    now = utcnow()
    for theme, profile in unsaved.values():
        theme.signature = profile.to_json()
        theme.centroid = profile.centroid_json()
        theme.product_area = profile.dominant("areas")
        theme.payment_method = profile.dominant("methods")
        theme.category = profile.dominant("categories")
        theme.error_codes = [code for code, _ in similarity.most_common(profile.codes, 20)]
        underived[theme.id] = theme  # the suggested fix reads the fields just written
    for theme in underived.values():  # and the counts the joins moved (`_count_in`)
        _derive(theme, now)
    unsaved.clear()
    underived.clear()


# ---------------------------------------------------------------- features of a record


def record_features(record: Feedback) -> RecordFeatures:
    """The matching features of a stored record (prepared ahead by the worker, or now)."""
    return matching.matching(matching.MatchInput.of(record)).features


_IMPACT_FIELDS = ("merchant_id", "severity", "seen")


def _fields_json(features: RecordFeatures, record: Feedback) -> dict[str, Any]:
    return {
        "merchant_id": record.merchant_id,
        "severity": record.severity,
        "seen": _seen(record).isoformat(),
        "product_area": features.product_area,
        "payment_method": features.payment_method,
        "category": features.category,
        "error_codes": sorted(features.error_codes),
        "http_statuses": sorted(features.http_statuses),
        "terms": list(features.terms),
    }


def _stored_features(membership: ThemeMembership) -> RecordFeatures:
    fields = dict(membership.fields or {})
    return similarity.features_from_json(
        membership.vector or {},
        terms=tuple(fields.get("terms", ())),
        product_area=fields.get("product_area", "other"),
        payment_method=fields.get("payment_method"),
        category=fields.get("category", "how_to"),
        error_codes=frozenset(fields.get("error_codes", ())),
        http_statuses=frozenset(fields.get("http_statuses", ())),
    )


# ---------------------------------------------------------------- attach


def attach(session: Session, *, record: Feedback) -> Theme | None:
    """Put a structured record in its theme (or a new one); None for a deleted record.

    The theme's counts move at once; its trend, weekly rate, rank and suggested fix are
    derived from them when the session flushes (once per theme for a batch of records)."""
    cache = _cache(session)
    with cache.lock:
        _sync(session, cache)
        membership = _membership(session, record.id, stored=not inspect(record).pending)
        if record.deleted:
            _leave(session, cache, membership, impact=True)
            record.theme_id, record.theme_score = None, None
            return None
        if record.theme_id and _person_moved(session, record, membership):
            return move(
                session,
                feedback_id=record.id,
                theme_id=record.theme_id,
                actor="feedback correction",
            )
        return _place(session, cache, record, membership, record_features(record))


def _person_moved(session: Session, record: Feedback, membership: ThemeMembership | None) -> bool:
    # PATCH /feedback/{id} with theme_id sets the record's theme directly: honour it as a move
    # (into a theme that exists and takes records; anything else is overwritten).
    if record.theme_id is None or (
        membership is not None and membership.theme_id == record.theme_id
    ):
        return False
    target = _find(session, record.theme_id)
    return target is not None and target.merged_into is None


def _place(
    session: Session,
    cache: _Cache,
    record: Feedback,
    membership: ThemeMembership | None,
    features: RecordFeatures,
) -> Theme:
    if membership is None:
        return _join_best(session, cache, record, features)
    current = _theme(session, membership.theme_id)
    if membership.pinned or _unchanged(membership, features, record):
        return _refresh(session, cache, record, membership, current, features)
    fit = similarity.score(features, current.id, _without(cache, current, membership))
    recognised = _recognise(record)
    if recognised is not None and recognised.key == current.known_key:
        _refresh(session, cache, record, membership, current, features, fit)
        membership.reasons = {**fit.reasons(), **recognised.reasons()}
        return current
    if recognised is not None:  # its new text is another known problem
        _leave(session, cache, membership, impact=True)
        return _join_recognised(session, cache, record, features, recognised)
    one_off = _one_off(record)
    bar = _join_bar(one_off)
    found = _best_live(session, cache, features, exclude=[current.id], threshold=bar).joined()
    if found is None or not _moves(found[0], fit) or _ruled_out(record, found[1]):
        return _refresh(session, cache, record, membership, current, features, fit)
    _leave(session, cache, membership, impact=True)
    match, theme = found
    return _join(session, cache, record, features, theme, match, reasons=_why(match, one_off))


def _moves(better: Match, current: Match) -> bool:
    return better.score >= current.score + similarity.MOVE_MARGIN


def _join_best(
    session: Session, cache: _Cache, record: Feedback, features: RecordFeatures
) -> Theme:
    recognised = _recognise(record)
    if recognised is not None:
        return _join_recognised(session, cache, record, features, recognised)
    one_off = _one_off(record)
    found = _best_live(session, cache, features, threshold=_join_bar(one_off)).joined()
    reasons = {"started_theme": True, **(one_off or {})}
    if found is not None:
        match, theme = found
        ruled_out = _ruled_out(record, theme)
        if ruled_out is None:
            why = _why(match, one_off)
            return _join(session, cache, record, features, theme, match, reasons=why)
        # It starts a theme of its own, saying which known theme it read like and was kept
        # from.
        reasons.update(known_theme_ruled_out=ruled_out, ruled_out_score=round(match.score, 4))
    started = _new_theme(session, _title(record))
    return _join(session, cache, record, features, started, None, reasons=reasons)


def _one_off(record: Feedback) -> dict[str, Any] | None:
    """`{"no_theme_confidence": ...}` when the model reads a record it did not recognise as
    a one-off (`known.KnownMatch.reads_as_one_off`), which joins a theme by similarity only
    at ONE_OFF_JOIN_THRESHOLD (`_join_bar`; `cluster_with_known` measures the same rule)."""
    if not KNOWN_THEMES:
        return None
    guess = _best_guess(record)
    if not guess.reads_as_one_off:
        return None
    return {"no_theme_confidence": round(guess.confidence, 4)}


def _join_bar(one_off: dict[str, Any] | None) -> float | None:
    # The similarity a record needs to join a theme (None: JOIN_THRESHOLD).
    return similarity.ONE_OFF_JOIN_THRESHOLD if one_off else None


def _why(match: Match, one_off: dict[str, Any] | None) -> dict[str, Any]:
    # A join's reasons: the match's, and the one-off reading when there is one.
    return {**match.reasons(), **(one_off or {})}


def _ruled_out(record: Feedback, theme: Theme) -> str | None:
    """The known key of `theme` when a record the model did not recognise may not join it by
    similarity: the model ranks that problem below the record's two most likely classes
    (`known.KnownThemes.rules_out`; `cluster_with_known` measures the same rule)."""
    if theme.known_key is None or not KNOWN_THEMES:
        return None
    ruled_out = known.default().rules_out(_best_guess(record), theme.known_key)
    return theme.known_key if ruled_out else None


class _Best(NamedTuple):
    """The record's best match among the cached themes (None: no candidate), and its
    theme when the record would join it: it fits at the threshold and still takes records."""

    match: Match | None
    theme: Theme | None

    def joined(self) -> tuple[Match, Theme] | None:
        """The match and theme to join, or None."""
        if self.match is None or self.theme is None:
            return None
        return self.match, self.theme


def _best_live(
    session: Session,
    cache: _Cache,
    features: RecordFeatures,
    exclude: Sequence[str] = (),
    *,
    threshold: float | None = None,
) -> _Best:
    """The best theme the record would join (at `threshold`, default JOIN_THRESHOLD) that
    still takes records, if any, and the best match either way."""
    match = cache.index.best(features, exclude=exclude)
    while match is not None and similarity.joins(match, threshold):
        theme = _find(session, match.theme_id)
        if theme is not None and theme.merged_into is None:
            return _Best(match, theme)
        cache.index.discard(match.theme_id)  # deleted or merged by another process
        match = cache.index.best(features, exclude=exclude)
    return _Best(match, None)


def _recognise(record: Feedback) -> known.KnownMatch | None:
    """The known theme the model confidently recognises the record as, if any."""
    if not KNOWN_THEMES:
        return None
    return matching.matching(matching.MatchInput.of(record)).recognised


def _best_guess(record: Feedback) -> known.KnownMatch:
    """The model's most likely class for the record and its runner-up, however unsure."""
    return matching.matching(matching.MatchInput.of(record)).best


def _join_recognised(
    session: Session,
    cache: _Cache,
    record: Feedback,
    features: RecordFeatures,
    recognised: known.KnownMatch,
) -> Theme:
    """Join the recognised known theme, unless the record's best theme by similarity is
    one that formed by similarity (no known key) and fits it at FORMING_THRESHOLD: then it
    joins that theme, which fits it better than the known theme's own records do (when the
    known theme has some), or which becomes the known theme's live theme (when it has none).

    The model can only name the problems it was taught: a new problem's records are taken
    for the nearest known one (held out of training, 2 in 5 of a theme's tickets are),
    while those it did not recognise are already forming the new problem's own theme.
    And a known problem's first records, which the model was unsure of, may have formed
    its theme before the first record it recognises: that record adopts the theme they
    formed rather than start a second one (`known_theme_adopted`). The bar is well above
    JOIN_THRESHOLD so that a known problem's records stay with it.
    """
    theme = _known_theme(session, recognised.key)
    if theme is not None and not _profile(cache, theme).count:
        return _join_known(session, cache, record, features, recognised)
    scored, forming = _best_forming(session, cache, features)
    if forming is None:
        return _join_known(session, cache, record, features, recognised, scored=scored)
    match, formed = forming
    if theme is None:
        formed.known_key = recognised.key
        _remember_known(session, formed)
        reasons = {**match.reasons(), **recognised.reasons(), "known_theme_adopted": True}
    else:
        reasons = {**match.reasons(), "known_theme_set_aside": recognised.key}
    return _join(session, cache, record, features, formed, match, reasons=reasons)


def _best_forming(
    session: Session, cache: _Cache, features: RecordFeatures
) -> tuple[Match | None, tuple[Match, Theme] | None]:
    """The record's best match by similarity (None when not scored), and that match with
    its theme when the theme formed by similarity (no known key) and fits at
    FORMING_THRESHOLD."""
    # The usual recognised record fits no forming theme at the bar: then the known themes
    # among its candidates need not be scored to find its best (the outcome is the same).
    if not cache.index.may_fit(features, similarity.FORMING_THRESHOLD, skip=_known_ids(session)):
        return None, None
    best = _best_live(session, cache, features, threshold=similarity.FORMING_THRESHOLD)
    found = best.joined()
    if found is None or found[1].known_key is not None:
        return best.match, None
    return best.match, found


def _remember_known(session: Session, theme: Theme) -> None:
    # A theme that just took a known key is its live theme from now on (`_known_theme`).
    session_cache(session, "known_themes")[theme.known_key] = theme
    session_cache(session, "known_theme_ids").clear()


def _join_known(
    session: Session,
    cache: _Cache,
    record: Feedback,
    features: RecordFeatures,
    recognised: known.KnownMatch,
    *,
    scored: Match | None = None,
) -> Theme:
    """Join the live theme of the known theme the record is recognised as (started on first
    need). `scored` is the record's best match by similarity when known: usually the known
    theme's own, which is then not computed again."""
    theme = _known_theme(session, recognised.key)
    if theme is None:
        theme = _new_theme(session, _title(record))
        theme.known_key = recognised.key
        _remember_known(session, theme)
        reasons = {"started_theme": True, **recognised.reasons()}
        return _join(session, cache, record, features, theme, None, reasons=reasons)
    profile = _profile(cache, theme)
    # The best match was scored against the cached profile; the theme row may be at
    # another version (changed by another process), whose profile is then read from it.
    fit = scored
    if fit is None or fit.theme_id != theme.id or cache.index.profiles.get(theme.id) is not profile:
        fit = similarity.score(features, theme.id, profile)
    reasons = {**fit.reasons(), **recognised.reasons()}
    return _join(session, cache, record, features, theme, fit, reasons=reasons)


def _known_theme(session: Session, key: str) -> Theme | None:
    """The live theme of a known key. The live known themes are read once per transaction,
    all of them (a few dozen rows; a theme this transaction starts is not a row until it
    flushes, so it is added to the same map)."""
    by_key = session_cache(session, "known_themes")
    if not by_key:
        query = select(Theme).where(Theme.known_key.is_not(None), Theme.merged_into.is_(None))
        by_key.update({theme.known_key: theme for theme in session.scalars(query)})
        by_key[None] = None  # read: an empty map means not read yet
    theme: Theme | None = by_key.get(key)
    return theme


def _known_ids(session: Session) -> frozenset[str]:
    """The ids of the live known themes `_known_theme` read, kept until that map changes
    (asked for each recognised record)."""
    cached = session_cache(session, "known_theme_ids")
    if "ids" not in cached:
        themes = session_cache(session, "known_themes").values()
        cached["ids"] = frozenset(theme.id for theme in themes if theme is not None)
    ids: frozenset[str] = cached["ids"]
    return ids


def _new_theme(session: Session, title: str, *, renamed: bool = False) -> Theme:
    now = utcnow()
    theme = Theme(
        id=new_id("th"),
        title=title,
        status=ThemeStatus.NEW.value,
        signature={},
        centroid={},
        error_codes=[],
        jira_keys=[],
        version=0,
        created_at=now,
        updated_at=now,
        renamed_by_person=renamed,
        record_count=0,
        merchant_count=0,
        tpv_at_risk_php=0,
        max_severity="low",
        daily_counts={},
    )
    session.add(theme)
    session_cache(session, "themes")[theme.id] = theme  # found before it is flushed
    _emit(session, "theme.created", f"theme.created:{theme.id}", theme)
    return theme


def _emit(session: Session, event_type: str, key: str, theme: Theme, **extra: Any) -> None:
    data = {
        "id": theme.id,
        "title": theme.title,
        "status": theme.status,
        "record_count": theme.record_count,
        "merchant_count": theme.merchant_count,
        "tpv_at_risk_php": theme.tpv_at_risk_php,
        **extra,
    }
    outbound.emit(session, event_type=event_type, key=key, data=data)


def _merchants_changed(session: Session, theme: Theme, before: int) -> None:
    # Each step is announced once per theme, the first time its merchant count reaches it.
    for step in outbound.crossed_steps(before, theme.merchant_count or 0):
        key = f"theme.threshold_crossed:{theme.id}:merchants:{step}"
        _emit(session, "theme.threshold_crossed", key, theme, threshold=step, measure="merchants")


def _title(record: Feedback) -> str:
    # The first merchant's own words name the problem until a person renames it.
    words = " ".join((record.subject or record.text or "untitled").split())
    return words[:200]


def _join(
    session: Session,
    cache: _Cache,
    record: Feedback,
    features: RecordFeatures,
    theme: Theme,
    match: Match | None,
    *,
    pinned: bool = False,
    reasons: dict[str, Any] | None = None,
) -> Theme:
    now = utcnow()
    explained = reasons or (match.reasons() if match else {"started_theme": True})
    membership = new_row(
        ThemeMembership,
        feedback_id=record.id,
        theme_id=theme.id,
        score=match.score if match else 1.0,
        reasons=explained,
        pinned=pinned,
        vector=features.vector_json(),
        fields=_fields_json(features, record),
        merchant_id=record.merchant_id,
        created_at=now,
        updated_at=now,
    )
    session.add(membership)
    session_cache(session, "memberships")[record.id] = membership
    profile = _profile(cache, theme)
    profile.add(features)
    _save_profile(session, cache, theme, profile)
    record.theme_id, record.theme_score = theme.id, match.score if match else 1.0
    if record.jira_keys:
        theme.jira_keys = sorted(set(theme.jira_keys or []) | set(record.jira_keys))
    _count_in(session, theme, record)
    return theme


def _leave(
    session: Session, cache: _Cache, membership: ThemeMembership | None, *, impact: bool
) -> None:
    if membership is None:
        return
    theme = _theme(session, membership.theme_id)
    profile = _profile(cache, theme)
    profile.add(_stored_features(membership), sign=-1)
    _save_profile(session, cache, theme, profile)
    if inspect(membership).pending:  # joined earlier in this transaction
        session.expunge(membership)
    else:
        session.delete(membership)
    session_cache(session, "memberships")[membership.feedback_id] = None
    session.flush()
    if impact:
        recompute_impact(session, theme=theme)


def _without(cache: _Cache, theme: Theme, membership: ThemeMembership) -> Profile:
    # Judge the fit against the theme *without* the record, or it always fits itself.
    profile = _profile(cache, theme).copy()
    profile.add(_stored_features(membership), sign=-1)
    return profile


def _unchanged(membership: ThemeMembership, features: RecordFeatures, record: Feedback) -> bool:
    return membership.vector == features.vector_json() and membership.fields == _fields_json(
        features, record
    )


def _refresh(
    session: Session,
    cache: _Cache,
    record: Feedback,
    membership: ThemeMembership,
    theme: Theme,
    features: RecordFeatures,
    fit: Match | None = None,
) -> Theme:
    record.theme_id = theme.id
    if _unchanged(membership, features, record):
        return theme
    profile = _profile(cache, theme)
    profile.add(_stored_features(membership), sign=-1)
    profile.add(features)
    _save_profile(session, cache, theme, profile)
    before = {k: (membership.fields or {}).get(k) for k in _IMPACT_FIELDS}
    membership.vector, membership.fields = features.vector_json(), _fields_json(features, record)
    membership.merchant_id = record.merchant_id
    if fit is not None and not membership.pinned:
        membership.score, membership.reasons = fit.score, fit.reasons()
        record.theme_score = fit.score
    membership.updated_at = utcnow()
    after = {k: membership.fields.get(k) for k in _IMPACT_FIELDS}
    if before != after:  # merchant, severity or time changed
        _update_impact(session, theme, before, after)
    return theme


# ---------------------------------------------------------------- impact and rank


def _update_impact(
    session: Session, theme: Theme, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """One member's merchant, severity or time changed: adjust the figures it moves, and
    recount (a query over every member) only when that cannot be known from it alone."""
    moved = _move_day(theme, before["seen"], after["seen"])
    exact = (
        moved
        and before["merchant_id"] == after["merchant_id"]
        and _adjust_severity(theme, before["severity"], after["severity"])
        and _adjust_seen(theme, before["seen"], after["seen"])
    )
    if exact:
        _derive(theme, utcnow())
    else:
        recompute_impact(session, theme=theme, recount_days=not moved)


def _adjust_severity(theme: Theme, before: str | None, after: str | None) -> bool:
    """Raise the theme's worst severity to `after`; False when it may have to fall instead."""
    worst = SEVERITY_LEVEL.get(theme.max_severity, 0)
    new, old = SEVERITY_LEVEL.get(after or "", 0), SEVERITY_LEVEL.get(before or "", 0)
    if new >= worst:
        theme.max_severity = after or theme.max_severity
        return True
    return old < worst  # this member was not the one holding the worst severity


def _adjust_seen(theme: Theme, before: str | None, after: str | None) -> bool:
    """Widen first/last seen to the member's new time; False when it may have to narrow."""
    if before is None or after is None or theme.first_seen is None or theme.last_seen is None:
        return False
    old, new = datetime.fromisoformat(before), datetime.fromisoformat(after)
    if (old == theme.first_seen and new > old) or (old == theme.last_seen and new < old):
        return False  # it held an end of the range and moved inward
    theme.first_seen, theme.last_seen = min(theme.first_seen, new), max(theme.last_seen, new)
    return True


def _move_day(theme: Theme, before: str | None, after: str | None) -> bool:
    """Move one record between per-day counts (its "seen" time changed); False when the
    old time is unknown and the counts must be read again."""
    if before is None or after is None:
        return False
    old_day, new_day = before[:10], after[:10]
    if old_day != new_day:
        counts = dict(theme.daily_counts or {})
        if counts.get(old_day, 0) > 1:
            counts[old_day] -= 1
        else:
            counts.pop(old_day, None)  # also when it already left the kept window
        counts[new_day] = counts.get(new_day, 0) + 1
        theme.daily_counts = counts
    return True


def _seen(record: Feedback) -> datetime:
    """When the merchant raised it: the helpdesk's creation time, else when Relay got it."""
    return _aware(record.source_created_at or record.created_at) or utcnow()


def _count_in(session: Session, theme: Theme, record: Feedback) -> None:
    # The hot path: one record joined, so the figures move by one without re-reading the theme.
    seen = _seen(record)
    theme.record_count = (theme.record_count or 0) + 1
    new_merchant_tpv = _new_merchant_tpv(session, theme.id, record)
    if new_merchant_tpv is not None:
        theme.merchant_count = (theme.merchant_count or 0) + 1
        theme.tpv_at_risk_php = (theme.tpv_at_risk_php or 0) + new_merchant_tpv
        _merchants_changed(session, theme, theme.merchant_count - 1)
    theme.first_seen = min(seen, theme.first_seen or seen)
    theme.last_seen = max(seen, theme.last_seen or seen)
    if SEVERITY_LEVEL.get(record.severity, 0) > SEVERITY_LEVEL.get(theme.max_severity, 0):
        theme.max_severity = record.severity
    day = seen.date().isoformat()
    counts = dict(theme.daily_counts or {})
    theme.daily_counts = {**counts, day: counts.get(day, 0) + 1}
    # Trend, rate, rank and suggested fix follow when the session flushes (`_write_profiles`):
    # once per theme for a batch of records, not once per record.
    session_cache(session, "underived_themes")[theme.id] = theme


def _new_merchant_tpv(session: Session, theme_id: str, record: Feedback) -> int | None:
    """The record's merchant's TPV if the theme did not count that merchant yet, else None."""
    if not record.merchant_id:
        return None
    counted, complete = _merchant_pairs(session)
    pair = (theme_id, record.merchant_id)
    if pair in counted:
        return None
    counted.add(pair)
    if record.merchant_id not in complete and _counted_before(session, theme_id, record):
        return None
    merchant = record.merchant  # possibly created in this transaction: not a row yet
    return (merchant.monthly_tpv_php or 0) if merchant is not None else None


def _counted_before(session: Session, theme_id: str, record: Feedback) -> bool:
    """Whether another stored member of the theme has the record's merchant."""
    other = select(ThemeMembership.feedback_id).where(
        ThemeMembership.theme_id == theme_id,
        ThemeMembership.merchant_id == record.merchant_id,
        ThemeMembership.feedback_id != record.id,
    )
    with session.no_autoflush:  # this transaction's members are in `_merchant_pairs`
        return bool(session.scalar(select(other.exists())))


def recompute_impact(
    session: Session, *, theme: Theme, now: datetime | None = None, recount_days: bool = True
) -> Theme:
    """Recount records, distinct merchants, TPV at risk, first/last seen, trend, rate and rank.

    `recount_days=False` keeps the per-day counts (nobody's "seen" day moved): they are the
    one figure read row by row, which a large theme pays on every update otherwise.
    """
    now = now or utcnow()
    session.flush()
    session_cache(session, "theme_merchants").clear()  # recounted from the rows below
    members = and_(ThemeMembership.theme_id == theme.id, Feedback.deleted.is_(False))
    severity = case(*[(Feedback.severity == s, n) for s, n in SEVERITY_LEVEL.items()], else_=0)
    joined = select(Feedback.merchant_id).join(
        ThemeMembership, ThemeMembership.feedback_id == Feedback.id
    )
    row = session.execute(
        joined.with_only_columns(
            func.count(),
            func.count(distinct(Feedback.merchant_id)),
            func.min(_when()),
            func.max(_when()),
            func.max(severity),
        ).where(members)
    ).one()
    tpv = session.scalar(
        select(func.coalesce(func.sum(Merchant.monthly_tpv_php), 0)).where(
            Merchant.id.in_(joined.where(members))
        )
    )
    count, merchants, first, last, worst = row
    merchants_before = theme.merchant_count or 0
    theme.record_count, theme.merchant_count, theme.tpv_at_risk_php = (
        count,
        merchants,
        int(tpv or 0),
    )
    _merchants_changed(session, theme, merchants_before)
    theme.first_seen, theme.last_seen = _aware(first), _aware(last)
    theme.max_severity = {n: s for s, n in SEVERITY_LEVEL.items()}.get(int(worst or 0), "low")
    if recount_days:
        recent = joined.with_only_columns(_when()).where(
            members, _when() >= now - timedelta(days=DAYS_KEPT)
        )
        when_seen = session.scalars(recent)
        theme.daily_counts = dict(Counter((_aware(w) or now).date().isoformat() for w in when_seen))
    _derive(theme, now)
    return theme


def _derive(theme: Theme, now: datetime) -> None:
    """Trend, weekly rate and rank from the stored counts (both impact paths end here)."""
    today = now.date()
    ages = {day: (today - date.fromisoformat(day)).days for day in theme.daily_counts or {}}
    kept = {d: n for d, n in (theme.daily_counts or {}).items() if ages[d] < DAYS_KEPT}
    theme.daily_counts = kept
    theme.last_7d = sum(n for d, n in kept.items() if ages[d] < 7)
    theme.previous_7d = sum(n for d, n in kept.items() if 7 <= ages[d] < 14)
    theme.trend = (theme.last_7d - theme.previous_7d) / max(theme.previous_7d, 1)
    span = (
        (theme.last_seen - theme.first_seen).days / 7 if theme.first_seen and theme.last_seen else 0
    )
    theme.weekly_rate = round((theme.record_count or 0) / max(span, 1.0), 3)
    theme.rank_score = rank(theme)
    theme.fix_suggested = suggest_fix(theme)[1]


def weekly_counts(theme: Theme, *, weeks: int = 12, now: datetime | None = None) -> list[int]:
    """Records per week over the last `weeks` weeks, oldest first (for sparklines)."""
    today = (now or utcnow()).date()
    counts = [0] * weeks
    for day, n in (theme.daily_counts or {}).items():
        age = (today - date.fromisoformat(day)).days // 7
        if 0 <= age < weeks:
            counts[weeks - 1 - age] += n
    return counts


def refresh_impact(session: Session, *, now: datetime | None = None) -> int:
    """Re-derive every live theme's trend and rank as time passes (run it daily)."""
    themes = list(session.scalars(select(Theme).where(Theme.merged_into.is_(None))))
    for theme in themes:
        _derive(theme, now or utcnow())
    return len(themes)


def _aware(value: Any) -> datetime | None:
    # min()/max() come back as text on SQLite; the column type is not applied to aggregates.
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rank(theme: Theme) -> float:
    """The documented impact score Product sorts by (see the module docstring)."""
    merchants = math.log2(1 + theme.merchant_count)
    tpv = math.log10(1 + theme.tpv_at_risk_php / 1_000_000)
    trend = 0.5 * min(max(theme.trend, -1.0), 2.0)
    score = merchants + tpv + SEVERITY_WEIGHT.get(theme.max_severity, 0.0) + trend
    weight = 0.25 if theme.status in DONE_STATUSES else 1.0
    return round(score * weight if theme.record_count else 0.0, 4)


def suggest_fix(theme: Theme) -> tuple[FixType, str]:
    """A first fix proposal from the theme's dominant category (people refine it)."""
    category = theme.category or "how_to"
    fix_type = SUGGESTED_FIX.get(category, FixType.PRODUCT)
    if category == "friction":
        # Friction in what developers and admins touch is a tooling fix, elsewhere product.
        tooling = theme.product_area in ("dashboard", "api_access", "plugins", "webhooks")
        fix_type = FixType.TOOLING if tooling else FixType.PRODUCT
    return fix_type, _FIX_TEXT[fix_type].format(
        title=theme.title,
        merchants=theme.merchant_count,
        codes=", ".join(theme.error_codes[:5]) or "no error code",
        area=(theme.product_area or "other").replace("_", " "),
    )


_FIX_TEXT = {
    FixType.DOCS: 'Answer "{title}" in the {area} docs and the FAQ ({merchants} merchant(s) '
    "asked); link it from CS macros.",
    FixType.MERCHANT_CONFIG: 'Send affected merchants a setup checklist for "{title}" '
    "({codes}); consider an error message that names the fix.",
    FixType.PRODUCT: 'Fix in the product: "{title}" ({area}, {codes}); {merchants} '
    "merchant(s) affected.",
    FixType.TOOLING: 'Remove the friction in tooling (dashboard, SDKs, plugins): "{title}".',
}


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ThemeFilters:
    product_area: str | None = None
    status: str | None = None
    category: str | None = None
    min_records: int = 1


def get(session: Session, *, theme_id: str) -> Theme:
    """One theme, or ThemeNotFound."""
    theme = _find(session, theme_id)
    if theme is None:
        raise ThemeNotFound(f"no theme {theme_id!r}")
    return theme


def _find(session: Session, theme_id: str) -> Theme | None:
    # The themes this transaction started (a worker transaction flushes once, at commit:
    # they are not rows yet) or read, held until it commits. The session's identity map
    # keeps an unchanged row only while something else holds it: a theme a record was
    # scored against and passed over was read again, a query, for the next record.
    themes = session_cache(session, "themes")
    theme: Theme | None = themes.get(theme_id)
    if theme is None:
        theme = session.get(Theme, theme_id)
        if theme is not None:
            themes[theme_id] = theme
    return theme


_ID_SEPARATOR = ","  # never in an id (`new_id`: prefix, underscore, hex)


def preload(session: Session, *, feedback_ids: Iterable[str], merchant_ids: Iterable[str]) -> None:
    """Load what a batch will attach: its records' memberships and which themes already
    count its merchants, a query per 500 of each instead of one per record."""
    known = session_cache(session, "memberships")
    wanted = sorted(set(feedback_ids) - known.keys())
    for ids in chunked(wanted):
        query = select(ThemeMembership).where(ThemeMembership.feedback_id.in_(ids))
        for membership in session.scalars(query):
            known[membership.feedback_id] = membership
        for feedback_id in ids:
            known.setdefault(feedback_id, None)
    counted, complete = _merchant_pairs(session)
    for ids in chunked(sorted(set(merchant_ids) - complete)):
        # One row per merchant, its themes joined into one string: a merchant with many
        # records has as many memberships, and a row each grew with the table.
        themes_of = (
            select(
                ThemeMembership.merchant_id,
                func.aggregate_strings(ThemeMembership.theme_id, _ID_SEPARATOR),
            )
            .where(ThemeMembership.merchant_id.in_(ids))
            .group_by(ThemeMembership.merchant_id)
        )
        with session.no_autoflush:
            for merchant_id, theme_ids in session.execute(themes_of):
                if merchant_id is not None:  # it is: selected by it (typed optional)
                    counted.update((t, merchant_id) for t in set(theme_ids.split(_ID_SEPARATOR)))
        complete.update(ids)


def _merchant_pairs(session: Session) -> tuple[set[tuple[str, str]], set[str]]:
    """(theme, merchant) pairs counted so far in this transaction, and the merchants whose
    pairs are all known (read by `preload`); memberships added here are not rows yet."""
    known = session_cache(session, "theme_merchants")
    counted: set[tuple[str, str]] = known.setdefault("counted", set())
    complete: set[str] = known.setdefault("complete", set())
    return counted, complete


def _membership(
    session: Session, feedback_id: str, *, stored: bool = True
) -> ThemeMembership | None:
    """The record's membership; `stored=False` for a record that is not a row yet."""
    pending = session_cache(session, "memberships")
    if feedback_id in pending:  # loaded, joined or left in this transaction
        found: ThemeMembership | None = pending[feedback_id]
        return found
    return session.get(ThemeMembership, feedback_id) if stored else None


def _theme(session: Session, theme_id: str) -> Theme:
    return get(session, theme_id=theme_id)


def require_open(session: Session, *, theme_id: str) -> Theme:
    """The theme if it exists and takes records (not merged away), else the error saying why."""
    return _live(session, theme_id)


def _live(session: Session, theme_id: str) -> Theme:
    theme = get(session, theme_id=theme_id)
    if theme.merged_into is not None:
        raise ThemeMerged(
            f"theme {theme_id!r} was merged into {theme.merged_into!r}",
            details={"merged_into": theme.merged_into},
        )
    return theme


def list_themes(session: Session, *, filters: ThemeFilters, limit: int) -> list[Theme]:
    """Live themes, highest rank first."""
    query = select(Theme).where(
        Theme.merged_into.is_(None), Theme.record_count >= filters.min_records
    )
    for name in ("product_area", "status", "category"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(getattr(Theme, name) == value)
    query = query.order_by(Theme.rank_score.desc(), Theme.last_seen.desc(), Theme.id)
    return list(session.scalars(query.limit(limit)))


def _when() -> Any:
    return func.coalesce(Feedback.source_created_at, Feedback.created_at)


def members(
    session: Session, *, theme_id: str, limit: int = 200
) -> list[tuple[ThemeMembership, Feedback]]:
    """A theme's records (newest first) with their memberships."""
    query = (
        select(ThemeMembership, Feedback)
        .join(Feedback, Feedback.id == ThemeMembership.feedback_id)
        .where(ThemeMembership.theme_id == theme_id)
        .order_by(_when().desc(), Feedback.id)
        .limit(limit)
    )
    return [(m, f) for m, f in session.execute(query)]


# ---------------------------------------------------------------- people's decisions


def _log(session: Session, kind: str, theme_id: str, actor: str, **data: Any) -> None:
    session.add(
        ThemeDecision(kind=kind, theme_id=theme_id, actor=actor, data=data, created_at=utcnow())
    )


def rename(session: Session, *, theme_id: str, title: str, actor: str) -> Theme:
    """Give a theme a person's title; automatic titling never replaces it."""
    clean = " ".join(title.split())[:300]
    if not clean:
        raise InvalidThemeChange("a title needs at least one visible character")
    theme = _live(session, theme_id)
    theme.title, theme.renamed_by_person, theme.updated_at = clean, True, utcnow()
    _log(session, "rename", theme.id, actor, title=clean)
    return theme


def move(session: Session, *, feedback_id: str, theme_id: str, actor: str) -> Theme:
    """Put a record in a theme by hand; it is pinned there through re-attaches and rebuilds."""
    record = session.get(Feedback, feedback_id)
    if record is None:
        raise NotFound(f"no feedback record {feedback_id!r}", code="feedback_not_found")
    cache = _cache(session)
    with cache.lock:
        _sync(session, cache)
        target = _live(session, theme_id)
        membership = _membership(session, feedback_id)
        previous = membership.theme_id if membership else None
        features = record_features(record)
        fit = similarity.score(features, target.id, _profile(cache, target))
        reasons = {**fit.reasons(), "pinned_by": actor}
        if membership is not None and membership.theme_id == target.id:
            membership.pinned, membership.reasons = True, reasons
            record.theme_id = target.id
        else:
            _leave(session, cache, membership, impact=True)
            _join(session, cache, record, features, target, fit, pinned=True, reasons=reasons)
        recompute_impact(session, theme=target)
        _log(session, "move", target.id, actor, feedback_id=feedback_id, from_theme=previous)
        return target


def placements(session: Session) -> list[tuple[Feedback, str]]:
    """The records people placed in a known problem's theme (pinned there by a move or a
    split, or kept there by a merge), each with the problem's key: what the known-themes
    model learns from besides the corpus (`known.learn`). Records placed in a theme of no
    known problem teach it nothing: it has no class to learn them as."""
    query = (
        select(Feedback, Theme.known_key)
        .join(ThemeMembership, ThemeMembership.feedback_id == Feedback.id)
        .join(Theme, Theme.id == ThemeMembership.theme_id)
        .where(
            ThemeMembership.pinned.is_(True),
            Theme.known_key.is_not(None),
            Theme.merged_into.is_(None),
            Feedback.deleted.is_(False),
        )
        .order_by(Feedback.id)
    )
    return [(record, str(key)) for record, key in session.execute(query)]


def merge(session: Session, *, theme_ids: Sequence[str], into: str, actor: str) -> Theme:
    """Fold themes into `into`; the merged themes stay as pointers (`merged_into`)."""
    sources = sorted(set(theme_ids) - {into})
    if not sources:
        raise InvalidThemeChange("name at least one theme other than the target to merge")
    cache = _cache(session)
    with cache.lock:
        _sync(session, cache)
        target = _live(session, into)
        moved = {}
        for source in [_live(session, theme_id) for theme_id in sources]:
            moved[source.id] = _absorb(session, cache, target, source)
            source.merged_into = target.id
            _hand_over_known_key(session, source, target)
            _save_profile(session, cache, source, Profile())
            recompute_impact(session, theme=source)
        recompute_impact(session, theme=target)
        _log(session, "merge", target.id, actor, sources=sources, members=moved)
        return target


def _hand_over_known_key(session: Session, source: Theme, target: Theme) -> None:
    # A merged-away theme's known records keep arriving: the theme it went into takes them.
    key, source.known_key = source.known_key, None
    session_cache(session, "known_themes").clear()
    session_cache(session, "known_theme_ids").clear()
    if key is not None and target.known_key is None:
        session.flush()  # one live theme per key, also between the two updates
        target.known_key = key


def _absorb(session: Session, cache: _Cache, target: Theme, source: Theme) -> list[str]:
    ids = list(
        session.scalars(
            select(ThemeMembership.feedback_id).where(ThemeMembership.theme_id == source.id)
        )
    )
    session.execute(
        update(ThemeMembership)
        .where(ThemeMembership.theme_id == source.id)
        .values(theme_id=target.id)
    )
    session.execute(
        update(Feedback).where(Feedback.theme_id == source.id).values(theme_id=target.id)
    )
    profile = _profile(cache, target)
    profile.absorb(_profile(cache, source))
    _save_profile(session, cache, target, profile)
    target.jira_keys = sorted(set(target.jira_keys or []) | set(source.jira_keys or []))
    return sorted(ids)


def split(
    session: Session, *, theme_id: str, feedback_ids: Sequence[str], title: str, actor: str
) -> Theme:
    """Move some records of a theme into a new theme (pinned there); returns the new theme."""
    wanted = sorted(set(feedback_ids))
    clean = " ".join(title.split())[:300]
    if not wanted or not clean:
        raise InvalidThemeChange("a split needs records to move and a title")
    cache = _cache(session)
    with cache.lock:
        _sync(session, cache)
        theme = _live(session, theme_id)
        chosen = _split_members(session, theme, wanted)
        new = _new_theme(session, clean, renamed=True)
        for membership in chosen:
            record = session.get(Feedback, membership.feedback_id)
            features = _stored_features(membership)
            _leave(session, cache, membership, impact=False)
            if record is not None:
                reasons = {"split_from": theme.id, "pinned_by": actor}
                _join(session, cache, record, features, new, None, pinned=True, reasons=reasons)
        recompute_impact(session, theme=theme)
        recompute_impact(session, theme=new)
        _log(
            session, "split", theme.id, actor, new_theme_id=new.id, feedback_ids=wanted, title=clean
        )
        return new


def _split_members(session: Session, theme: Theme, wanted: list[str]) -> list[ThemeMembership]:
    rows = list(
        session.scalars(select(ThemeMembership).where(ThemeMembership.theme_id == theme.id))
    )
    chosen = [m for m in rows if m.feedback_id in set(wanted)]
    missing = sorted(set(wanted) - {m.feedback_id for m in chosen})
    if missing:
        raise InvalidThemeChange(
            "some records are not in this theme", details={"not_members": missing}
        )
    if len(chosen) == len(rows):
        raise InvalidThemeChange("a split must leave at least one record in the theme")
    return chosen


def set_fix(
    session: Session,
    *,
    theme_id: str,
    fix_type: FixType | str | None,
    owner: str | None,
    text: str | None,
) -> Theme:
    """Record the fix a person proposes (type, owner, text)."""
    theme = _live(session, theme_id)
    theme.fix_type = FixType(fix_type).value if fix_type else None
    theme.fix_owner, theme.fix_text, theme.updated_at = owner, text, utcnow()
    return theme


def set_status(session: Session, *, theme_id: str, status: ThemeStatus | str, reason: str) -> Theme:
    """Change a theme's status (Jira sync, people); done themes sink in the ranking."""
    theme = get(session, theme_id=theme_id)
    theme.status = ThemeStatus(status).value
    theme.status_reason, theme.updated_at = reason, utcnow()
    theme.rank_score = rank(theme)
    return theme


# ---------------------------------------------------------------- rebuild


@dataclass(frozen=True)
class RebuildReport:
    records: int
    pinned: int
    themes: int
    kept_identity: int


def rebuild(session: Session) -> RebuildReport:
    """Re-cluster every record from scratch, keeping people's decisions and theme identities.

    Pinned records stay where people put them. Every other record is attached again, oldest
    first. A new cluster then takes over the theme most of its records were in before (so
    titles, statuses, Jira keys and fixes carry over); several clusters may fold into a theme
    only if a person merged into it. Merged themes stay merged; renames are re-applied.
    """
    cache = _cache(session)
    with cache.lock:
        before = dict(
            session.execute(select(ThemeMembership.feedback_id, ThemeMembership.theme_id)).all()
        )
        pinned = _reset_to_pins(session, cache)
        existing = set(session.scalars(select(Theme.id)))
        records = _recluster(session, cache)
        fresh = sorted(set(session.scalars(select(Theme.id))) - existing)
        kept = _adopt(session, cache, fresh, before)
        _reapply_renames(session)
        themes = list(session.scalars(select(Theme)))
        for theme in themes:
            recompute_impact(session, theme=theme)
        live = sum(1 for t in themes if t.merged_into is None and t.record_count)
        return RebuildReport(records=records, pinned=pinned, themes=live, kept_identity=kept)


def _reset_to_pins(session: Session, cache: _Cache) -> int:
    session.execute(delete(ThemeMembership).where(ThemeMembership.pinned.is_(False)))
    session.execute(update(Feedback).values(theme_id=None, theme_score=None))
    profiles: dict[str, Profile] = {}
    pins = list(session.scalars(select(ThemeMembership)))
    for membership in pins:
        profiles.setdefault(membership.theme_id, Profile()).add(_stored_features(membership))
    session.execute(
        update(Feedback)
        .where(Feedback.id.in_(select(ThemeMembership.feedback_id)))
        .values(
            theme_id=select(ThemeMembership.theme_id)
            .where(ThemeMembership.feedback_id == Feedback.id)
            .scalar_subquery()
        )
    )
    cache.forget()
    for theme in session.scalars(select(Theme)):
        _save_profile(session, cache, theme, profiles.get(theme.id, Profile()))
    session.flush()
    return len(pins)


def _recluster(session: Session, cache: _Cache, chunk: int = 500) -> int:
    pinned = select(ThemeMembership.feedback_id)
    ids = list(
        session.scalars(
            select(Feedback.id)
            .where(Feedback.deleted.is_(False), Feedback.id.not_in(pinned))
            .order_by(_when(), Feedback.id)
        )
    )
    for start in range(0, len(ids), chunk):
        batch = ids[start : start + chunk]
        by_id = {r.id: r for r in session.scalars(select(Feedback).where(Feedback.id.in_(batch)))}
        for feedback_id in batch:
            _join_best(session, cache, by_id[feedback_id], record_features(by_id[feedback_id]))
        session.flush()
        session.expunge_all()  # keep memory flat over 100k records; the cache holds profiles
        forget_session_caches(session)  # they held this chunk's rows, detached now
    return len(ids)


def _adopt(session: Session, cache: _Cache, fresh: list[str], before: dict[str, str]) -> int:
    members: dict[str, list[str]] = {theme_id: [] for theme_id in fresh}
    for theme_id, feedback_id in session.execute(
        select(ThemeMembership.theme_id, ThemeMembership.feedback_id).where(
            ThemeMembership.theme_id.in_(fresh)
        )
    ):
        members[theme_id].append(feedback_id)
    merged_into = set(
        session.scalars(select(ThemeDecision.theme_id).where(ThemeDecision.kind == "merge"))
    )
    claimed: set[str] = set()
    for theme_id in sorted(fresh, key=lambda t: (-len(members[t]), min(members[t], default=""))):
        old = _majority(members[theme_id], before)
        if old is None or (old in claimed and old not in merged_into):
            continue
        target = session.get(Theme, old)
        if target is None or target.merged_into is not None:
            continue
        _absorb(session, cache, target, _theme(session, theme_id))
        _save_profile(session, cache, _theme(session, theme_id), Profile())
        session.delete(_theme(session, theme_id))
        session_cache(session, "themes").pop(theme_id, None)  # gone: `_find` no longer finds it
        claimed.add(old)
    session.flush()
    return len(claimed)


def _majority(feedback_ids: list[str], before: dict[str, str]) -> str | None:
    votes = Counter(before[f] for f in feedback_ids if f in before)
    if not votes:
        return None
    theme_id, count = similarity.most_common(votes, 1)[0]
    return theme_id if count * 2 >= len(feedback_ids) else None


def _reapply_renames(session: Session) -> None:
    renames = session.scalars(
        select(ThemeDecision).where(ThemeDecision.kind == "rename").order_by(ThemeDecision.id)
    )
    for decision in renames:
        theme = session.get(Theme, decision.theme_id)
        if theme is not None:
            theme.title, theme.renamed_by_person = decision.data["title"], True


# ---------------------------------------------------------------- evaluation


def corpus_features(tickets: Iterable[dict[str, Any]]) -> list[RecordFeatures]:
    """Features of corpus tickets from their text and structured labels (never `theme`)."""
    return [
        _ticket_features(
            t,
            product_area=t["labels"]["product_area"],
            payment_method=t["labels"]["payment_method"],
            category=t["labels"]["category"],
            error_codes=t["labels"]["error_codes"],
            http_statuses=t["labels"]["http_statuses"],
        )
        for t in tickets
    ]


def _ticket_features(
    ticket: dict[str, Any],
    *,
    product_area: str,
    payment_method: str | None,
    category: str,
    error_codes: Iterable[str],
    http_statuses: Iterable[int],
) -> RecordFeatures:
    # A corpus ticket's text and merchant, with labels from whichever source reads it.
    return similarity.featurize(
        subject=ticket["subject"],
        text=ticket["body"],
        product_area=product_area,
        payment_method=payment_method,
        category=category,
        error_codes=error_codes,
        http_statuses=http_statuses,
        merchant_name=ticket["merchant"]["name"],
    )


# Whose labels a corpus ticket is read through when it is placed: the classifier's, out of
# fold (as attach reads an incoming record), or the hand labels (as after agents corrected
# every label). The known-themes model always trains on the hand labels, as shipped.
LabelSource = Literal["classifier", "hand"]


def classified_features(tickets: Sequence[dict[str, Any]]) -> list[RecordFeatures]:
    """Features of corpus tickets as attach would see them: product area, payment method
    and category from a classifier trained without the ticket (5 folds), codes and
    statuses as extraction finds them."""
    from service.structuring import training  # scikit-learn: evaluation only

    examples = training.corpus_examples(tickets)
    prepared = [training.prepare(e.subject, e.body) for e in examples]
    labels = training.cross_validate(examples, prepared).labels
    return [
        _ticket_features(
            t,
            product_area=predicted.product_area,
            payment_method=predicted.payment_method,
            category=predicted.category,
            error_codes=read.extraction.error_codes,
            http_statuses=read.extraction.http_statuses,
        )
        for t, predicted, read in zip(tickets, labels, prepared, strict=True)
    ]


@lru_cache(maxsize=1)
def _classified_corpus() -> tuple[RecordFeatures, ...]:
    # Five classifier fits: done once for both evaluations of a `relay themes evaluate`.
    return tuple(classified_features(similarity.load_corpus()))


@dataclass(frozen=True)
class _Corpus:
    """The labelled corpus as an evaluation reads it."""

    truth: list[str | None]  # labels.theme
    documents: list[known.Document]  # what the known-themes model trains on (hand labels)
    features: list[RecordFeatures]  # the tickets as they are placed
    read: list[known.Document]  # ...and as the model is asked about them


def _corpus(labels: LabelSource) -> _Corpus:
    tickets = similarity.load_corpus()
    truth = [t["labels"]["theme"] for t in tickets]
    hand = corpus_features(tickets)
    documents = known.corpus_documents(tickets, hand)
    if labels == "hand":
        return _Corpus(truth, documents, hand, documents)
    features = list(_classified_corpus())
    return _Corpus(truth, documents, features, known.corpus_documents(tickets, features))


def evaluate_corpus(*, threshold: float | None = None) -> tuple[float, float, list[list[str]]]:
    """Pairwise precision and recall of the incremental algorithm on the labelled corpus."""
    tickets = similarity.load_corpus()
    assigned = similarity.cluster(corpus_features(tickets), threshold=threshold)
    truth = [t["labels"]["theme"] for t in tickets]
    precision, recall = similarity.pairwise(truth, assigned)
    clusters: dict[int, list[str]] = {}
    for ticket, key in zip(tickets, assigned, strict=True):
        clusters.setdefault(key, []).append(ticket["id"])
    return precision, recall, list(clusters.values())


def sweep_corpus(thresholds: Iterable[float]) -> list[tuple[float, float, float, int]]:
    """(threshold, precision, recall, clusters) per threshold: how JOIN_THRESHOLD was chosen."""
    tickets = similarity.load_corpus()
    features = corpus_features(tickets)
    truth = [t["labels"]["theme"] for t in tickets]
    rows = []
    for threshold in thresholds:
        assigned = similarity.cluster(features, threshold=threshold)
        precision, recall = similarity.pairwise(truth, assigned)
        rows.append((threshold, precision, recall, len(set(assigned))))
    return rows


@dataclass(frozen=True)
class HeldOut:
    """Thresholds picked on one half of the corpus, measured on the other half."""

    precision: float
    recall: float
    picked: tuple[float, ...]


def held_out_corpus(thresholds: Sequence[float], *, splits: int = 5) -> HeldOut:
    """Pick the threshold that balances precision and recall on a random half of the
    corpus, measure it on the other half; mean over `splits` random halvings (both ways).

    The shipped threshold was chosen on the whole corpus; this shows what choosing it on
    tickets the measurement never sees would give, so the figure is not a tuned one.
    """
    tickets = similarity.load_corpus()
    features = corpus_features(tickets)
    truth = [t["labels"]["theme"] for t in tickets]
    picked, measured = [], []
    for seed in range(splits):
        for tune, test in _halves(len(tickets), seed):
            best = max(thresholds, key=lambda t: min(_pairwise_on(features, truth, tune, t)))
            picked.append(best)
            measured.append(_pairwise_on(features, truth, test, best))
    precision = sum(p for p, _ in measured) / len(measured)
    recall = sum(r for _, r in measured) / len(measured)
    return HeldOut(precision, recall, tuple(picked))


def _halves(n: int, seed: int) -> list[tuple[list[int], list[int]]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    first, second = sorted(order[: n // 2]), sorted(order[n // 2 :])  # time order kept
    return [(first, second), (second, first)]


def _pairwise_on(
    features: list[RecordFeatures], truth: list[str | None], rows: list[int], threshold: float
) -> tuple[float, float]:
    assigned = similarity.cluster([features[i] for i in rows], threshold=threshold)
    return similarity.pairwise([truth[i] for i in rows], assigned)


# ---------------------------------------------------------------- known themes, evaluated


def cluster_with_known(
    features: Sequence[RecordFeatures],
    recognised: Sequence[known.KnownMatch | None],
    *,
    guesses: Sequence[known.KnownMatch] | None = None,
    threshold: float | None = None,
) -> list[int]:
    """`attach` over a sequence: a recognised record joins its known theme (started on first
    need) unless a theme formed by similarity fits it at FORMING_THRESHOLD, which it joins
    instead (`_join_recognised`; the theme becomes the known one's if that has none yet).
    Any other record goes through similarity clustering, which may join a known theme but
    not one the model's best guess for the record rules out (`_ruled_out`; every known
    theme is admitted without `guesses`), and joins only at ONE_OFF_JOIN_THRESHOLD when
    that guess reads the record as a one-off (`_one_off`)."""
    index = similarity.ThemeIndex()
    by_key: dict[str, str] = {}
    assigned: list[int] = []
    for i, (record, match) in enumerate(zip(features, recognised, strict=True)):
        if match is not None:
            forming = _forming(index, by_key, record)
            if forming is not None:  # set aside, or adopted when the key has no theme yet
                by_key.setdefault(match.key, forming)
            key = forming or by_key.setdefault(match.key, str(len(index.profiles)))
        else:
            guess = None if guesses is None else guesses[i]
            key = _similar(index, by_key, record, guess, threshold) or str(len(index))
        profile = index.profiles.get(key) or Profile()
        profile.add(record)
        index.put(key, profile)
        assigned.append(int(key))
    return assigned


def _similar(
    index: similarity.ThemeIndex,
    by_key: dict[str, str],
    record: RecordFeatures,
    guess: known.KnownMatch | None,
    threshold: float | None,
) -> str | None:
    # `_one_off` and `_ruled_out`: the record's best theme by similarity, at the bar of a
    # question asked again if the model reads the record as a one-off, and unless it is a
    # known theme the model's guess rules out.
    if guess is not None and guess.reads_as_one_off:
        threshold = similarity.ONE_OFF_JOIN_THRESHOLD
    best = index.best(record)
    if best is None or not similarity.joins(best, threshold):
        return None
    known_key = next((key for key, theme in by_key.items() if theme == best.theme_id), None)
    if guess is not None and known_key is not None and guess.rules_out(known_key):
        return None
    return best.theme_id


def _forming(
    index: similarity.ThemeIndex, by_key: dict[str, str], record: RecordFeatures
) -> str | None:
    # `_join_recognised`: the record's best theme, if it formed by similarity and fits it
    # at FORMING_THRESHOLD.
    best = index.best(record)
    if best is None or best.theme_id in by_key.values():
        return None
    return best.theme_id if similarity.joins(best, similarity.FORMING_THRESHOLD) else None


def pick_known_threshold(
    features: Sequence[RecordFeatures],
    truth: Sequence[str | None],
    best: Sequence[known.KnownMatch],
) -> float:
    """The confidence threshold balancing pairwise precision and recall of the whole logic."""

    def balance(threshold: float) -> float:
        recognised = known.confident(best, threshold)
        assigned = cluster_with_known(features, recognised, guesses=best)
        return min(similarity.pairwise(list(truth), assigned))

    return max(known.CANDIDATE_THRESHOLDS, key=balance)


@dataclass(frozen=True)
class KnownEvaluation:
    """Known themes (out of fold) then similarity, over the whole corpus in time order."""

    precision: float
    recall: float
    recognised: int  # tickets recognised as a known theme
    recognised_right: int  # ...as their own labelled theme
    themeless_recognised: int  # tickets of no theme recognised as a known one
    no_theme: int  # tickets whose most likely class was "no theme" (never recognised)
    no_theme_right: int  # ...that are indeed of no theme
    thresholds: tuple[float, ...]  # picked inside each fold's training tickets (nested)
    whole_corpus_threshold: float  # what the same procedure picks on every ticket


def evaluate_known(
    *, folds: int = known.FOLDS, seed: int = 0, labels: LabelSource = "classifier"
) -> KnownEvaluation:
    """Pairwise precision and recall when every ticket's known-theme prediction comes from a
    model trained without it, and the confidence threshold applied to a fold was picked on
    the other folds only (out-of-fold predictions inside them). `labels`: whose labels the
    tickets are placed with (`LabelSource`)."""
    corpus = _corpus(labels)
    documents, features, truth = corpus.documents, corpus.features, corpus.truth
    best, fold_of = known.out_of_fold(documents, truth, folds=folds, seed=seed, read=corpus.read)
    recognised: list[known.KnownMatch | None] = [None] * len(truth)
    thresholds = []
    for fold in range(folds):
        rows = [i for i in range(len(truth)) if fold_of[i] != fold]  # time order kept
        inner, _ = known.out_of_fold(
            [documents[i] for i in rows],
            [truth[i] for i in rows],
            folds=folds - 1,
            seed=seed,
            read=[corpus.read[i] for i in rows],
        )
        threshold = pick_known_threshold(
            [features[i] for i in rows], [truth[i] for i in rows], inner
        )
        thresholds.append(threshold)
        for i in range(len(truth)):
            if fold_of[i] == fold:
                recognised[i] = known.confident([best[i]], threshold)[0]
    assigned = cluster_with_known(features, recognised, guesses=best)
    precision, recall = similarity.pairwise(truth, assigned)
    hits = [(m, t) for m, t in zip(recognised, truth, strict=True) if m is not None]
    return KnownEvaluation(
        precision=precision,
        recall=recall,
        recognised=len(hits),
        recognised_right=sum(1 for m, t in hits if m.key == t),
        themeless_recognised=sum(1 for _, t in hits if t is None),
        no_theme=sum(1 for m in best if not m.is_theme),
        no_theme_right=sum(1 for m, t in zip(best, truth, strict=True) if not m.is_theme and not t),
        thresholds=tuple(thresholds),
        whole_corpus_threshold=pick_known_threshold(features, truth, best),
    )


@dataclass(frozen=True)
class NewThemesEvaluation:
    """How problems nobody labelled yet fare: each fold of labelled themes is held out whole
    (the model never learns them), and only pairs involving their tickets are counted."""

    precision: float
    recall: float
    tickets: int  # every ticket is held out once
    recognised: int  # ...taken for a known theme by the model: always wrong, they are new
    in_known: int  # ...that ended in a known theme (recognised, or joined one by similarity)


def evaluate_new_themes(
    *, folds: int = known.FOLDS, seed: int = 0, labels: LabelSource = "classifier"
) -> NewThemesEvaluation:
    """Pairwise figures for themes the recogniser was not trained on, which can only form
    through similarity clustering. `evaluate_known` cannot show this: every labelled theme
    is known to the model in each of its folds. Themes (and theme-less tickets, one by
    one) are dealt into `folds` folds; for each, the model is trained on the other
    tickets and attach runs over the whole corpus in time order with the shipped
    confidence; counted are the pairs with at least one held-out ticket."""
    corpus = _corpus(labels)
    documents, features, truth = corpus.documents, corpus.features, corpus.truth
    groups = sorted({key or f"ticket:{i}" for i, key in enumerate(truth)})
    random.Random(seed).shuffle(groups)
    fold_of_group = {group: n % folds for n, group in enumerate(groups)}
    fold_of = [fold_of_group[key or f"ticket:{i}"] for i, key in enumerate(truth)]
    counts = similarity.PairCounts(0, 0, 0)
    recognised = in_known = 0
    for fold in range(folds):
        train = [i for i in range(len(truth)) if fold_of[i] != fold]
        model = known.KnownThemes.train([documents[i] for i in train], [truth[i] for i in train])
        best = model.best(corpus.read)
        matches = known.confident(best, known.CONFIDENCE)
        assigned = cluster_with_known(features, matches, guesses=best)
        seen = similarity.PairCounts.of([truth[i] for i in train], [assigned[i] for i in train])
        counts += similarity.PairCounts.of(truth, assigned) - seen
        recognised += sum(1 for i, m in enumerate(matches) if fold_of[i] == fold and m is not None)
        known_ids = known_clusters(assigned, matches)
        in_known += sum(1 for i, a in enumerate(assigned) if fold_of[i] == fold and a in known_ids)
    precision, recall = counts.scores()
    return NewThemesEvaluation(precision, recall, len(truth), recognised, in_known)


def known_clusters(
    assigned: Sequence[int], recognised: Sequence[known.KnownMatch | None]
) -> set[int]:
    """The clusters of `cluster_with_known` that are known themes: those whose first record
    was recognised (a theme formed by similarity starts with a record that was not, even if
    recognised records join it later under `_join_recognised`)."""
    first: dict[int, int] = {}
    for i, cluster in enumerate(assigned):
        first.setdefault(cluster, i)
    return {cluster for cluster, i in first.items() if recognised[i] is not None}
