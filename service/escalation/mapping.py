"""Fixed mappings from TAXONOMY.md ids: Jira labels and components, readable names, the
behaviour a product area promises, and the checks an analyst runs before escalating."""

from __future__ import annotations

from collections.abc import Mapping

RELAY_LABEL = "relay"
THEME_LABEL_PREFIX = "relay-theme-"

AREA_LABELS: Mapping[str, str] = {
    "payment_intents": "Payment Intents API",
    "cards": "Cards",
    "ewallets": "E-wallets",
    "qrph": "QR Ph",
    "online_banking": "Online banking",
    "bnpl": "Buy now, pay later",
    "checkout": "Checkout",
    "links": "Links and Pages",
    "sources_legacy": "Sources (legacy)",
    "refunds": "Refunds",
    "disputes": "Disputes",
    "webhooks": "Webhooks",
    "subscriptions": "Subscriptions",
    "payouts": "Payouts",
    "account_activation": "Account activation",
    "plugins": "Plugins",
    "api_access": "API access",
    "dashboard": "Dashboard",
    "other": "Other",
}

METHOD_LABELS: Mapping[str, str] = {
    "card": "cards",
    "gcash": "GCash",
    "paymaya": "Maya",
    "grab_pay": "GrabPay",
    "shopee_pay": "ShopeePay",
    "qrph": "QR Ph",
    "dob": "online banking",
    "billease": "BillEase",
}

# What the product promises in each area: the "expected" half of expected-vs-actual.
EXPECTED: Mapping[str, str] = {
    "payment_intents": "Creating, attaching and confirming a Payment Intent with valid "
    "parameters succeeds, and errors name the parameter at fault.",
    "cards": "Valid cards are authorised (with 3DS where required) and declines carry a "
    "sub_code the merchant can act on.",
    "ewallets": "The customer is redirected to the e-wallet, authorises, and the payment "
    "becomes paid with a payment.paid event.",
    "qrph": "A QR Ph code is generated, scannable until it expires, and a scan pays it.",
    "online_banking": "The bank redirect and OTP complete and the payment becomes paid.",
    "bnpl": "The BillEase flow completes and the payment becomes paid.",
    "checkout": "The Checkout Session page loads, takes payment and returns to the success URL.",
    "links": "The Link or Page collects payment and shows it as paid.",
    "sources_legacy": "A chargeable Source can be turned into a Payment.",
    "refunds": "An eligible refund is accepted and reaches the customer.",
    "disputes": "Disputes are visible with their evidence deadline and outcome.",
    "webhooks": "Every event is delivered to the merchant's enabled webhook with a "
    "verifiable signature, and retried on failure.",
    "subscriptions": "Subscriptions renew and invoice on schedule.",
    "payouts": "Settled funds are paid out to the merchant's bank on schedule.",
    "account_activation": "A complete application is reviewed and payment methods activated.",
    "plugins": "The platform plugin takes payments with the merchant's configured keys.",
    "api_access": "Valid keys authenticate, in the mode of the key.",
    "dashboard": "Dashboard pages, reports and exports load and complete.",
    "other": "The product behaves as documented.",
}


def area_label(area: str) -> str:
    return AREA_LABELS.get(area, area.replace("_", " "))


def method_label(method: str | None) -> str:
    return METHOD_LABELS.get(method or "", (method or "").replace("_", " "))


def theme_label(theme_id: str) -> str:
    """The Jira label that finds Relay's issue for a theme (no spaces: a Jira label)."""
    return f"{THEME_LABEL_PREFIX}{theme_id}"


def issue_labels(*, theme_id: str, area: str, method: str | None) -> tuple[str, ...]:
    labels = [RELAY_LABEL, theme_label(theme_id), f"area-{area}"]
    if method:
        labels.append(f"method-{method}")
    return tuple(labels)


def components(area: str) -> tuple[str, ...]:
    """The Jira component owning `area` (none for `other`)."""
    return () if area == "other" or area not in AREA_LABELS else (AREA_LABELS[area],)
