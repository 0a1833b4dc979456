"""The shipped library: it meets its own standards and covers every method and channel."""

from __future__ import annotations

import re

from service.config import Settings
from service.content.library import CHANNELS, LIBRARY_DIR, load_library
from service.content.lint import lint_library
from service.structuring.catalogue import load_catalogue
from service.structuring.taxonomy import PAYMENT_METHODS

LISTED_CODE = re.compile(r"^- `([^`]+)`", re.MULTILINE)


def test_the_shipped_library_has_no_findings() -> None:
    library = load_library()
    # Judged on the day of its newest review, so the suite does not start failing on a
    # calendar date; `relay docs lint` in CI judges age against the real date.
    newest = max(document.reviewed_at for document in library.documents.values())
    max_age = Settings(_env_file=None).content_max_age_days
    findings = lint_library(LIBRARY_DIR, max_age_days=max_age, today=newest)
    assert [str(finding) for finding in findings] == []


def test_every_payment_method_has_exactly_one_fact_sheet() -> None:
    sheets = load_library().of_kind("payment_method")
    by_method = {
        method: [d.id for d in sheets if d.meta.get("payment_method") == method]
        for method in PAYMENT_METHODS
    }
    assert by_method == {method: [f"pm-{method.replace('_', '-')}"] for method in PAYMENT_METHODS}
    assert len(sheets) == len(PAYMENT_METHODS)


def test_every_channel_has_exactly_one_guide() -> None:
    guides = load_library().of_kind("integration")
    by_channel = {
        channel: [d.id for d in guides if d.meta.get("channel") == channel] for channel in CHANNELS
    }
    assert by_channel == {channel: [f"guide-{channel.replace('_', '-')}"] for channel in CHANNELS}
    assert len(guides) == len(CHANNELS)


def test_every_listed_failure_code_is_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    for sheet in load_library().of_kind("payment_method"):
        codes = LISTED_CODE.findall(sheet.section("Common failures"))
        assert codes, sheet.id
        assert [code for code in codes if catalogue.lookup(code) is None] == [], sheet.id


def test_documents_are_selectable_by_what_they_apply_to() -> None:
    library = load_library()
    assert "pm-gcash" in [d.id for d in library.applying_to("gcash")]
    assert "guide-shopify" in [d.id for d in library.applying_to("shopify")]
    assert [d.id for d in library.of_kind("checklist")] == ["go-live-checklist"]
    errors = library.get("error-catalogue")
    assert errors is not None and errors.kind == "catalogue"  # YAML without `kind`
    card = library.get("pm-card")
    assert card is not None and "2000 centavos (₱20.00)" in card.section("Limits")
    assert card.sources and all(url.startswith("https://") for url in card.sources)


def test_uncertain_facts_are_marked_not_invented() -> None:
    # The facts note gives no ShopeePay refund rule: the sheet must say so, not guess.
    sheet = load_library().get("pm-shopee-pay")
    assert sheet is not None and sheet.section("Refunds").startswith("Uncertain:")
