"""Deterministic extraction from ticket text: error codes, HTTP statuses, webhook events,
resource ids and the environment (TAXONOMY.md "Other structured fields").

Works on unredacted text (classify endpoint) and on redacted text plus the key modes the
redactor saw (worker), with the same result: extraction always reads the redacted text
(redaction is idempotent) and takes key evidence from the key modes, once per mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeVar

from service.structuring.catalogue import load_catalogue
from service.structuring.redaction import redact_text

Environment = Literal["test", "live", "unknown"]


@dataclass(frozen=True)
class Extraction:
    error_codes: tuple[str, ...]
    http_statuses: tuple[int, ...]
    event_types: tuple[str, ...]
    resource_ids: tuple[str, ...]
    environment: Environment


T = TypeVar("T")
Hit = tuple[int, str]  # (offset in the text, value): sorted to give order of first appearance


# The only non-ASCII characters IGNORECASE matches to an ASCII letter (the test suite
# checks every code point): U+0130 and U+0131 (dotted capital and dotless i), U+017F (long
# s) and U+212A (Kelvin sign). `lower()` leaves the dotless i and the long s as they are
# and turns U+0130 into two characters, so they are mapped first.
_ASCII_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_FOLDED_LETTERS = tuple(map(chr, _ASCII_FOLDS))  # the table's keys are code points


def _may_hold(text: str, *needles: str, any_case: bool = True) -> bool:
    """Whether `text` may hold one of `needles` (lower case unless `any_case` is False).

    Each pattern below cannot match without one of its literals, so a substring test
    rules it out before it scans the text position by position. In any case, the text is
    compared as IGNORECASE reads it: with the letters it folds into ASCII ones mapped to
    them (a third of tickets carry a peso sign or another non-ASCII character).
    """
    if not any_case:
        return any(needle in text for needle in needles)
    if not text.isascii() and any(letter in text for letter in _FOLDED_LETTERS):
        text = text.translate(_ASCII_FOLDS)  # rare: mapping every character is slow
    lowered = text.lower()
    return any(needle in lowered for needle in needles)


def _ordered_unique(hits: Iterable[tuple[int, T]]) -> tuple[T, ...]:
    seen: dict[T, None] = {}
    for _, value in sorted(hits, key=lambda hit: hit[0]):
        seen.setdefault(value, None)
    return tuple(seen)


# ---------------------------------------------------------------------------- error codes

_IDENT_END = r"(?![A-Za-z0-9_])"
# A key naming a code, then its value: `"sub_code": "x"`, `failed_code=X`, `code: x`.
_KEYED_TOKEN = re.compile(
    r"(?i:\b(failed_code|sub_code|error_code|code|failure[ _]code|decline[ _]code)\b)"
    r"[\"'`]?\s*([:=]|=>)?\s*[\"'`]?([A-Za-z][A-Za-z0-9_]*)" + _IDENT_END
)
# Prose that introduces a code: "failed with X", "declined with sub_code x".
_PHRASE_TOKEN = re.compile(
    r"(?i:\b(?:fail(?:s|ed|ing)?|declined|rejected)\s+with\s+(?:(?:sub_)?code\s+)?)"
    r"[\"'`]?([A-Za-z][A-Za-z0-9_]*)" + _IDENT_END
)
_QUOTED_TOKEN = re.compile(r"([\"'`])([A-Za-z][A-Za-z0-9_]*)\1")
# A snake_case identifier given as `failed_message` (BPI's provider_otp_* names arrive there).
_FAILED_MESSAGE = re.compile(
    r"\bfailed_message\b[\"']?\s*(?:[:=])?\s*[\"']?([a-z][a-z0-9]*(?:_[a-z0-9]+)+)" + _IDENT_END
)
# Provider code shapes seen in the facts and corpus, so unseen siblings are still found:
# Maya `PY0105`, BPI `FTUBE002` / `FTUSE999`.
# (Each lookbehind sits after a literal, as in `_names_not_after`.)
_PROVIDER_SHAPES = re.compile(
    r"(P(?<![A-Za-z0-9_]P)Y\d{4}|F(?<![A-Za-z0-9_]F)TU[A-Z]{2}\d{3})" + _IDENT_END
)


def _is_plain_word(code: str) -> bool:
    """Codes such as `blocked`, `CLOSED`, `TF` are also prose: they need a code context."""
    return code.isalpha()


def _names_not_after(not_after: str, names: Iterable[str]) -> str:
    """A pattern matching any of `names` (longest first) not right after a `not_after`
    character: the same as `(?<!not_after)(?:name|...)`, but written as one branch per
    first letter with the lookbehind after it. A pattern that starts with a lookbehind
    makes Python's engine try a match at every position of the text; one that starts with
    a literal per branch lets it skip to the positions holding one (2-3x faster here)."""
    tails: dict[str, list[str]] = {}
    for name in sorted(names, key=len, reverse=True):
        tails.setdefault(name[0], []).append(re.escape(name[1:]))
    return "|".join(
        f"{re.escape(first)}(?<!{not_after}.)(?:{'|'.join(rest)})" for first, rest in tails.items()
    )


@lru_cache(maxsize=1)
def _known_code_pattern() -> re.Pattern[str]:
    codes = [c for c in load_catalogue().codes if not _is_plain_word(c)]
    return re.compile(f"(?:{_names_not_after('[A-Za-z0-9_]', codes)})" + _IDENT_END)


_LOWER_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_UPPER_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_LOWER_WORD = re.compile(r"[a-z][a-z0-9_]*")
_NOT_CODES = frozenset({"null", "none", "nil", "true", "false", "undefined", "is", "was", "and"})


def _keyed_code(key: str, separated: bool, token: str) -> bool:
    """Whether the value of a code key is a code, known or not.

    API codes and sub_codes are lower snake case and provider codes upper case (TAXONOMY.md),
    so a generic `code` key only yields lower snake case: `code: 'ECONNRESET'` in a Node
    trace is not a PayMongo code.
    """
    if load_catalogue().lookup(token) is not None:
        return True
    if token.lower() in _NOT_CODES:
        return False
    if key == "failed_code":
        return bool(_UPPER_CODE.fullmatch(token) or _LOWER_SNAKE.fullmatch(token))
    if key == "sub_code" and separated:
        return bool(_LOWER_WORD.fullmatch(token))
    return bool(_LOWER_SNAKE.fullmatch(token))


def _context_codes(text: str) -> Iterator[Hit]:
    keyed = _KEYED_TOKEN.finditer(text) if _may_hold(text, "code") else ()
    for match in keyed:
        key, separator, token = match.group(1).lower(), match.group(2), match.group(3)
        if _keyed_code(key, separator is not None, token):
            yield match.start(3), token
    catalogue = load_catalogue()
    phrases = _PHRASE_TOKEN.finditer(text) if _may_hold(text, "with") else ()
    for match in phrases:
        if catalogue.lookup(match.group(1)) is not None:
            yield match.start(1), match.group(1)


def _quoted_plain_codes(text: str) -> Iterator[Hit]:
    """Plain-word codes written as a quoted value in prose (`"CLOSED" ang reason`)."""
    catalogue = load_catalogue()
    for match in _QUOTED_TOKEN.finditer(text):
        token = match.group(2)
        # A quoted value of some other key (`"reason": "fraudulent"`) is not a code.
        before = text[max(0, match.start() - 8) : match.start()].rstrip()
        if (
            _is_plain_word(token)
            and catalogue.lookup(token)
            and not before.endswith((":", "=", "["))
        ):
            yield match.start(2), token


def _error_codes(text: str) -> tuple[str, ...]:
    hits: list[Hit] = [(m.start(), m.group(0)) for m in _known_code_pattern().finditer(text)]
    if _may_hold(text, "PY", "FTU", any_case=False):
        hits += [(m.start(1), m.group(1)) for m in _PROVIDER_SHAPES.finditer(text)]
    if _may_hold(text, "failed_message", any_case=False):
        hits += [(m.start(1), m.group(1)) for m in _FAILED_MESSAGE.finditer(text)]
    hits += _context_codes(text)
    if _may_hold(text, '"', "'", "`", any_case=False):
        hits += _quoted_plain_codes(text)
    return _ordered_unique(hits)


# --------------------------------------------------------------------------- HTTP statuses

_STANDARD_STATUSES = frozenset(
    [
        *(100, 101, 102, 103, *range(200, 209), 226, *range(300, 309), *range(400, 419)),
        *(421, 422, 423, 424, 425, 426, 428, 429, 431, 451, *range(500, 509), 510, 511),
    ]
)
# Error statuses that are rarely anything else when quoted bare ("got a 404", "401 na").
_DISTINCT_STATUSES = frozenset(
    [400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504]
)
# A three-digit number standing alone: not part of an amount (₱1,500, 2.500), id, path,
# negative number (errno -104), larger number or grouped number (0917 401 2345).
# (The lookbehind sits after the first digit, so the engine can jump from digit to digit.)
_NUMBER = re.compile(r"([1-5](?<![\w.,₱$#/\-\u2013\u2014].)\d\d)(?!\d|[.,]\d|[A-Za-rt-z_%])(s\b)?")
# A number right after a currency or a label is an amount or an identifier, not a status.
_NOT_STATUS_BEFORE = re.compile(
    r"(?i)(?:\b(?:php|p|usd)\s?|\b(?:unit|room|rm|suite|floor|lot|block|blk|tower|gate|seat|table"
    r"|line|page|order|invoice|item|step|grade|section|route|bus|flight|version|no|number|ext)"
    r"\.?\s*"
    r"|(?<!http/)(?<!http/\d\.)\d[ -])$"  # a digit group just before, unless an HTTP version
)
_BEFORE = re.compile(
    r"(?i)(?:"
    r"\bhttp(?:/[\d.]+)?[\s:]*"
    r"|\b(?:status|response)(?:[\s_-]?code)?\s*(?:is|was|of|=|:)?\s*"
    r"|\b(?:\w+_)?(?:abort|status|status_code|response_code)\s*\(\s*"
    r"|(?:->|=>)\s*"
    r"|\breturn(?:s|ed|ing)?\s+(?:with\s+)?(?:an?\s+)?(?:http\s+)?"
    r"|\brespond(?:s|ed|ing)?\s+with\s+(?:an?\s+)?"
    r"|\banswer(?:s|ed)?(?:\s+\w+)?\s+with\s+(?:an?\s+)?"
    r"|\b(?:got|get|gets|getting|gives?|giving|shows?|showing)\s+(?:back\s+)?(?:an?\s+)?"
    r"|\bcomes?\s+back\s+with\s+an?\s+"
    r")$"
)
_AFTER = re.compile(
    r"(?i)(?:\s*\{"
    r"|\s+(?:ok|created|accepted|no content|moved|found|not modified|bad request|unauthori[sz]ed"
    r"|forbidden|not found|method not allowed|conflict|gone|unprocessable|too many requests"
    r"|internal server error|bad gateway|service unavailable|gateway time-?out)\b"
    r"|\s+(?:errors?|responses?|status(?:es)?)\b"
    r"|\s+with\s+an?\s+(?:empty\s+)?(?:json\s+)?body)"
)
# A following plural noun makes a bare number a count ("500 orders"), unless it names statuses.
_COUNT_NOUN = re.compile(
    r"\s+(?!(?:errors|responses|codes|statuses|status|this|thus|does|plus|less|always|unless"
    r"|across|perhaps|whereas)\b)[a-z]{3,}s\b"
)
_RANGE = re.compile(
    r"([1-5](?<![\w.,₱$#/].)\d\d)\s*(?:\u2013|\u2014|-|to)\s*([1-5]\d\d)(?!\d|[.,]\d)"
)
_STATUS_WORDS = re.compile(
    r"(?i)\b(?:status\w*|http|[1-5]xx|respon\w*|return\w*|answer\w*|json|body)\b"
)


def _is_status(text: str, status: int, start: int, end: int, plural: bool) -> bool:
    """A reason phrase or JSON body after the number settles it; otherwise it needs a cue
    before it (or to be an unmistakable error status) and must not be counting something."""
    if _AFTER.match(text, end):
        return True
    if not plural and _COUNT_NOUN.match(text, end):
        return False
    return status in _DISTINCT_STATUSES or bool(_BEFORE.search(text[max(0, start - 40) : start]))


def _single_statuses(text: str) -> Iterator[tuple[int, int]]:
    for match in _NUMBER.finditer(text):
        status, start = int(match.group(1)), match.start()
        before = text[max(0, start - 12) : start]
        if status not in _STANDARD_STATUSES or _NOT_STATUS_BEFORE.search(before):
            continue
        if _is_status(text, status, start, match.end(1), match.group(2) is not None):
            yield start, status


def _range_statuses(text: str) -> Iterator[tuple[int, int]]:
    """`200-209` (any dash) names both ends when the sentence is about statuses."""
    for match in _RANGE.finditer(text):
        low, high = int(match.group(1)), int(match.group(2))
        window = text[max(0, match.start() - 80) : match.end() + 40]
        if low // 100 == high // 100 and low < high and _STATUS_WORDS.search(window):
            yield match.start(1), low
            yield match.start(2), high


def _http_statuses(text: str) -> tuple[int, ...]:
    return _ordered_unique([*_single_statuses(text), *_range_statuses(text)])


# ----------------------------------------------------------------- events and resource ids

_RESOURCE_ID = re.compile(
    r"(?<![A-Za-z0-9_])(?:pi|pm|pay|src|cs|link|evt|ref|hook)_[A-Za-z0-9]{10,40}(?![A-Za-z0-9])"
)


@lru_cache(maxsize=1)
def _event_pattern() -> re.Pattern[str]:
    # Not inside a longer dotted name: `payment.paid` within `link.payment.paid`.
    names = _names_not_after(r"[\w.]", load_catalogue().event_types)
    return re.compile(rf"(?:{names})(?![\w]|\.\w)")


def _event_types(text: str) -> tuple[str, ...]:
    return _ordered_unique((m.start(), m.group(0)) for m in _event_pattern().finditer(text))


def _resource_ids(text: str) -> tuple[str, ...]:
    if not _may_hold(text, "_", any_case=False):
        return ()
    return _ordered_unique((m.start(), m.group(0)) for m in _RESOURCE_ID.finditer(text))


# ----------------------------------------------------------------------------- environment

# Prose evidence counts per mention; machine evidence (key prefixes, `livemode` values)
# counts once per mode, so a pasted log repeating a key does not outvote what the
# merchant says.
# Like the code patterns, the mode patterns start with their first letter in either case
# (and U+017F, which IGNORECASE reads as s), the word boundary checked after it and the
# rest case-blind: a leading `\b` or `(?i)` would make the engine try every position.
_TEST_PROSE = re.compile(
    r"[tTsS\u017f](?<!\w.)(?i:(?<=t)est(?:[ -]?mode|[ -]keys?)|(?<=s)andbox)\b"
)
_LIVE_PROSE = re.compile(
    # "live" as a mode or a status; not "live chat", "live selling", "I live in",
    # "go live" (an intention, not a state) or the "go-live checklist". The word is
    # matched first and what precedes it looked at after (lookbehinds that run at every
    # position of the text made this the costliest pattern of extraction, 8x slower).
    r"[lL](?<!\w.)(?i:ive\b(?<!\bi live)(?<!\bwe live)(?<!\bthey live)(?<!\byou live)"
    r"(?<!\bgo-live)(?<!\bgo live)"
    r"(?![ -](?:chat|sell\w*|stream\w*|demo|agent|support|events?|show)\b))"
)
# "test and live", "live/test mode": naming both modes is evidence for neither.
_BOTH_MODES = re.compile(
    r"[tTlL](?<!\w.)(?i:(?<=t)est|(?<=l)ive)(?i:(?:[ -]?mode)?\s*(?:and|or|vs\.?|versus|/|&)\s*"
    r"(?:test|live)(?:[ -]?mode)?\b)"
)
_LIVEMODE_VALUE = re.compile(
    r"(?i)\blivemode[\"']?\s*(?:[:=]|\bis\b|\bwas\b)?\s*[\"']?(true|false)\b"
)


def _environment(text: str, key_modes: frozenset[str]) -> Environment:
    """The mode with more explicit evidence; a tie (or none) is `unknown`."""
    values = _LIVEMODE_VALUE.findall(text) if _may_hold(text, "livemode") else []
    machine = key_modes | {"test" if v.lower() == "false" else "live" for v in values}
    # What the prose patterns need is looked for in `text`: `prose` only has less.
    prose = _BOTH_MODES.sub(" ", text) if _may_hold(text, "test", "live") else text
    said_test = _TEST_PROSE.findall(prose) if _may_hold(text, "test", "sandbox") else []
    said_live = _LIVE_PROSE.findall(prose) if _may_hold(text, "live") else []
    test = len(said_test) + ("test" in machine)
    live = len(said_live) + ("live" in machine)
    if test == live:
        return "unknown"
    return "test" if test > live else "live"


def extract(text: str, *, key_modes: Iterable[str] = ()) -> Extraction:
    """Error codes, HTTP statuses, event types, resource ids and environment found in `text`.

    `key_modes` are the modes of keys a redaction already removed from `text`.
    """
    redacted = redact_text(text)
    text, modes = redacted.text, redacted.key_modes | frozenset(key_modes)
    return Extraction(
        error_codes=_error_codes(text),
        http_statuses=_http_statuses(text),
        event_types=_event_types(text),
        resource_ids=_resource_ids(text),
        environment=_environment(text, modes),
    )
