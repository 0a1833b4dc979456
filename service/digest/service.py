"""The Product digest: what broke, what was unclear, what caused friction, what got fixed.

A digest covers a period ending at the start of a UTC day (exclusive): `week` is the 7
days before it, `month` the calendar month's length before it (same day last month). Its
view model is built from themes alone (category, status, impact figures, daily counts,
first seen), plus the fix date of fixed themes: when their linked Jira issue was resolved,
else (no resolved issue) when the theme last changed. Each generated digest is stored:
the HTML body in the `digests` table, the PDF under RELAY_DATA_DIR/digests/.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import new_id, utcnow
from service.digest import charts
from service.digest.models import Digest
from service.errors import InvalidRequest, NotFound
from service.escalation.models import JiraLink
from service.render import pdf
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeStatus

PERIODS = ("week", "month")
TOP_PER_GROUP = 5
TREND_WEEKS = 12
FIX_WINDOW = timedelta(weeks=8)  # fixed themes shown: fixed within this long before the end
FIX_COMPARE_WEEKS = 4  # weeks before and after a fix that are compared


@dataclass(frozen=True)
class GroupSpec:
    key: str
    title: str
    question: str
    categories: tuple[str, ...]


# Every TAXONOMY.md category lands in exactly one group.
GROUPS = (
    GroupSpec("breaks", "What breaks", "Bugs and incidents", ("bug", "incident")),
    GroupSpec(
        "unclear",
        "What's unclear",
        "Docs gaps, how-to questions and setups merchants get wrong",
        ("docs_gap", "how_to", "misconfiguration"),
    ),
    GroupSpec(
        "friction",
        "What causes friction",
        "Things that work but hurt, and what merchants ask for",
        ("friction", "feature_request"),
    ),
)


class DigestNotFound(NotFound):
    code = "digest_not_found"


@dataclass(frozen=True)
class ThemeLine:
    id: str
    title: str
    category: str
    product_area: str
    status: str
    records_in_period: int
    record_count: int
    merchant_count: int
    tpv_at_risk_php: int
    trend_percent: int  # last 7 days against the 7 before
    first_seen: date | None
    weekly: list[int]  # records per week, oldest first, ending with the period
    chart: Markup


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    question: str
    records_in_period: int
    themes: list[ThemeLine]


@dataclass(frozen=True)
class FixedLine:
    id: str
    title: str
    fixed_on: date
    fixed_by: str  # the resolved Jira issue, or "status set to fixed"
    before_per_week: float
    after_per_week: float | None  # None: fixed too recently to tell
    stopped: int  # records avoided since the fix, at the before-fix rate
    chart: Markup


@dataclass(frozen=True)
class DigestView:
    period: str
    start: datetime
    end: datetime  # exclusive
    generated_at: datetime
    records_in_period: int
    active_themes: int
    groups: list[Group]
    new_themes: list[ThemeLine]
    fixed: list[FixedLine]
    weekly_total: list[int]
    weekly_labels: list[str]
    total_chart: Markup

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def compare_weeks(self) -> int:
        return FIX_COMPARE_WEEKS

    @property
    def title(self) -> str:
        return f"Product digest · {self.period} {self.start:%d %b} to {self.last_day:%d %b %Y}"

    def summary(self) -> dict[str, Any]:
        """The figures, JSON-ready (no SVG): what `GET /api/v1/digests/latest` answers."""
        data = asdict(self)
        data.pop("total_chart")
        for group in data["groups"]:
            for line in group["themes"]:
                line.pop("chart")
        for line in data["new_themes"] + data["fixed"]:
            line.pop("chart")
        data["title"] = self.title
        out: dict[str, Any] = _jsonable(data)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- the period


def period_range(period: str, *, end: date) -> tuple[datetime, datetime]:
    """[start, end) of the `period` that ends at the start of day `end` (UTC)."""
    if period not in PERIODS:
        raise InvalidRequest(
            f"period must be one of {', '.join(PERIODS)}", details={"field": "period"}
        )
    stop = datetime(end.year, end.month, end.day, tzinfo=UTC)
    if period == "week":
        return stop - timedelta(days=7), stop
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    day = min(end.day, calendar.monthrange(year, month)[1])
    return datetime(year, month, day, tzinfo=UTC), stop


def _days(theme: Theme, start: date, end: date) -> int:
    return sum(
        n for day, n in (theme.daily_counts or {}).items() if start <= date.fromisoformat(day) < end
    )


def _weeks_from(theme: Theme, first: date, weeks: int) -> list[int]:
    """Records per 7-day week for `weeks` weeks starting on day `first`."""
    return [
        _days(theme, first + timedelta(weeks=i), first + timedelta(weeks=i + 1))
        for i in range(weeks)
    ]


def _weekly(theme: Theme, end: date, weeks: int) -> list[int]:
    """Records per week, oldest first, the last week ending the day before `end`."""
    return _weeks_from(theme, end - timedelta(weeks=weeks), weeks)


def _week_labels(end: date, weeks: int) -> list[str]:
    return [f"week of {end - timedelta(weeks=weeks - i):%d %b}" for i in range(weeks)]


# ---------------------------------------------------------------- the view model


def build(session: Session, *, period: str, end: date, now: datetime | None = None) -> DigestView:
    """The digest of the `period` ending at the start of `end` (UTC), from the themes."""
    start, stop = period_range(period, end=end)
    themes = _live_themes(session)
    lines = {t.id: _line(t, start.date(), stop.date()) for t in themes}
    active = [t for t in themes if lines[t.id].records_in_period > 0]
    groups = [_group(spec, active, lines) for spec in GROUPS]
    new = [lines[t.id] for t in themes if t.first_seen and start <= t.first_seen < stop]
    weekly_total = [sum(week) for week in zip(*(ln.weekly for ln in lines.values()), strict=True)]
    labels = _week_labels(stop.date(), TREND_WEEKS)
    return DigestView(
        period=period,
        start=start,
        end=stop,
        generated_at=now or utcnow(),
        records_in_period=sum(lines[t.id].records_in_period for t in active),
        active_themes=len(active),
        groups=groups,
        new_themes=new[:10],
        fixed=_fixed(session, themes, stop),
        weekly_total=weekly_total or [0] * TREND_WEEKS,
        weekly_labels=labels,
        total_chart=charts.bar_chart(
            weekly_total or [0] * TREND_WEEKS,
            labels=labels,
            title="Themed records per week",
            width=520,
            height=110,
        ),
    )


def _live_themes(session: Session) -> list[Theme]:
    """Every live theme, highest rank first (the API's ranking)."""
    total = session.scalar(select(func.count()).select_from(Theme)) or 0
    filters = themes_service.ThemeFilters(min_records=1)
    return themes_service.list_themes(session, filters=filters, limit=max(total, 1))


def _line(theme: Theme, start: date, end: date) -> ThemeLine:
    weekly = _weekly(theme, end, TREND_WEEKS)
    return ThemeLine(
        id=theme.id,
        title=theme.title,
        category=theme.category or "how_to",
        product_area=theme.product_area or "other",
        status=theme.status,
        records_in_period=_days(theme, start, end),
        record_count=theme.record_count,
        merchant_count=theme.merchant_count,
        tpv_at_risk_php=theme.tpv_at_risk_php,
        trend_percent=round(theme.trend * 100),
        first_seen=theme.first_seen.date() if theme.first_seen else None,
        weekly=weekly,
        chart=charts.bar_chart(
            weekly, labels=_week_labels(end, TREND_WEEKS), title=f"{theme.title}: records per week"
        ),
    )


def _group(spec: GroupSpec, active: list[Theme], lines: dict[str, ThemeLine]) -> Group:
    members = [lines[t.id] for t in active if (t.category or "how_to") in spec.categories]
    return Group(
        key=spec.key,
        title=spec.title,
        question=spec.question,
        records_in_period=sum(m.records_in_period for m in members),
        themes=members[:TOP_PER_GROUP],
    )


# ---------------------------------------------------------------- fixed themes


def fix_dates(session: Session, theme_ids: list[str]) -> dict[str, tuple[datetime, str]]:
    """When each theme's newest linked Jira issue was resolved, and that issue's key."""
    if not theme_ids:
        return {}
    rows = session.execute(
        select(JiraLink.theme_id, JiraLink.resolved_at, JiraLink.jira_key)
        .where(JiraLink.theme_id.in_(theme_ids), JiraLink.resolved_at.is_not(None))
        .order_by(JiraLink.resolved_at)
    )
    return {theme_id: (resolved, key) for theme_id, resolved, key in rows if resolved is not None}


def _fixed(session: Session, themes: list[Theme], end: datetime) -> list[FixedLine]:
    fixed = [t for t in themes if t.status == ThemeStatus.FIXED.value]
    resolved = fix_dates(session, [t.id for t in fixed])
    out = []
    for theme in fixed:
        when, key = resolved.get(theme.id, (theme.updated_at, None))
        if end - FIX_WINDOW <= when < end:
            by = f"Jira {key} resolved" if key else "status set to fixed"
            out.append(_fixed_line(theme, when, by, end))
    return sorted(out, key=lambda line: line.stopped, reverse=True)


def _fixed_line(theme: Theme, when: datetime, by: str, end: datetime) -> FixedLine:
    fix_day = when.date()
    before = _weeks_from(theme, fix_day - timedelta(weeks=FIX_COMPARE_WEEKS), FIX_COMPARE_WEEKS)
    weeks_after = min((end.date() - fix_day).days // 7, FIX_COMPARE_WEEKS)
    after = _weeks_from(theme, fix_day, weeks_after)
    before_rate = sum(before) / FIX_COMPARE_WEEKS
    after_rate = sum(after) / weeks_after if weeks_after else None
    stopped = round(max(before_rate - after_rate, 0) * weeks_after) if after_rate is not None else 0
    labels = [f"{i - FIX_COMPARE_WEEKS:+d} wk" for i in range(FIX_COMPARE_WEEKS + weeks_after)]
    return FixedLine(
        id=theme.id,
        title=theme.title,
        fixed_on=fix_day,
        fixed_by=by,
        before_per_week=round(before_rate, 1),
        after_per_week=round(after_rate, 1) if after_rate is not None else None,
        stopped=stopped,
        chart=charts.bar_chart(
            before + after,
            labels=labels,
            title=f"{theme.title}: records per week before and after the fix",
            marker=FIX_COMPARE_WEEKS,
            marker_label="fix",
        ),
    )


# ---------------------------------------------------------------- generate and store


def render(
    session: Session,
    *,
    settings: Settings,
    period: str,
    actor: str,
    end: date | None = None,
    now: datetime | None = None,
) -> Digest:
    """Build and render (HTML, and the PDF file) the digest of `period`; the row, not yet added.

    Only reads: callers render in a read session and `store` in a short write
    transaction, so that no writer waits on WeasyPrint."""
    now = now or utcnow()
    view = build(session, period=period, end=end or now.date(), now=now)
    context = {"digest": view}
    digest = Digest(
        id=new_id("dg"),
        period=period,
        range_start=view.start,
        range_end=view.end,
        created_at=now,
        created_by=actor,
        html=pdf.render_html("digest/body.html", context),
        summary=view.summary(),
    )
    metadata = pdf.PdfMetadata(
        title=view.title, author="Relay", subject="Product digest", created=now
    )
    digest.pdf_path = _store_pdf(
        settings.data_dir,
        digest.id,
        pdf.render_pdf("digest/print.html", context, metadata=metadata),
    )
    return digest


def store(session: Session, *, digest: Digest) -> Digest:
    """Keep a rendered digest; the newest one is "latest"."""
    session.add(digest)
    return digest


def _store_pdf(data_dir: Path, digest_id: str, content: bytes) -> str:
    relative = Path("digests") / f"{digest_id}.pdf"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(content)
    partial.replace(target)  # readers never see half a file
    return relative.as_posix()


def latest(session: Session) -> Digest:
    """The newest stored digest, or DigestNotFound."""
    digest = session.scalar(
        select(Digest).order_by(desc(Digest.created_at), desc(Digest.id)).limit(1)
    )
    if digest is None:
        raise DigestNotFound("no digest yet: run `relay digest --period week`")
    return digest


def pdf_file(settings: Settings, digest: Digest) -> Path:
    """The stored PDF of `digest`, or DigestNotFound when it is missing."""
    path = settings.data_dir / digest.pdf_path if digest.pdf_path else None
    if path is None or not path.is_file():
        raise DigestNotFound(f"the PDF of digest {digest.id} is missing; generate a new digest")
    return path
