"""Every lint rule fails its fixture with a clear file:line message, and only that rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.content.findings import RULES
from service.content.lint import Finding, lint_library, lint_markdown

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
TODAY = dt.date(2026, 11, 26)

# rule → [(line, message fragment)], one entry per finding the fixture must produce
EXPECTED: dict[str, list[tuple[int, str]]] = {
    "front-matter": [
        (1, "front matter lacks 'owner'"),
        (5, "reviewed_at '26/11/2026' must be a date (YYYY-MM-DD)"),
        (7, "applies_to names 'gcash_wallet'"),
    ],
    "stale": [(6, "reviewed_at 2025-01-15 is 680 days old (limit 180")],
    "sections": [(11, "missing required section '## Cause'"), (20, "'## Related' is empty")],
    "failure-codes": [
        (35, "`GCASH_TIMEOUT` is not in errors.yaml"),
        (36, "item names no code in backticks"),
    ],
    "checklist": [(19, "ticked item"), (20, "item is not a task")],
    "secret": [
        (14, "line holds a card number (redacted as [REDACTED:PAN] in tickets)"),
        (15, "line holds a CVC"),
        (19, "line holds a secret key or credential"),
    ],
    "dead-link": [
        (26, "dead link '../integrations/guide-webhooks.md': no such file in the library"),
        (27, "relay:webhook-retries names no document"),
    ],
    "json": [(20, "block marked json does not parse: Expecting value (column 3)")],
    "amount-unit": [
        (14, "amount 100 has no unit; write '100 centavos' or the peso figure with ₱"),
        (21, "code sets amount 100 but this section never says the unit"),
        (26, "'₱100 centavos' mixes pesos (₱/PHP) and centavos"),
        (29, "amount 100.5 in code: amounts are whole centavos"),
    ],
    "banned-word": [(22, "avoid 'just'"), (22, "avoid 'simply'")],
    "person": [
        (22, "'The merchant should' speaks about the reader"),
        (22, "'We' is first person plural"),
    ],
    "sentence-length": [(22, "sentence has 48 words (at most 35)")],
}


def lint_fixture(name: str, *, max_sentence_words: int = 35) -> list[Finding]:
    path = FIXTURES / "failing" / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    label = f"failing/{name}.md"
    return lint_markdown(
        label, text, kind=None, today=TODAY, max_age_days=180, max_sentence_words=max_sentence_words
    )


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_each_rule_fails_its_fixture_and_nothing_else(rule: str) -> None:
    findings = lint_fixture(rule)
    assert {f.rule_id for f in findings} == {rule}, [str(f) for f in findings]
    assert len(findings) == len(EXPECTED[rule]), [str(f) for f in findings]
    for finding, (line, fragment) in zip(findings, EXPECTED[rule], strict=True):
        assert finding.line == line, str(finding)
        assert fragment in finding.message, str(finding)
        assert str(finding).startswith(f"failing/{rule}.md:{line}: {rule}: ")


def test_every_rule_has_a_failing_fixture() -> None:
    library_rules = {"duplicate-id", "catalogue"}  # need a whole folder: tested below
    assert set(EXPECTED) | library_rules == set(RULES)


def test_warnings_say_so_and_errors_do_not() -> None:
    (warning,) = lint_fixture("sentence-length")
    assert warning.severity == "warning"
    assert ": sentence-length: warning: sentence has 48 words" in str(warning)
    (error,) = lint_fixture("stale")
    assert error.severity == "error" and "warning" not in str(error)


def test_limits_are_configurable() -> None:
    assert lint_fixture("sentence-length", max_sentence_words=60) == []
    stale = FIXTURES / "failing" / "stale.md"
    text = stale.read_text(encoding="utf-8")
    assert lint_markdown("s.md", text, kind=None, today=TODAY, max_age_days=1000) == []


def test_a_clean_faq_entry_passes_and_the_caller_may_supply_its_kind() -> None:
    path = FIXTURES / "passing" / "faq-webhook-disabled.md"
    text = path.read_text(encoding="utf-8")
    assert lint_markdown("faq.md", text, kind="faq", today=TODAY, max_age_days=180) == []
    without_kind = text.replace("kind: faq\n", "")
    assert lint_markdown("faq.md", without_kind, kind="faq", today=TODAY, max_age_days=180) == []
    (finding,) = lint_markdown("f.md", text, kind="checklist", today=TODAY, max_age_days=180)[:1]
    assert "kind 'faq' where a 'checklist' document is expected" in finding.message


def test_text_without_front_matter_is_one_clear_finding() -> None:
    (finding,) = lint_markdown(
        "faq:7", "## Symptoms\n\nIt fails.\n", kind="faq", today=TODAY, max_age_days=180
    )
    assert str(finding) == (
        "faq:7:1: front-matter: front matter cannot be read: "
        "faq:7:1: a Markdown document must open with '---' front matter"
    )


def test_duplicate_ids_name_both_files() -> None:
    root = FIXTURES / "libraries" / "duplicate-id"
    (finding,) = lint_library(root, max_age_days=180, today=TODAY)
    assert finding.rule_id == "duplicate-id" and finding.line == 1
    assert finding.path_label.endswith("duplicate-id/two/faq-dup.md")
    assert finding.message.startswith("id 'faq-dup' is also used by ")
    assert finding.message.endswith("duplicate-id/one/faq-dup.md")


def test_the_catalogue_is_validated_with_its_schema() -> None:
    root = FIXTURES / "libraries" / "catalogue"
    (finding,) = lint_library(root, max_age_days=180, today=TODAY)
    assert (finding.rule_id, finding.line) == ("catalogue", 10)
    assert finding.message == "codes.0.kind: Input should be 'api', 'decline' or 'provider'"


def test_library_files_follow_the_id_file_and_folder_conventions(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "briefs" / "payment-methods" / "pm-gcash.md"
    misplaced = tmp_path / "guides" / "gcash.md"
    misplaced.parent.mkdir()
    text = shipped.read_text(encoding="utf-8").replace("id: pm-gcash", "id: pm-gcash-wallet")
    misplaced.write_text(text, encoding="utf-8")
    findings = lint_library(tmp_path, max_age_days=180, today=TODAY)
    messages = [f.message for f in findings if f.rule_id == "front-matter"]
    assert "id 'pm-gcash-wallet' must be 'pm-gcash' for payment_method 'gcash'" in messages
    assert "file name 'gcash.md' must be the id: pm-gcash-wallet.md" in messages
    assert "a payment_method document belongs in payment-methods/, not guides/" in messages
    assert len(findings) == 3, [str(f) for f in findings]


def test_future_review_dates_and_missing_sources_are_refused() -> None:
    path = FIXTURES / "failing" / "checklist.md"
    text = path.read_text(encoding="utf-8").replace(
        "reviewed_at: 2026-11-20", "reviewed_at: 2027-01-01"
    )
    text = text.replace(
        "sources:\n  - https://developers.paymongo.com/docs/developer-tools-go-live-checklist\n",
        "sources:\n  - http://example.com/insecure\n",
    )
    messages = [
        f.message
        for f in lint_markdown("c.md", text, kind=None, today=TODAY, max_age_days=180)
        if f.rule_id == "front-matter"
    ]
    assert messages == [
        "reviewed_at 2027-01-01 is in the future",
        "source 'http://example.com/insecure' is not an https:// URL",
    ]


def test_faq_entries_use_their_review_states_and_library_files_theirs() -> None:
    text = (FIXTURES / "passing" / "faq-webhook-disabled.md").read_text(encoding="utf-8")
    approved = text.replace("status: published", "status: approved")
    assert lint_markdown("faq.md", approved, kind="faq", today=TODAY, max_age_days=180) == []
    as_checklist = approved.replace("kind: faq", "kind: checklist")
    messages = [
        f.message
        for f in lint_markdown("c.md", as_checklist, kind=None, today=TODAY, max_age_days=180)
        if f.rule_id == "front-matter"
    ]
    assert "status 'approved' is not one of: draft, published, retired" in messages
    flagged = text.replace("status: published", "status: stale")
    assert lint_markdown("faq.md", flagged, kind="faq", today=TODAY, max_age_days=1) == []
