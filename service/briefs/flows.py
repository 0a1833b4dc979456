"""The payment flow of each integration path, as a sequence diagram."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from service.render.svg import Step, sequence_diagram

REDIRECT_METHODS = {
    "card": "3DS",
    "gcash": "GCash",
    "paymaya": "Maya",
    "grab_pay": "GrabPay",
    "shopee_pay": "ShopeePay",
    "dob": "bank",
    "billease": "BillEase",
}


def _authorization(methods: Sequence[str]) -> str:
    names = [REDIRECT_METHODS[m] for m in methods if m in REDIRECT_METHODS]
    if "qrph" in methods and not names:
        return "Scans the QR Ph code in a bank or e-wallet app"
    shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    qr = " or scans QR Ph" if "qrph" in methods else ""
    return f"Authorizes ({shown}){qr}"


def _api(methods: Sequence[str]) -> tuple[list[str], list[Step]]:
    actors = ["Customer", "Merchant app", "Merchant server", "PayMongo"]
    return actors, [
        Step(2, 3, "Create Payment Intent (secret key)"),
        Step(3, 2, "client_key"),
        Step(2, 1, "client_key to the app"),
        Step(1, 3, "Create + attach Payment Method"),
        Step(3, 0, "3DS page, wallet redirect or QR"),
        Step(0, 3, _authorization(methods)),
        Step(3, 2, "Webhook payment.paid"),
        Step(2, 1, "Order confirmed"),
    ]


def _checkout(methods: Sequence[str]) -> tuple[list[str], list[Step]]:
    actors = ["Customer", "Merchant server", "PayMongo Checkout"]
    return actors, [
        Step(0, 1, "Places the order"),
        Step(1, 2, "Create Checkout Session (line items)"),
        Step(2, 1, "checkout_url"),
        Step(1, 0, "Redirect to checkout_url"),
        Step(0, 2, _authorization(methods)),
        Step(2, 0, "Redirect to success_url"),
        Step(2, 1, "Webhook checkout_session.payment.paid"),
    ]


def _links(methods: Sequence[str]) -> tuple[list[str], list[Step]]:
    actors = ["Customer", "Merchant (dashboard)", "PayMongo Links"]
    return actors, [
        Step(1, 2, "Create a link (amount, description)"),
        Step(2, 1, "Link URL"),
        Step(1, 0, "Share the link (chat, email, SMS)"),
        Step(0, 2, "Opens the link page"),
        Step(0, 2, _authorization(methods)),
        Step(2, 1, "Webhook link.payment.paid / dashboard"),
    ]


def _plugin(platform: str, methods: Sequence[str]) -> tuple[list[str], list[Step]]:
    actors = ["Customer", f"{platform} store + plugin", "PayMongo"]
    return actors, [
        Step(0, 1, "Checks out, picks PayMongo"),
        Step(1, 2, "Plugin creates the payment"),
        Step(2, 0, "Payment page or redirect"),
        Step(0, 2, _authorization(methods)),
        Step(2, 1, "Webhook: plugin marks order paid"),
        Step(1, 0, "Order confirmation"),
    ]


def flow_diagram(channel: str, methods: Sequence[str]) -> Markup:
    """The sequence diagram of `channel` for the chosen payment methods."""
    if channel == "payment_intents_api":
        actors, steps = _api(methods)
    elif channel == "links":
        actors, steps = _links(methods)
    elif channel in ("shopify", "woocommerce"):
        actors, steps = _plugin("Shopify" if channel == "shopify" else "WooCommerce", methods)
    else:
        actors, steps = _checkout(methods)
    return sequence_diagram(actors, steps, title=f"Payment flow: {channel}")
