"""The one redactor (TAXONOMY.md "Redaction"): card numbers, CVCs, secret keys and credentials.

Used before anything is stored: the webhook inbox (raw bodies), feedback text and the
classify endpoint. Public keys (`pk_…`), masked cards, non-Luhn references and HMAC
signatures are left alone. Redaction erases secret keys, so the key modes seen
(`live` / `test`) are reported alongside the text for deriving the environment later.

It runs in the webhook request path, so every rule is gated by a cheap probe and the
patterns are anchored on literals: a leading lookbehind, character class or (?i) makes
Python's engine test every position of the text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

PAN, CVC, SECRET = "PAN", "CVC", "SECRET"
KINDS: tuple[str, ...] = (PAN, CVC, SECRET)
PAN_MIN, PAN_MAX = 13, 19

# Key prefixes name a mode even without a body ("our sk_test_ key", "pk_live/sk_live").
_KEY_MODE = re.compile(r"k_(live|test)(?![A-Za-z])")
# The lookbehinds sit after the leading literal so the engine can still jump to it; they
# keep a key glued to a word ("task_live_…") out without consuming a real one after it.
_SECRET_KEYS = (
    re.compile(r"sk_(?<![A-Za-z0-9]sk_)(?:live|test)_[A-Za-z0-9+/]+={0,2}"),
    re.compile(r"whs(?<![A-Za-z0-9]whs)(?:k|ec)_[A-Za-z0-9+/]+={0,2}"),
)
# The credential after the scheme; 8+ chars so placeholders such as "base64(...)" or
# "<token>" stay readable while real Basic/Bearer values (40+ chars) are caught.
_CREDENTIAL = r"((?:basic|bearer)\s+)([A-Za-z0-9+/=._~-]{8,})"
# `Authorization: Basic x`, `-H "Authorization: Basic x"`, `"Authorization": "Basic x"`,
# `'Authorization' => 'Bearer x'`.
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*(?:=>|[:=])\s*[\"']?\s*)" + _CREDENTIAL)
_AUTH_VALUE = re.compile(r"(?i)^(\s*)" + _CREDENTIAL)  # a JSON value under an "Authorization" key
_CVC = re.compile(
    r"[cC](?<![A-Za-z0-9][cC])(?:[vV][cCvV]|[sS][cC])2?\b[\"']?\s*(?:=>|[:=#]|\bis\b|\bcode\b)?\s*[\"']?"
    r"([0-9]{3,4})(?![A-Za-z0-9])"
)
_CVC_VALUE = re.compile(r"^\s*[0-9]{3,4}\s*$")
_JSON_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|.)")  # one escape in serialized JSON
# Digits, spaces and dashes long enough to hold a card number; split into groups later.
_PAN_CANDIDATE = re.compile(r"[0-9][0-9 \-]{11,}[0-9]")
_GROUP = re.compile(r"[0-9]+")
_CVC_KEY = re.compile(r"(?:^|[_\-. ])(?:cvc|cvv|csc)2?$")  # "cvc", "card_cvv", "cvc2"
# JSON keys whose integer values are times (epoch seconds or milliseconds), never cards.
_TIME_KEY = re.compile(r"time|date|(?:^|_)at$|created|updated")
_AUTH_KEY = "authorization"
_CVC_NEEDLES = ("cvc", "cvv", "csc")
_AUTH_NEEDLES = ("authorization",)
# A rule can only apply where its probe fires. Substring tests on the lower-cased text
# are several times faster than scanning with a character class.
_NEEDLES: dict[str, tuple[str, ...]] = {
    "key": ("k_live", "k_test"),
    "secret": ("whsk_", "whsec_"),
    "cvc": _CVC_NEEDLES,
    "auth": _AUTH_NEEDLES,
}


def mark(kind: str) -> str:
    """The replacement text for one redacted value of `kind`."""
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int]
    key_modes: frozenset[str]


@dataclass(frozen=True)
class RedactionSummary:
    counts: dict[str, int]
    key_modes: frozenset[str]


@dataclass(frozen=True)
class RedactedBody:
    text: str
    is_json: bool
    counts: dict[str, int]
    key_modes: frozenset[str]


@dataclass
class _Tally:
    """What one redaction pass removed and which key modes it saw."""

    counts: Counter[str] = field(default_factory=Counter)
    modes: set[str] = field(default_factory=set)

    def summary(self) -> RedactionSummary:
        return RedactionSummary({k: self.counts[k] for k in KINDS}, frozenset(self.modes))


# ------------------------------------------------------------------------------ helpers


_DOUBLED = str.maketrans("0123456789", "0246813579")  # the digit sum of 2 * d


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn check."""
    doubled = digits[-2::-2].translate(_DOUBLED)
    return (sum(map(int, digits[-1::-2])) + sum(map(int, doubled))) % 10 == 0


def is_pan(digits: str) -> bool:
    """A 13-19 digit, Luhn-valid string: a card number for redaction purposes."""
    return PAN_MIN <= len(digits) <= PAN_MAX and luhn_valid(digits)


def _word_start(text: str, index: int) -> bool:
    """Nothing alphanumeric glued before `index`."""
    return index == 0 or not text[index - 1].isalnum()


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    at = haystack.find(needle)
    while at != -1:
        yield at
        at = haystack.find(needle, at + 1)


def _anchored(
    text: str, lowered: str, needles: tuple[str, ...], pattern: re.Pattern[str]
) -> Iterator[re.Match[str]]:
    """Non-overlapping matches of `pattern` that start where a needle occurs in `lowered`
    (`text.lower()`, passed in because lower-casing a long text is not free)."""
    if len(lowered) != len(text):  # a rare case mapping changed lengths: scan everything
        yield from pattern.finditer(text)
        return
    end = 0
    for at in sorted(at for needle in needles for at in _find_all(lowered, needle)):
        match = pattern.match(text, at) if at >= end else None
        if match:
            end = match.end()
            yield match


def _splice(
    text: str, matches: Iterable[re.Match[str]], render: Callable[[re.Match[str]], str]
) -> str:
    out, pos = [], 0
    for match in matches:
        out += [text[pos : match.start()], render(match)]
        pos = match.end()
    return "".join(out) + text[pos:]


# ---------------------------------------------------------------------------- key modes


def _token_modes(token: str) -> set[str]:
    """Key modes in a credential: a key pasted as is, or base64 of `sk_…:` (Basic auth)."""
    modes = set(_prefix_modes(token))
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("latin-1")
    except (binascii.Error, ValueError):
        return modes
    return modes | set(_prefix_modes(decoded))


def _prefix_modes(text: str) -> Iterator[str]:
    for match in _KEY_MODE.finditer(text):
        start = match.start()
        if start > 0 and text[start - 1] in "sp" and _word_start(text, start - 1):
            yield match.group(1)


def key_modes_in(text: str) -> frozenset[str]:
    """`live`/`test` for every API key prefix in `text`, including Basic-auth headers."""
    modes = set(_prefix_modes(text))
    for match in _anchored(text, text.lower(), _AUTH_NEEDLES, _AUTH_HEADER):
        modes |= _token_modes(match.group(3))
    return frozenset(modes)


# -------------------------------------------------------------------------------- rules


def _redact_credentials(text: str, matches: Iterable[re.Match[str]], tally: _Tally) -> str:
    """Keep the header name and scheme (Basic vs Bearer matters); drop the credential."""

    def render(match: re.Match[str]) -> str:
        tally.counts[SECRET] += 1
        tally.modes |= _token_modes(match.group(3))
        return f"{match.group(1)}{match.group(2)}{mark(SECRET)}"

    return _splice(text, matches, render)


def _redact_secret_keys(text: str, tally: _Tally) -> str:
    for pattern in _SECRET_KEYS:
        text, found = pattern.subn(mark(SECRET), text)
        tally.counts[SECRET] += found
    return text


def _redact_cvcs(text: str, lowered: str, tally: _Tally) -> str:
    """Only the digits go; "cvc: " stays so the text still reads."""

    def render(match: re.Match[str]) -> str:
        tally.counts[CVC] += 1
        return match.group(0)[: match.start(1) - match.start()] + mark(CVC)

    return _splice(text, _anchored(text, lowered, _CVC_NEEDLES, _CVC), render)


def _pan_spans(groups: list[re.Match[str]]) -> list[tuple[int, int]]:
    """Group-index intervals holding a card number, merged where they overlap.

    Every contiguous span of groups is tried, so a card number next to a stray digit
    group ("qty 2 4242 4242 …") is still found; overlapping hits are merged so no part
    of either survives.
    """
    spans: list[tuple[int, int]] = []
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j].group(0)
            if len(digits) > PAN_MAX:
                break
            if is_pan(digits):
                if spans and i <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], j))
                else:
                    spans.append((i, j))
    return spans


def _runs(groups: list[re.Match[str]]) -> Iterator[list[re.Match[str]]]:
    """Split digit groups where they are not joined by exactly one space or dash."""
    run: list[re.Match[str]] = []
    for group in groups:
        if run and group.start() - run[-1].end() != 1:
            yield run
            run = []
        run.append(group)
    if run:
        yield run


def _redact_candidate(candidate: re.Match[str], text: str, tally: _Tally) -> str:
    value = candidate.group(0)
    groups = list(_GROUP.finditer(value))
    # A group glued to letters is part of an id or a hex signature, not a card number.
    if not _word_start(text, candidate.start()):
        groups = groups[1:]
    if candidate.end() < len(text) and text[candidate.end()].isalpha():
        groups = groups[:-1]
    out, pos = [], 0
    for run in _runs(groups):
        for first, last in _pan_spans(run):
            out += [value[pos : run[first].start()], mark(PAN)]
            pos = run[last].end()
            tally.counts[PAN] += 1
    return "".join(out) + value[pos:]


def _redact_pans(text: str, tally: _Tally) -> str:
    return _PAN_CANDIDATE.sub(lambda m: _redact_candidate(m, text, tally), text)


# --------------------------------------------------------------------------------- text


def _kinds(text: str, lowered: str) -> set[str]:
    """The rules worth running on `text`."""
    kinds = {kind for kind, needles in _NEEDLES.items() if any(n in lowered for n in needles)}
    if _PAN_CANDIDATE.search(text):
        kinds.add("pan")
    return kinds


def _redact(text: str, tally: _Tally) -> str:
    """Apply the rules whose probes fire. Credentials go first so each is counted once;
    card numbers before CVCs so a CVC rule never eats the first group of a card number."""
    original, lowered = text, text.lower()
    kinds = _kinds(text, lowered)
    if "key" in kinds:
        tally.modes.update(_prefix_modes(text))
    if "auth" in kinds:  # records the modes inside Basic credentials too
        found = _anchored(text, lowered, _AUTH_NEEDLES, _AUTH_HEADER)
        text = _redact_credentials(text, found, tally)
    if kinds & {"key", "secret"}:
        text = _redact_secret_keys(text, tally)
    if "pan" in kinds:
        text = _redact_pans(text, tally)
    if "cvc" in kinds:
        text = _redact_cvcs(text, lowered if text is original else text.lower(), tally)
    return text


def redact_text(text: str) -> Redaction:
    """Redact card numbers, CVCs, secret keys and pasted credentials from free text."""
    tally = _Tally()
    redacted = _redact(text, tally)
    summary = tally.summary()
    return Redaction(redacted, summary.counts, summary.key_modes)


# --------------------------------------------------------------------------------- JSON
# Most bodies hold nothing to redact, so the compact serialization is checked first (one
# probe pass over one string). Only if something may need redacting are the strings
# walked: the probes run once over all strings joined, and only the strings they fire on
# go through the rules. Escaping in our own serialization only touches quotes,
# backslashes and control characters, so the probes still fire on the serialized text.


def _collect(value: Any, strings: list[str]) -> None:
    if isinstance(value, str):
        strings.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            strings.append(key)
            _collect(item, strings)
    elif isinstance(value, list):
        for item in value:
            _collect(item, strings)


def _may_need_redaction(serialized: str) -> bool:
    kinds = _kinds(serialized, serialized.lower())
    if kinds - {"pan"}:
        return True
    if "pan" not in kinds:
        return False
    # Long digit runs are common (ids, timestamps): only a real card number counts. An
    # escape (`\n`, `\"`) must not glue a letter to a number, so each becomes a space.
    unescaped = _JSON_ESCAPE.sub(" ", serialized) if "\\" in serialized else serialized
    return _redact_pans(unescaped, _Tally()) != unescaped


def _probe_offsets(text: str, lowered: str) -> Iterator[int]:
    for needles in _NEEDLES.values():
        for needle in needles:
            yield from _find_all(lowered, needle)
    for match in _PAN_CANDIDATE.finditer(text):
        yield match.start()


def _flagged(strings: list[str]) -> set[str]:
    """The strings some probe fires on (one scan over all of them, NUL-separated)."""
    joined = "\0".join(strings)
    lowered = joined.lower()
    if len(lowered) != len(joined):  # a rare case mapping changed lengths
        return set(strings)
    starts = list(accumulate((len(s) + 1 for s in strings), initial=0))
    return {strings[bisect_right(starts, at) - 1] for at in _probe_offsets(joined, lowered)}


def _redact_keyed(key: str, value: Any, flagged: set[str], tally: _Tally) -> Any:
    """A value whose key gives context: `"cvc": 123`, `"Authorization": "Basic …"`."""
    lowered = key.lower()
    if _CVC_KEY.search(lowered) and (
        (isinstance(value, str) and _CVC_VALUE.match(value))
        or (type(value) is int and 0 <= value <= 9999)
    ):
        tally.counts[CVC] += 1
        return mark(CVC)
    if lowered == _AUTH_KEY and isinstance(value, str):
        return _redact(_redact_credentials(value, _AUTH_VALUE.finditer(value), tally), tally)
    if type(value) is int and _TIME_KEY.search(lowered):
        # An epoch time: Jira's `timestamp` is 13 digits of milliseconds, and one in ten
        # passes the Luhn check. Erasing it would lose the event's order, not a card.
        return value
    return _rebuild(value, flagged, tally)


def _rebuild(value: Any, flagged: set[str], tally: _Tally) -> Any:
    if isinstance(value, str):
        return _redact(value, tally) if value in flagged else value
    if isinstance(value, dict):  # keys too: a card number used as a key is still one
        return {
            _rebuild(key, flagged, tally): _redact_keyed(key, item, flagged, tally)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rebuild(item, flagged, tally) for item in value]
    if type(value) is int and value >= 0 and is_pan(str(value)):  # not bool
        tally.counts[PAN] += 1
        return mark(PAN)
    return value


def _serialize(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _redact_parsed(value: Any) -> tuple[Any, str, RedactionSummary]:
    """The redacted value, its compact serialization and what was removed."""
    serialized = _serialize(value)
    tally = _Tally()
    if _may_need_redaction(serialized):
        strings: list[str] = []
        _collect(value, strings)
        value = _rebuild(value, _flagged(strings), tally)
        serialized = _serialize(value)
    return value, serialized, tally.summary()


def redact_json(value: Any) -> tuple[Any, RedactionSummary]:
    """Redact every string (and card-number integer) in a parsed JSON value."""
    redacted, _, summary = _redact_parsed(value)
    return redacted, summary


def redact_body(body: bytes) -> RedactedBody:
    """Redact a raw request body: JSON is walked and re-serialized compactly, else text."""
    try:
        raw = body.decode("utf-8")
        value = json.loads(raw)
    except (ValueError, RecursionError):
        result = redact_text(body.decode("utf-8", errors="replace"))
        return RedactedBody(result.text, False, result.counts, result.key_modes)
    # Most deliveries hold nothing to redact. Without `\u` escapes the raw text reads as
    # its re-serialization would (other escapes are neutralised by the probe), so the
    # probe can run on it directly and the body is kept as sent.
    if "\\u" not in raw and not _may_need_redaction(raw):
        return RedactedBody(raw, True, _Tally().summary().counts, frozenset())
    _, text, summary = _redact_parsed(value)
    return RedactedBody(text, True, summary.counts, summary.key_modes)
