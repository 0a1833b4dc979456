"""The label ids of TAXONOMY.md. Part of the public contract: never rename one."""

from __future__ import annotations

from typing import Literal, get_args

ProductArea = Literal[
    "payment_intents",
    "cards",
    "ewallets",
    "qrph",
    "online_banking",
    "bnpl",
    "checkout",
    "links",
    "sources_legacy",
    "refunds",
    "disputes",
    "webhooks",
    "subscriptions",
    "payouts",
    "account_activation",
    "plugins",
    "api_access",
    "dashboard",
    "other",
]
PaymentMethod = Literal[
    "card", "gcash", "paymaya", "grab_pay", "shopee_pay", "qrph", "dob", "billease"
]
Category = Literal[
    "bug", "feature_request", "docs_gap", "how_to", "misconfiguration", "friction", "incident"
]
Environment = Literal["test", "live", "unknown"]
Severity = Literal["low", "medium", "high", "critical"]

PRODUCT_AREAS: tuple[str, ...] = get_args(ProductArea)
PAYMENT_METHODS: tuple[str, ...] = get_args(PaymentMethod)
CATEGORIES: tuple[str, ...] = get_args(Category)
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
SEVERITIES: tuple[str, ...] = get_args(Severity)
