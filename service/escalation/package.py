"""The escalation package: what Engineering needs to act on a theme, as a plain view model,
rendered to Jira wiki markup by `templates/escalation/issue.txt.j2`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from service.escalation import mapping, wiki
from service.feedback.models import Feedback
from service.structuring.catalogue import load_catalogue
from service.themes import service as themes_service
from service.themes.models import Theme

T = TypeVar("T", bound=Hashable)
EXAMPLES = 5  # example cases quoted in full
TICKET_LINKS = 25  # helpdesk tickets linked by name; the rest are counted
MEMBERS_READ = 500
# Endpoints as merchants quote them: "POST /v1/payment_intents/pi_…/attach", or a URL.
_ENDPOINT = re.compile(
    r"\b(?:(GET|POST|PUT|PATCH|DELETE)\s+)?(?:https://api\.paymongo\.com)?"
    r"(/v[12]/[a-z_]+(?:/[A-Za-z0-9_{}]+){0,3})"
)
# A card number the merchant called a test card (redaction removed the number itself).
_TEST_CARD = re.compile(
    r"(?i)test\s+card[^.\n]{0,80}\[REDACTED:PAN\]|\[REDACTED:PAN\][^.\n]{0,40}test"
)


@dataclass(frozen=True)
class CodeFact:
    code: str
    records: int
    meaning: str | None
    fix: str | None


@dataclass(frozen=True)
class Example:
    record_id: str
    ticket: str
    url: str | None
    merchant: str
    seen: datetime
    environment: str
    resource_ids: tuple[str, ...]
    observed: tuple[str, ...]  # its codes and "HTTP <status>"es
    subject: str
    excerpt: str


@dataclass(frozen=True)
class Package:
    theme_id: str
    title: str
    status: str
    product_area: str
    product_area_label: str
    payment_method: str | None
    category: str
    severity: str
    problem: str
    expected: str
    actual: str
    codes: tuple[CodeFact, ...]
    http_statuses: str  # "401 (7 records), 429 (4 records)"
    observed: tuple[str, ...]  # the top codes and "HTTP <status>"es, for reproduction
    event_types: tuple[str, ...]
    environments: tuple[tuple[str, int], ...]
    endpoints: tuple[str, ...]
    test_card_records: int
    examples: tuple[Example, ...]
    records: int
    merchants: int
    tpv_at_risk_php: int
    last_7d: int
    previous_7d: int
    trend: str
    first_seen: datetime | None
    last_seen: datetime | None
    tickets: tuple[tuple[str, str | None], ...]  # (external id, url)
    more_tickets: int
    fix_text: str | None
    label: str


def build(session: Session, *, theme: Theme) -> Package:
    """Assemble the package for `theme` from its live records (newest first)."""
    records = [
        record
        for _, record in themes_service.members(session, theme_id=theme.id, limit=MEMBERS_READ)
        if not record.deleted
    ]
    codes = _counted(code for r in records for code in r.error_codes)
    statuses = _counted(s for r in records for s in r.http_statuses)
    area = theme.product_area or "other"
    tickets = [(r.external_id, r.external_url) for r in records if r.source != "api"]
    return Package(
        theme_id=theme.id,
        title=theme.title,
        status=theme.status,
        product_area=area,
        product_area_label=mapping.area_label(area),
        payment_method=theme.payment_method,
        category=theme.category or "how_to",
        severity=theme.max_severity,
        problem=_problem(theme, records),
        expected=_expected(theme),
        actual=_actual(theme, codes, records),
        codes=tuple(_code_fact(code, n) for code, n in codes),
        http_statuses=", ".join(f"{s} ({n} records)" for s, n in statuses),
        observed=tuple(str(c) for c, _ in codes[:3]) + tuple(f"HTTP {s}" for s, _ in statuses[:3]),
        event_types=tuple(c for c, _ in _counted(e for r in records for e in r.event_types)),
        environments=tuple(_counted(r.environment for r in records)),
        endpoints=tuple(c for c, _ in _counted(_endpoints(records)))[:8],
        test_card_records=sum(1 for r in records if _TEST_CARD.search(r.text or "")),
        examples=tuple(_example(r) for r in _examples(records)),
        records=theme.record_count,
        merchants=theme.merchant_count,
        tpv_at_risk_php=theme.tpv_at_risk_php,
        last_7d=theme.last_7d,
        previous_7d=theme.previous_7d,
        trend=_trend(theme),
        first_seen=theme.first_seen,
        last_seen=theme.last_seen,
        tickets=tuple(tickets[:TICKET_LINKS]),
        more_tickets=max(len(tickets) - TICKET_LINKS, 0),
        fix_text=theme.fix_text,
        label=mapping.theme_label(theme.id),
    )


def render(package: Package) -> str:
    """The Jira issue description (wiki markup)."""
    return wiki.render("issue.txt.j2", {"p": package})


def growth_comment(package: Package, *, marker: str) -> str:
    """The Jira comment telling Engineering the theme has grown (wiki markup)."""
    return wiki.render("growth.txt.j2", {"p": package, "marker": marker})


def summary(package: Package) -> str:
    """The issue summary: one line, within Jira's 255 characters."""
    return wiki.one_line(f"[Relay] {package.title}", 250)


# ---------------------------------------------------------------- pieces


def _counted(values: Iterable[T]) -> list[tuple[T, int]]:
    """Distinct values, most frequent first (first seen breaks ties)."""
    return Counter(values).most_common()


def _code_fact(code: str, records: int) -> CodeFact:
    entry = load_catalogue().lookup(str(code))
    return CodeFact(
        code=str(code),
        records=records,
        meaning=entry.meaning if entry else None,
        fix=entry.fix if entry else None,
    )


def _problem(theme: Theme, records: Sequence[Feedback]) -> str:
    method = f" with {mapping.method_label(theme.payment_method)}" if theme.payment_method else ""
    kind = (theme.category or "how_to").replace("_", " ")
    return (
        f"{theme.merchant_count} merchant(s) reported in {theme.record_count} ticket(s) a {kind} "
        f"in {mapping.area_label(theme.product_area or 'other')}{method}: "
        f'"{theme.title}".'
    )


def _expected(theme: Theme) -> str:
    return mapping.EXPECTED.get(theme.product_area or "other", mapping.EXPECTED["other"])


def _actual(theme: Theme, codes: list[tuple[str, int]], records: Sequence[Feedback]) -> str:
    if codes:
        top = ", ".join(f"{code} ({n} records)" for code, n in codes[:3])
        return f"Merchants get {top} instead."
    statuses = _counted(s for r in records for s in r.http_statuses)
    if statuses:
        return f"Merchants get HTTP {', '.join(str(s) for s, _ in statuses[:3])} instead."
    first = records[-1].subject if records else theme.title
    return f'Merchants describe it as: "{wiki.one_line(first, 200)}".'


def _endpoints(records: Sequence[Feedback]) -> Iterable[str]:
    for record in records:
        for match in _ENDPOINT.finditer(record.text or ""):
            method, path = match.group(1), match.group(2)
            yield f"{method} {path}" if method else path


def _examples(records: Sequence[Feedback]) -> list[Feedback]:
    """The records that tell Engineering most: resource ids, then codes, newest first."""
    ranked = sorted(
        records, key=lambda r: (bool(r.resource_ids), bool(r.error_codes)), reverse=True
    )
    return ranked[:EXAMPLES]


def _example(record: Feedback) -> Example:
    return Example(
        record_id=record.id,
        ticket=record.external_id,
        url=record.external_url,
        merchant=record.merchant_name or record.merchant_id or "unknown merchant",
        seen=record.source_created_at or record.created_at,
        environment=record.environment,
        resource_ids=tuple(record.resource_ids[:6]),
        observed=tuple(record.error_codes[:6])
        + tuple(f"HTTP {s}" for s in record.http_statuses[:4]),
        subject=record.subject,
        excerpt=wiki.one_line(record.description or record.text, 280),
    )


def _trend(theme: Theme) -> str:
    if theme.previous_7d == 0:
        return "new this week" if theme.last_7d else "quiet for two weeks"
    change = (theme.last_7d - theme.previous_7d) / theme.previous_7d
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    return f"{direction} {abs(change):.0%} week on week"
