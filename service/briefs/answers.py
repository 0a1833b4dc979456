"""Answers to the merchant's own questions, where the content library covers them.

Deliberately simple and explainable: a question is answered by the FAQ entry or library
section sharing the most significant words with it, and only above a threshold; anything
else goes on the "to confirm with Product" list rather than being guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from service.content.library import Document, sections
from service.faq.schemas import PublishedFaq
from service.render.markdown import to_html

WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]", re.IGNORECASE)
MIN_SHARED = 2  # significant words a candidate must share with the question
STOPWORDS = frozenset(
    [
        "about",
        "after",
        "also",
        "answer",
        "does",
        "doing",
        "done",
        "each",
        "from",
        "have",
        "here",
        "into",
        "just",
        "like",
        "make",
        "more",
        "most",
        "much",
        "need",
        "needs",
        "only",
        "other",
        "over",
        "same",
        "should",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "very",
        "want",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "yours",
        "can",
        "could",
        "how",
        "are",
        "our",
        "the",
        "and",
        "for",
        "you",
        "not",
        "but",
        "any",
        "all",
        "its",
        "was",
        "were",
        "been",
        "being",
        "has",
        "had",
        "per",
        "via",
        "use",
        "using",
        "work",
        "works",
    ]
)


@dataclass(frozen=True)
class Answer:
    question: str
    html: Markup
    source: str  # what the answer comes from, for the reader to check


@dataclass(frozen=True)
class _Candidate:
    words: frozenset[str]
    html: Markup
    source: str


def split_questions(text: str | None) -> list[str]:
    """The separate questions in a free-text field (one per line or per question mark)."""
    if not text:
        return []
    found: list[str] = []
    for line in text.splitlines():
        parts = re.split(r"(?<=\?)\s+", line.strip().lstrip("-*0123456789.) ").strip())
        found += [p.strip() for p in parts if len(p.strip()) > 3]
    return found


def keywords(text: str) -> frozenset[str]:
    words = (_stem(w.lower().strip(".-")) for w in WORD.findall(text))
    return frozenset(w for w in words if len(w) > 2 and w not in STOPWORDS)


# Question words that name a library section by another word (the sections' titles are
# part of what a question is matched against).
SECTION_WORDS = {
    "minimum": "limit",
    "maximum": "limit",
    "max": "limit",
    "min": "limit",
    "error": "failure",
    "fail": "failure",
    "failed": "failure",
    "decline": "failure",
    "declined": "failure",
    "test": "testing",
    "sandbox": "testing",
}


def question_keywords(text: str) -> frozenset[str]:
    words = keywords(text)
    return words | {SECTION_WORDS[w] for w in words if w in SECTION_WORDS}


def _stem(word: str) -> str:
    # Enough to make "amounts" meet "amount"; anything cleverer would need a real stemmer.
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def answer_questions(
    questions: Sequence[str], *, faqs: Iterable[PublishedFaq], documents: Iterable[Document]
) -> tuple[list[Answer], list[str]]:
    """(answers found, questions left to confirm with Product)."""
    candidates = _faq_candidates(faqs) + _section_candidates(documents)
    weights = _rarity(candidates)
    answered: list[Answer] = []
    unanswered: list[str] = []
    for question in questions:
        best = _best(question_keywords(question), candidates, weights)
        if best is None:
            unanswered.append(question)
        else:
            answered.append(Answer(question, best.html, best.source))
    return answered, unanswered


def _rarity(candidates: list[_Candidate]) -> dict[str, float]:
    """Inverse document frequency: a word every section has ("card") decides nothing."""
    counts: dict[str, int] = {}
    for candidate in candidates:
        for word in candidate.words:
            counts[word] = counts.get(word, 0) + 1
    total = len(candidates) + 1
    return {word: math.log(total / count) for word, count in counts.items()}


def _best(
    words: frozenset[str], candidates: list[_Candidate], weights: dict[str, float]
) -> _Candidate | None:
    scored = [
        (sum(weights[w] for w in shared), -len(c.words), i)
        for i, c in enumerate(candidates)
        if len(shared := words & c.words) >= MIN_SHARED
    ]
    return candidates[max(scored)[2]] if scored else None


def _faq_candidates(faqs: Iterable[PublishedFaq]) -> list[_Candidate]:
    return [
        _Candidate(
            question_keywords(faq.question),
            to_html(faq.resolution),
            f"FAQ: {faq.question} (v{faq.version})",
        )
        for faq in faqs
    ]


def _section_candidates(documents: Iterable[Document]) -> list[_Candidate]:
    found = []
    for document in documents:
        for title, text in sections(document.body).items():
            if not text:
                continue
            words = keywords(f"{document.title} {title} {text}")
            source = f"{document.title} — {title.capitalize()} (reviewed {document.reviewed_at})"
            found.append(_Candidate(words, to_html(text), source))
    return found
