"""The brief request web form: raw form values in, a BriefIn or messages per field out."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from service.briefs.schemas import BriefIn

AMOUNT = re.compile(
    r"^\s*(?:₱|php)?\s*(?P<number>[0-9][0-9,]*(?:\.[0-9]{1,2})?)\s*$", re.IGNORECASE
)
# Messages a person can act on, by (field, pydantic error type); others are cleaned up.
MESSAGES = {
    ("merchant_name", "missing"): "Enter the merchant's name.",
    ("merchant_name", "string_too_short"): "Enter the merchant's name.",
    ("payment_methods", "too_short"): "Choose at least one payment method.",
    ("payment_methods", "missing"): "Choose at least one payment method.",
    ("integration_channel", "missing"): "Choose an integration channel.",
    ("go_live_date", "date_from_datetime_parsing"): "Enter a date as YYYY-MM-DD.",
    ("go_live_date", "date_parsing"): "Enter a date as YYYY-MM-DD.",
    ("segment", "literal_error"): "Choose a segment from the list.",
}
AMOUNT_FIELDS = ("monthly_volume_php", "average_ticket_php")


class BriefForm(BaseModel):
    """The form as posted: every field optional text, so nothing is lost on error."""

    model_config = ConfigDict(extra="ignore")

    merchant_name: str = ""
    website: str = ""
    industry: str = ""
    segment: str = ""
    monthly_volume_php: str = ""
    average_ticket_php: str = ""
    payment_methods: list[str] = []
    integration_channel: str = ""
    platform_name: str = ""
    tech_stack: str = ""
    go_live_date: str = ""
    questions: str = ""
    contact_email: str = ""


def parse(form: BriefForm) -> tuple[BriefIn | None, dict[str, str]]:
    """(the request, {}) when valid, else (None, {field: message})."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in form.model_dump().items():
        if isinstance(value, str):
            value = value.strip()
        if name in AMOUNT_FIELDS and value:
            value = _amount(value, name, errors)
        data[name] = value if value not in ("", None) else None
    data["payment_methods"] = form.payment_methods
    try:
        request = BriefIn.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(field, _message(field, error))
        return None, errors
    return (request, {}) if not errors else (None, errors)


def _amount(value: str, name: str, errors: dict[str, str]) -> float | None:
    match = AMOUNT.match(value)
    if match is None:
        errors[name] = "Enter an amount in pesos, such as 250,000 or 1499.50."
        return None
    return float(match.group("number").replace(",", ""))


def _message(field: str, error: Any) -> str:
    known = MESSAGES.get((field, str(error["type"])))
    if known:
        return known
    text = str(error["msg"]).removeprefix("Value error, ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
