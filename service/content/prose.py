"""The prose rules of the documentation standards: tone, person, sentence length, amounts.

Each rule is a pure function over one block of Markdown prose (a paragraph, list item or
table cell as written) and returns `(offset, message)` pairs; the linter turns offsets
into file lines. Prose is masked first (`mask`) so that code spans, link targets, URLs and
quoted text (API messages, button labels) are neither judged nor split into sentences:
each masked span keeps its length and reads as one opaque word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Hit = tuple[int, str]  # (offset into the prose, message)

DEFAULT_MAX_SENTENCE_WORDS = 35
BANNED_WORDS = ("simply", "just", "obviously", "clearly", "easily", "of course", "basically")

_MASKED = (
    re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL),  # code spans
    re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"),  # link targets: [text](target "title")
    re.compile(r"<[a-z][a-z0-9+.-]*:[^>\s]*>", re.IGNORECASE),  # autolinks
    re.compile(r"\bhttps?://[^\s)>\]]+"),  # bare URLs
    re.compile(r"\"[^\"\n]*\"|“[^”\n]*”"),  # quoted text: not our words
)
_BANNED = re.compile(r"\b(?:" + "|".join(BANNED_WORDS).replace(" ", r"\s+") + r")\b", re.I)
# First-person plural, and instructions addressed to the reader in the third person.
_FIRST_PLURAL = re.compile(r"\b(?:we|us|our|ours|ourselves|let's|let\s+us)\b", re.IGNORECASE)
_THIRD_PERSON = re.compile(
    r"\b(?:the|a|an|each|every|any|all)\s+(?:merchant|developer|integrator|user|reader)s?\s+"
    r"(?:should|must|needs?\s+to|has\s+to|have\s+to|is\s+required\s+to|are\s+required\s+to"
    r"|can|may|will\s+need\s+to|ought\s+to)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?](?=\s+|$)")
_WORD = re.compile(r"\S+")

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_MONEY_UNIT = re.compile(r"\s*(?:centavos?|pesos?|PHP)\b", re.IGNORECASE)
_CURRENCY = r"(?:₱|PHP\s?)"
# A number right after one of these words is a money amount: "amount of 100", "the
# minimum is 2000", "a maximum: 999999999". Other numbers are not judged.
_AMOUNT = re.compile(
    r"\b(?:amounts?|minimum|maximum|total|price|balance)\b"
    r"(?:\s+(?:of|is|was|are|be|to|from|at|as|by|equals?|below|above|over|under|up\s+to"
    r"|at\s+least|at\s+most|exactly|only|must|should|can|may|will|cannot)\b|\s*[:=(])*"
    r"\s*(?P<currency>" + _CURRENCY + r")?(?P<number>" + _NUMBER + r")(?!\w)",
    re.IGNORECASE,
)
# Units that say the number after an amount word is not money ("refund within 60 days").
_OTHER_UNIT = re.compile(
    r"\s*(?:%|days?|business\s+days?|hours?|h|minutes?|min|seconds?|s|times|retries"
    r"|attempts|requests?|req|items?|characters|digits|per\s+cent)\b",
    re.IGNORECASE,
)
_MIXED_UNITS = re.compile(_CURRENCY + _NUMBER + r"\s*centavos?\b", re.IGNORECASE)
# An `amount` value in code: JSON ("amount": 10000), YAML/Python (amount: 100, amount=100).
CODE_AMOUNT = re.compile(r"[\"']?\bamount[\"']?\s*(?:=>|[:=])\s*(?P<value>-?\d+(?:\.\d+)?)")


def mask(text: str) -> str:
    """`text` with code, link targets, URLs and quotations replaced by same-length 'x's."""
    for pattern in _MASKED:
        text = pattern.sub(lambda m: _opaque(m.group(0)), text)
    return text


def _opaque(span: str) -> str:
    return "".join("\n" if char == "\n" else "x" for char in span)


def banned_words(prose: str) -> Iterator[Hit]:
    """Words that tell the reader the task is easy, which it is not when they ask."""
    for match in _BANNED.finditer(prose):
        word = " ".join(match.group(0).split()).lower()
        yield match.start(), f"avoid {word!r}: say what to do without judging how hard it is"


def person(prose: str) -> Iterator[Hit]:
    """Instructions speak to the reader as "you": no "we"/"our", no "the merchant should"."""
    for match in _FIRST_PLURAL.finditer(prose):
        if match.group(0) != "US":  # the country or its dollar, not the pronoun
            yield (
                match.start(),
                f"{match.group(0)!r} is first person plural; address the reader as 'you'",
            )
    for match in _THIRD_PERSON.finditer(prose):
        phrase = " ".join(match.group(0).split())
        yield match.start(), f"{phrase!r} speaks about the reader; write 'you …' instead"


def long_sentences(prose: str, max_words: int) -> Iterator[Hit]:
    """Sentences of more than `max_words` words (a masked span counts as one word)."""
    start = 0
    ends = [m.end() for m in _SENTENCE_END.finditer(prose)]
    for end in [*ends, len(prose)]:
        words = len(_WORD.findall(prose[start:end]))
        if words > max_words:
            first = start + len(prose[start:end]) - len(prose[start:end].lstrip())
            yield first, f"sentence has {words} words (at most {max_words}); split it"
        start = end


def unitless_amounts(prose: str) -> Iterator[Hit]:
    """Money figures without their unit, and figures that mix pesos with centavos."""
    for match in _AMOUNT.finditer(prose):
        after = prose[match.end() :]
        if match.group("currency") or _MONEY_UNIT.match(after) or _OTHER_UNIT.match(after):
            continue
        number = match.group("number")
        yield (
            match.start("number"),
            f"amount {number} has no unit; write '{number} centavos' or the peso figure with ₱",
        )
    for match in _MIXED_UNITS.finditer(prose):
        yield match.start(), f"{match.group(0)!r} mixes pesos (₱/PHP) and centavos; use one unit"


def code_amounts(code: str) -> Iterator[tuple[int, str, bool]]:
    """(line offset, value, is_integer) for every `amount` value in a code block."""
    for match in CODE_AMOUNT.finditer(code):
        value = match.group("value")
        yield code[: match.start()].count("\n"), value, "." not in value
