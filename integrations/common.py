"""Pure helpers shared by every vendor edge: headers, signatures, JSON, times, text, merchants.

Nothing here knows a vendor; each vendor package passes in its own names and tables.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from integrations.contracts import (
    InvalidSignature,
    MerchantRef,
    NormalizedTicket,
    UnparseablePayload,
)

MAX_DELIVERY_KEY = 200
BODY_HASH_PREFIX = "sha256:"

# --------------------------------------------------------------------------- headers, keys


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The stripped value of header `name`, or None when absent or blank."""
    value = headers.get(name.lower())
    if value is None:
        # The contract promises lower-cased names; a direct caller might not honour it.
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if value is None:
        return None
    value = value.strip()
    return value or None


def body_hash(body: bytes) -> str:
    """A content-derived delivery key: `sha256:<hex>` of the raw body."""
    return BODY_HASH_PREFIX + hashlib.sha256(body).hexdigest()


def bounded_key(value: str | None, body: bytes) -> str:
    """`value` as a delivery key if usable, else the body hash; never longer than 200 chars."""
    if not value:
        return body_hash(body)
    if len(value) > MAX_DELIVERY_KEY:
        # Hash an oversized vendor id rather than truncate it: truncation could collide.
        return body_hash(value.encode("utf-8"))
    return value


def _decode_json(body: bytes) -> Any:
    # Webhook JSON is UTF-8 (RFC 8259); json.loads(bytes) would also guess UTF-16/32.
    # A leading BOM is tolerated, as most parsers do.
    return json.loads(body.decode("utf-8-sig"))


def json_object_or_none(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (for code that must not raise)."""
    try:
        data = _decode_json(body)
    except (ValueError, RecursionError):  # ValueError covers UnicodeDecodeError, JSONDecodeError
        return None
    return data if isinstance(data, dict) else None


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; UnparseablePayload when it is not valid JSON or not an object."""
    try:
        data = _decode_json(body)
    except UnicodeDecodeError as exc:
        raise UnparseablePayload(f"body is not UTF-8: {exc.reason}") from exc
    except ValueError as exc:
        raise UnparseablePayload(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise UnparseablePayload("invalid JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise UnparseablePayload(f"JSON body is a {type(data).__name__}, not an object")
    return data


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Validate `data` into `model`, turning a validation failure into UnparseablePayload."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise UnparseablePayload(f"unexpected shape at {where}: {first['msg']}") from exc


# --------------------------------------------------------------------------- signatures


def require_secret(secret: str) -> bytes:
    """The secret's bytes; an empty secret never authenticates (anyone could sign with it)."""
    if not secret:
        raise InvalidSignature("no secret configured")
    return secret.encode("utf-8")


def hmac_digest(secret: str, message: bytes, algorithm: Literal["sha1", "sha256"]) -> bytes:
    """Raw HMAC of `message` keyed with the secret string's UTF-8 bytes."""
    return hmac.new(require_secret(secret), message, algorithm).digest()


def digests_match(expected: bytes, given: bytes) -> bool:
    """Constant-time comparison of two byte strings (length mismatch is simply False)."""
    return hmac.compare_digest(expected, given)


def required_header(headers: Mapping[str, str], name: str) -> str:
    """The header's value, or InvalidSignature naming the missing header."""
    value = header(headers, name)
    if value is None:
        raise InvalidSignature(f"missing {name} header")
    return value


def decode_base64_signature(value: str, name: str) -> bytes:
    """Strict base64 decode of a signature header; malformed input is InvalidSignature."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature(f"malformed {name} header (not base64)") from exc


def verify_hub_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    algorithm: Literal["sha1", "sha256"],
    name: str = "x-hub-signature",
) -> None:
    """Check a WebSub-style `<algorithm>=<hex HMAC(secret, body)>` header (Jira, Intercom)."""
    value = required_header(headers, name)
    scheme, sep, hex_digest = value.partition("=")
    if not sep or not hex_digest:
        raise InvalidSignature(f"malformed {name} header")
    if scheme.strip().lower() != algorithm:
        raise InvalidSignature(f"{name} uses {scheme.strip()[:16]!r}, expected {algorithm}")
    try:
        given = bytes.fromhex(hex_digest.strip())
    except ValueError as exc:
        raise InvalidSignature(f"malformed {name} header (not hex)") from exc
    if not digests_match(hmac_digest(secret, body, algorithm), given):
        raise InvalidSignature("signature mismatch")


def verify_shared_token(headers: Mapping[str, str], secret: str, name: str) -> None:
    """Check a static shared-token header in constant time (for senders that cannot sign)."""
    expected = require_secret(secret)
    given = required_header(headers, name)
    if not digests_match(expected, given.encode("utf-8")):
        raise InvalidSignature(f"{name} does not match")


def check_freshness(signed_at: datetime, now: datetime | None, tolerance_seconds: int) -> None:
    """InvalidSignature unless `signed_at` is within the tolerance of `now`, in either direction."""
    current = as_utc(now) if now is not None else datetime.now(UTC)
    skew = (as_utc(signed_at) - current).total_seconds()
    if skew < -tolerance_seconds:
        raise InvalidSignature("timestamp is stale")
    if skew > tolerance_seconds:
        raise InvalidSignature("timestamp is in the future")


# --------------------------------------------------------------------------- timestamps


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Compiled once: these run for every event normalized (re's own cache costs a lookup per call).
_DATE_TIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_EPOCH_TEXT = re.compile(r"\d+(\.\d+)?")
_LABEL_SEPARATORS = re.compile(r"[\s\-]+")


def parse_iso8601(value: str) -> datetime | None:
    """An ISO-8601 date-time (`Z`, `+05:30` or `+0530`, 9 fractional digits) in UTC, or None."""
    text = value.strip()
    # A bare date is refused like any other time-less rendering (see parse_timestamp).
    if not _DATE_TIME_START.match(text):
        return None
    # fromisoformat (3.11) accepts the forms the vendors send: Jira's `+0530`, Zendesk's
    # 9 fractional digits, `Z`. Trim long fractions ourselves anyway so the behaviour does
    # not hinge on interpreter details.
    text = _LONG_FRACTION.sub(r"\1", text)
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def from_epoch(value: float, unit: Literal["s", "ms"]) -> datetime | None:
    """An epoch number in seconds or milliseconds as a UTC datetime, or None if out of range."""
    try:
        return datetime.fromtimestamp(value / 1000 if unit == "ms" else value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_timestamp(value: object, epoch_unit: Literal["s", "ms"] = "s") -> datetime | None:
    """A vendor timestamp (ISO string, epoch number or numeric string) in UTC, or None.

    Human-readable renderings such as Zendesk's "February 3, 2025" give None on purpose:
    a date without a time would reorder events wrongly if used as an event time.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, int | float):
        return from_epoch(value, epoch_unit) if value > 0 else None
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH_TEXT.fullmatch(text):
            return parse_timestamp(float(text), epoch_unit)
        return parse_iso8601(text)
    return None


def _epoch_validator(unit: Literal["s", "ms"]) -> Callable[[object], datetime | None]:
    def validate(value: object) -> datetime | None:
        return parse_timestamp(value, unit)

    return validate


# --------------------------------------------------------------------------- lenient schema types


def _to_text(value: object) -> object:
    """Numbers become strings (captures vary); anything else is left for pydantic to judge."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _to_id(value: object) -> object:
    """Like _to_text, and a blank id counts as absent."""
    value = _to_text(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _to_tag_list(value: object) -> object:
    """Tags as a list: arrays stay, a rendered placeholder string is split."""
    if isinstance(value, str):
        return split_tags(value)
    return value


Text = Annotated[str | None, BeforeValidator(_to_text)]
Id = Annotated[str | None, BeforeValidator(_to_id)]
Tags = Annotated[list[str] | None, BeforeValidator(_to_tag_list)]
Timestamp = Annotated[datetime | None, BeforeValidator(_epoch_validator("s"))]
TimestampMs = Annotated[datetime | None, BeforeValidator(_epoch_validator("ms"))]


class Lenient(BaseModel):
    """Base for vendor payload models: unknown keys are kept, every field may be missing."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------- text


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment, turning block boundaries into newlines."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "hr"}
        | {"h1", "h2", "h3", "h4", "h5", "h6"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str | None) -> str | None:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace tidied."""
    if html is None:
        return None
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    raw = "".join(extractor.parts)
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in raw.split("\n"))
    # Keep paragraph breaks (one blank line at most) so the text stays readable.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def non_blank(value: str | None) -> str | None:
    """The stripped string, or None when it is missing or blank."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def split_tags(value: str) -> list[str]:
    """Rendered tag placeholders: comma-separated when commas appear, else whitespace-separated."""
    pieces = value.split(",") if "," in value else value.split()
    return [piece.strip() for piece in pieces if piece.strip()]


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """The values in first-seen order without duplicates."""
    return tuple(dict.fromkeys(values))


def synthetic_id(*parts: str) -> str:
    """A stable id for a vendor object that has none, derived from what identifies it."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


# --------------------------------------------------------------------------- vocabularies

StatusT = TypeVar("StatusT", bound=str)


def vocabulary_key(value: str) -> str:
    """A vendor label folded for table lookup: "On-hold", "ON HOLD" and "on_hold" agree."""
    return _LABEL_SEPARATORS.sub("_", value.strip().casefold())


def lookup(value: str | None, table: Mapping[str, StatusT]) -> StatusT | None:
    """The table's value for a vendor label (folded with vocabulary_key), or None."""
    if value is None:
        return None
    return table.get(vocabulary_key(value))


# --------------------------------------------------------------------------- merchants

# Free mailbox providers say nothing about the merchant; grouping by them would merge strangers.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.com.ph",
        "ymail.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.com",
        "zoho.com",
    }
)


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of an email address, or None when there is none."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().strip(".").lower()
    return domain or None


def merchant_ref(
    prefix: str,
    org_id: str | None = None,
    org_name: str | None = None,
    email: str | None = None,
) -> MerchantRef | None:
    """The merchant: the vendor's organization id, else its name, else a business email domain."""
    name = non_blank(org_name)
    if org_id:
        return MerchantRef(id=f"{prefix}:{org_id}", name=name)
    if name:
        return MerchantRef(id=f"{prefix}-name:{name.casefold()}", name=name)
    domain = email_domain(email)
    if domain and domain not in FREE_MAIL_DOMAINS:
        return MerchantRef(id=f"email-domain:{domain}")
    return None


# --------------------------------------------------------------------------- wiring


class Verifier(Protocol):
    """The shape of a vendor's verify function (keyword-only clock and tolerance)."""

    def __call__(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secret: str,
        *,
        now: datetime | None = None,
        tolerance_seconds: int = 300,
    ) -> None: ...


@dataclass(slots=True)
class VendorSource:
    """A WebhookSource assembled from a vendor's three functions.

    Not frozen: the contract declares `name: str` as a plain (settable) protocol member,
    and mypy rejects a frozen dataclass's read-only field for it.
    """

    name: str
    verify: Verifier
    delivery_key: Callable[[bytes, Mapping[str, str]], str]
    normalize: Callable[[bytes, Mapping[str, str]], NormalizedTicket | None]
