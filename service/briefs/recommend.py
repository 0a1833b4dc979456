"""The integration-path recommender: a few explicit rules, each stating why it applies.

Rules are tried in order and the first that matches decides. Every reason is written for
the merchant's reader of the brief, and the channel the merchant asked for is kept beside
the recommendation so that a disagreement is visible rather than silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.briefs.schemas import BriefIn

CHANNEL_LABELS = {
    "payment_intents_api": "Payment Intents API",
    "checkout": "Checkout (hosted)",
    "links": "Links",
    "shopify": "Shopify plugin",
    "woocommerce": "WooCommerce plugin",
    "other": "Other platform",
}
PLATFORMS = {"shopify": "shopify", "woocommerce": "woocommerce", "woo commerce": "woocommerce"}
# Words in a request that mean the merchant builds its own payment experience.
CUSTOM_FLOW = re.compile(
    r"\b(in-app|mobile app|native|custom|embedded|own ui|white-label|save(?:d)? cards?|"
    r"vault|subscription|recurring|hold|capture|marketplace|split)\w*",
    re.IGNORECASE,
)
LARGE_SEGMENTS = ("enterprise", "platform")
NO_CODE_VOLUME_PHP = 500_000  # monthly volume above which sending links by hand stops scaling


@dataclass(frozen=True)
class Recommendation:
    channel: str
    requested: str
    reasons: list[str]
    notes: list[str] = field(default_factory=list)
    to_confirm: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self.channel]

    @property
    def differs(self) -> bool:
        return self.channel != self.requested


def recommend(request: BriefIn) -> Recommendation:
    """Pick the integration path for `request`, with the reasons that decided it."""
    for rule in (_platform_plugin, _links, _custom_flow, _small_team, _other_platform):
        found = rule(request)
        if found is not None:
            return found
    return _as_requested(request)


def _platform(request: BriefIn) -> str | None:
    if request.integration_channel in ("shopify", "woocommerce"):
        return request.integration_channel
    named = (request.platform_name or "").strip().lower()
    return next((plugin for word, plugin in PLATFORMS.items() if word in named), None)


def _has_team(request: BriefIn) -> bool:
    return bool(request.tech_stack)


def _wants_custom_flow(request: BriefIn) -> bool:
    text = " ".join(filter(None, (request.questions, request.tech_stack)))
    return CUSTOM_FLOW.search(text) is not None


def _platform_plugin(request: BriefIn) -> Recommendation | None:
    plugin = _platform(request)
    if plugin is None:
        return None
    reasons = [
        f"The store runs on {CHANNEL_LABELS[plugin].removesuffix(' plugin')}: the plugin adds "
        "PayMongo to its checkout without custom payment code.",
        "Order status follows the payment through the plugin's webhook handling.",
    ]
    notes = []
    if _wants_custom_flow(request):
        notes.append(
            "The questions mention a custom flow; a plugin covers the platform's standard "
            "checkout only. The Payment Intents API is the path if that flow is a must."
        )
    return Recommendation(plugin, request.integration_channel, reasons, notes)


def _links(request: BriefIn) -> Recommendation | None:
    if request.integration_channel != "links":
        return None
    reasons = ["Links need no code: a payment page is created in the dashboard and shared."]
    notes = []
    if (request.monthly_volume_php or 0) > NO_CODE_VOLUME_PHP or _has_team(request):
        notes.append(
            "At this volume, or with a development team, Checkout automates what Links "
            "leaves to people (one session per order, confirmed by webhook)."
        )
    return Recommendation("links", "links", reasons, notes)


def _custom_flow(request: BriefIn) -> Recommendation | None:
    if not _has_team(request):
        return None
    large = request.segment in LARGE_SEGMENTS
    if not (_wants_custom_flow(request) or request.integration_channel == "payment_intents_api"):
        return None
    reasons = [
        "A development team is named (" + str(request.tech_stack) + "): it can own the "
        "server and client calls of the Payment Intent workflow.",
    ]
    if _wants_custom_flow(request):
        reasons.append(
            "The request describes a custom payment experience, which only the API "
            "leaves entirely in the merchant's hands."
        )
    if large:
        reasons.append("Larger merchants usually need the API's control over retries and states.")
    return Recommendation("payment_intents_api", request.integration_channel, reasons)


def _small_team(request: BriefIn) -> Recommendation | None:
    if request.integration_channel not in ("payment_intents_api", "checkout"):
        return None
    reasons = [
        "Checkout is a hosted payment page: the merchant's server creates a session and "
        "redirects, and PayMongo handles card entry, 3DS and e-wallet redirects.",
    ]
    if not _has_team(request):
        reasons.append("No development team or stack is named: Checkout needs the least code.")
    return Recommendation("checkout", request.integration_channel, reasons)


def _other_platform(request: BriefIn) -> Recommendation | None:
    if request.integration_channel != "other":
        return None
    platform = request.platform_name or "the platform"
    reasons = [
        f"There is no PayMongo plugin in this library for {platform}: Checkout works from "
        "any platform that can call an API and redirect.",
    ]
    to_confirm = [f"Whether a maintained PayMongo plugin exists for {platform}."]
    return Recommendation("checkout", "other", reasons, to_confirm=to_confirm)


def _as_requested(request: BriefIn) -> Recommendation:
    reason = f"{CHANNEL_LABELS[request.integration_channel]} is what the merchant asked for."
    return Recommendation(request.integration_channel, request.integration_channel, [reason])
