"""Text clean-up for FAQ drafts: merchant and agent words made safe to publish.

Records are stored redacted, but a redaction placeholder must never reach a FAQ, nor may
a merchant's name, a person's greeting or one merchant's object ids. Words the content
style guide bans ("simply", "just", "obviously", …) are dropped, and so are sentences with
a money figure that does not say its unit.
"""

from __future__ import annotations

import re

from service.content.prose import BANNED_WORDS as STYLE_BANNED_WORDS
from service.content.prose import mask, unitless_amounts
from service.structuring import extraction

PLACEHOLDER = re.compile(r"\[REDACTED[^\]]*\]|REDACTED", re.IGNORECASE)
# The content style guide's list (the lint's), so generated text passes `relay docs lint`.
BANNED_WORDS = re.compile(
    r"\s*\b(?:" + "|".join(STYLE_BANNED_WORDS).replace(" ", r"\s+") + r")\b", re.IGNORECASE
)
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening|day))\b[^,!.\n]{0,40}[,!.]\s*",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\W*(?:thanks|thank you|many thanks|regards|best regards|best|cheers|salamat|sincerely"
    r"|kind regards)\b[^\n]{0,40}$",
    re.IGNORECASE,
)
# Sentences about the one conversation ("the key you posted in this ticket") help nobody else.
_ONE_TICKET = re.compile(
    r"\b(?:this|your|the)\s+(?:ticket|chat|thread|message|email)\b|\bposted\s+(?:it\s+)?here\b"
    r"|\bposting\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`(])")
_SPACES = re.compile(r"[ \t]{2,}")
_WORDS = re.compile(r"[a-z0-9]+")


def has_placeholder(text: str) -> bool:
    """Whether `text` carries a redaction mark (it must then not be published)."""
    return PLACEHOLDER.search(text) is not None


def without_banned_words(text: str) -> str:
    """`text` without "simply", "just" and "obviously"."""
    cleaned = BANNED_WORDS.sub("", text)
    return _SPACES.sub(" ", cleaned).strip()


def generic_ids(text: str) -> str:
    """One merchant's object ids (`pi_…`, `src_…`) become their bare prefix."""
    for resource_id in extraction.extract(text).resource_ids:
        text = text.replace(resource_id, f"{resource_id.split('_', 1)[0]}_…")
    return text


def sentences(paragraph: str) -> list[str]:
    """A paragraph split into sentences (good enough for plain support prose)."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def clean_reply(text: str, *, merchant_name: str | None = None) -> str:
    """An agent reply with no greeting, sign-off, placeholder, merchant name or banned word."""
    lines = text.strip().splitlines()
    # Everything from the sign-off on is the agent's name and title (a first line such as
    # "Thanks for the report!" opens the reply, it does not close it).
    end = next((i for i, line in enumerate(lines) if i and _SIGN_OFF.match(line)), len(lines))
    body = _GREETING.sub("", "\n".join(lines[:end]), count=1)
    if merchant_name:
        body = body.replace(merchant_name, "your business")
    kept_lines = []
    for line in body.splitlines():
        kept = [s for s in sentences(line) if _publishable(s)]
        if kept or not line.strip():
            kept_lines.append(" ".join(kept))
    cleaned = generic_ids(without_banned_words_lines("\n".join(kept_lines)))
    return capitalized(re.sub(r"\n{3,}", "\n\n", cleaned).strip())


def _publishable(sentence: str) -> bool:
    """A sentence an FAQ may quote: no placeholder, nothing about the one conversation, and
    no money figure without its unit (the content standards' rule; agents write "the
    maximum of 999999999", which a reader cannot tell from pesos)."""
    return not (
        has_placeholder(sentence)
        or _ONE_TICKET.search(sentence)
        or any(unitless_amounts(mask(sentence)))
    )


def without_banned_words_lines(text: str) -> str:
    """`without_banned_words` line by line, so list markers and breaks survive."""
    return "\n".join(without_banned_words(line) for line in text.splitlines())


def capitalized(text: str) -> str:
    """`text` with a capital first letter, unless it opens with a code (`parameter_invalid`)."""
    first = text.split(" ", 1)[0]
    if not first.isalpha() or not first.islower():
        return text
    return text[:1].upper() + text[1:]


def token_set(text: str) -> frozenset[str]:
    """Lower-cased words: what near-duplicate replies are compared by."""
    return frozenset(_WORDS.findall(text.lower()))


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def first_sentence(text: str) -> str:
    found = sentences(text.strip())
    return found[0] if found else text.strip()
