"""The error-code catalogue (briefs/errors.yaml): complete, well-formed, sourced."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from service.structuring.catalogue import CATALOGUE_PATH, load_catalogue, parse_catalogue
from tests.structuring.test_extraction import tickets

# The research notes live beside the repository (shared/), read only by this test.
FACTS = Path(__file__).resolve().parents[3] / "shared" / "design" / "PAYMONGO-FACTS.md"


def _words(text: str) -> list[str]:
    return text.split()


# Every code PAYMONGO-FACTS.md names (sections A2: API codes, decline sub_codes,
# e-wallet / bank / QR failure codes).
FACT_CODES = _words("""
parameter_required parameter_invalid parameter_data_type_invalid parameter_format_invalid
parameter_below_minimum parameter_above_maximum organization_not_allowed resource_not_found
livemode_mismatched resource_failed_state resource_processing_state resource_pending_state
resource_disputed_state refund_not_allowed allowed_date_exceeded available_balance_insufficient
payment_method_not_allowed provider_processing_error resource_processing_error
allowed_amount_exceeded
generic_decline do_not_honor payment_refused insufficient_funds debit_card_usage_limit_exceeded
issuer_declined issuer_not_available amount_allowed_exceeded call_card_issuer card_not_supported
card_type_mismatch card_unauthorized credit_limit_exceeded currency_not_supported_by_card_issuer
card_expired fraudulent highest_risk_level lost_card pickup_card processor_blocked restricted_card
stolen_card blocked avs_failed card_not_accepted config_invalid_or_missing customer_blacklisted
merchant_configuration_invalid processing_error processor_declined processor_timeout system_error
acquirer_declined authentication_error server_timeout service_timeout unknown_error
card_number_invalid cvc_invalid cvc_incorrect
CLOSED AMOUNT_EXCEED_LIMIT PARAM_MISSING REPEAT_REQ_INCONSISTENT SYSTEM_ERROR
PY0105 PY0119 PY0123 PY0116
FTUBE002 provider_otp_suspended FTUBE003 provider_otp_invalid FTUBE004 provider_otp_expired
FTUBE010 provider_account_insufficient_balance FTUBE012 provider_api_invalid_sequence
FTUSE999 provider_request_not_successful TF transaction_failed NC network_issue
RJCT unknown_processing_error
""")

FACT_EVENTS = _words("""
source.chargeable payment.paid payment.failed payment.refunded payment.refund.updated
checkout_session.payment.paid link.payment.paid qrph.expired
payment_intent.succeeded payment_intent.awaiting_payment_method refund.succeeded
dispute.created dispute.resolved qr.paid qr.expired payout.deposited payout.returned
subscription.activated subscription.updated subscription.past_due subscription.unpaid
subscription.invoice.created subscription.invoice.finalized subscription.invoice.updated
subscription.invoice.paid subscription.invoice.payment_failed workflow.completed workflow.failed
refund.created payout.created payment.pending
""")


def test_header_is_reviewed_published_content() -> None:
    catalogue = load_catalogue()
    assert catalogue.id == "error-catalogue"
    assert catalogue.status == "published"
    assert catalogue.reviewed_at == dt.date(2026, 11, 26)
    assert catalogue.title and catalogue.owner and catalogue.applies_to


def test_loaded_once_per_process() -> None:
    assert load_catalogue() is load_catalogue()


@pytest.mark.parametrize("code", FACT_CODES)
def test_every_code_in_the_facts_is_catalogued(code: str) -> None:
    entry = load_catalogue().lookup(code)
    assert entry is not None and entry.code == code


def test_every_corpus_code_and_event_is_catalogued() -> None:
    catalogue = load_catalogue()
    for ticket in tickets():
        labels = ticket["labels"]
        assert set(labels["error_codes"]) <= set(catalogue.codes), ticket["id"]
        assert set(labels["event_types"]) <= catalogue.event_types, ticket["id"]


def test_event_types_are_the_facts_events() -> None:
    assert load_catalogue().event_types == frozenset(FACT_EVENTS)


def test_spelling_follows_the_taxonomy() -> None:
    """API codes and sub_codes are lower snake case; provider codes keep their case."""
    for entry in load_catalogue().codes.values():
        if entry.kind in ("api", "decline"):
            assert re.fullmatch(r"[a-z]+(?:_[a-z]+)*", entry.code), entry.code
        else:
            assert entry.code.isupper() or entry.code.islower(), entry.code


def test_lookup_is_case_sensitive() -> None:
    catalogue = load_catalogue()
    gcash, card = catalogue.lookup("SYSTEM_ERROR"), catalogue.lookup("system_error")
    assert gcash is not None and card is not None
    assert (gcash.payment_method, card.payment_method) == ("gcash", "card")
    assert catalogue.lookup("Closed") is None


def test_provider_pairs_point_at_each_other() -> None:
    catalogue = load_catalogue()
    for entry in catalogue.codes.values():
        for other in entry.related:
            assert entry.code in catalogue.codes[other].related, (entry.code, other)


def test_entries_are_sourced_and_say_what_to_do() -> None:
    facts = FACTS.read_text(encoding="utf-8") if FACTS.exists() else None
    for entry in load_catalogue().codes.values():
        assert entry.fix.strip() and entry.meaning.strip()
        if facts is not None:
            assert entry.source in facts, (entry.code, entry.source)


def test_uncertain_facts_are_flagged() -> None:
    catalogue = load_catalogue()
    derived = catalogue.lookup("allowed_amount_exceeded")
    assert derived is not None and derived.uncertain
    events = {event.name: event for event in catalogue.events}
    assert not events["payment.paid"].uncertain
    assert events["subscription.past_due"].uncertain and events["refund.created"].uncertain


def _raw() -> dict[str, object]:
    loaded = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize(
    ("field", "value"),
    [("product_area", "e_wallets"), ("payment_method", "maya"), ("kind", "bank")],
)
def test_ids_outside_the_taxonomy_are_rejected(field: str, value: str) -> None:
    raw = _raw()
    codes = raw["codes"]
    assert isinstance(codes, list)
    codes[0] = {**codes[0], field: value}
    with pytest.raises(ValidationError):
        parse_catalogue(yaml.safe_dump(raw))


def test_duplicate_codes_are_rejected() -> None:
    raw = _raw()
    codes = raw["codes"]
    assert isinstance(codes, list)
    codes.append(dict(codes[0]))
    with pytest.raises(ValidationError, match="duplicate"):
        parse_catalogue(yaml.safe_dump(raw))
