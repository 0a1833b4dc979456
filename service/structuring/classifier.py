"""Layered ticket classifier: decisive rules first, a linear text model for the rest.

Layer 1 reads the error-code catalogue (codes -> product area / payment method) and
the cue lexicon (`lexicon.yaml`) and settles a label only when the evidence is
decisive. Layer 2 is one TF-IDF featurizer (words, character n-grams, subject words,
lexicon and extraction cues) feeding one logistic regression per label; the category
model reads only the cues about the kind of ticket, not its topic. Human
corrections are remembered verbatim, so the exact text they corrected is labelled as
corrected; they also carry extra weight when the model is refit.
"""

from __future__ import annotations

import array
import functools
import hashlib
import itertools
import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from scipy import sparse
from scipy.special import expit
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier

from service.structuring import taxonomy, words
from service.structuring.catalogue import load_catalogue
from service.structuring.extraction import Extraction

# Bump when features, rules or the artifact layout change: old artifacts then retrain.
SCHEMA_VERSION = "clf2"
LABEL_NAMES: tuple[str, ...] = ("product_area", "payment_method", "category", "severity")
NULL_METHOD = "null"  # payment_method None, as a class the model can predict
RANDOM_STATE = 0  # fixed seed: the same training data always gives the same model
RULE_CONFIDENCE = 0.97
CORRECTION_CONFIDENCE = 1.0
LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")

_TAXONOMY: dict[str, tuple[str, ...]] = {
    "product_area": taxonomy.PRODUCT_AREAS,
    "payment_method": taxonomy.PAYMENT_METHODS,
    "category": taxonomy.CATEGORIES,
}


@dataclass(frozen=True)
class Labels:
    """The four labels of one ticket, with a confidence per label."""

    product_area: str
    payment_method: str | None
    category: str
    severity: str
    confidence: dict[str, float] = field(default_factory=dict)
    model_version: str = "none"


@dataclass(frozen=True)
class LabelledTicket:
    """A training row: the ticket, its (possibly partial) labels and its weight."""

    subject: str
    body: str
    extraction: Extraction
    labels: Mapping[str, str | None]
    weight: float = 1.0
    remember: bool = False  # a human correction: replay it verbatim for the same text


# ---------------------------------------------------------------- lexicon


@dataclass(frozen=True)
class _Hits:
    """Cue counts per value, in the whole ticket and in its subject alone."""

    whole: dict[str, int]
    subject: dict[str, int]


@dataclass(frozen=True)
class _Scanner:
    """One regex for a whole lexicon section; a named empty group ends each entry."""

    pattern: re.Pattern[str]
    values: dict[str, str]  # marker group name -> value

    def count(self, text: str, subject_end: int) -> _Hits:
        whole: dict[str, int] = {}
        subject: dict[str, int] = {}
        for match in self.pattern.finditer(text):
            value = self.values[match.lastgroup or ""]
            whole[value] = whole.get(value, 0) + 1
            if match.start() < subject_end:
                subject[value] = subject.get(value, 0) + 1
        return _Hits(whole, subject)


def _syntax(entry: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Unescaped characters outside `[...]` classes, each with the group depth after it."""
    depth, index, in_class = 0, start, False
    while index < len(entry):
        char = entry[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            if char in "()":
                depth += 1 if char == "(" else -1
            yield index, char, depth
        index += 1


def _closing(entry: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at `start`."""
    for index, char, depth in _syntax(entry, start):
        if char == ")" and depth == 0:
            return index
    raise ValueError(f"unbalanced lexicon entry: {entry!r}")


def _branches(entry: str) -> list[str]:
    """The entry split at its top-level `|`."""
    cuts = [index for index, char, depth in _syntax(entry) if char == "|" and depth == 0]
    bounds = [-1, *cuts, len(entry)]
    return [entry[start + 1 : end] for start, end in pairwise(bounds)]


def _expand(entry: str) -> list[str]:
    """Equivalent entries that each start with a literal where possible.

    `a|b` and `(a|b) c` become `a`, `b` and `a c`, `b c`: the scanner can then dispatch
    on the first character instead of trying every entry at every word (10x faster).
    """
    branches = _branches(entry)
    if len(branches) > 1:
        return [expanded for branch in branches for expanded in _expand(branch)]
    if not entry.startswith("(") or (entry.startswith("(?") and not entry.startswith("(?:")):
        return [entry]
    end = _closing(entry, 0)
    if entry[end + 1 : end + 2] in ("?", "*", "+", "{"):
        return [entry]
    inner = entry[1:end].removeprefix("?:")
    return [e for branch in _branches(inner) for e in _expand(branch + entry[end + 1 :])]


def _entry_pattern(entry: str, marker: str) -> str:
    """The entry, a word-boundary guard (unless it ends in : or `) and its marker group."""
    guard = "" if entry.endswith((":", "`")) else r"(?!\w)"
    return f"(?:{entry}){guard}(?P<{marker}>)"


def _dispatch(entries: Mapping[str, str]) -> str:
    """Entries (-> marker) under their literal first character, longest first per group."""
    by_first: dict[str, list[str]] = {}
    rest: list[str] = []
    for entry in sorted(entries, key=len, reverse=True):
        if re.match(r"[a-z0-9_](?![?*+{])", entry):
            tail = entry[1:] or "(?:)"
            by_first.setdefault(entry[0], []).append(_entry_pattern(tail, entries[entry]))
        else:
            rest.append(_entry_pattern(entry, entries[entry]))
    groups = [f"{first}(?:{'|'.join(tails)})" for first, tails in by_first.items()]
    return "|".join(groups + rest)


def _scanner(section: Mapping[str, Sequence[str]]) -> _Scanner:
    """Compile one lexicon section into a single regex (it runs on every ticket)."""
    word: dict[str, str] = {}  # expanded entry -> marker; the first value listed wins
    other: dict[str, str] = {}
    values: dict[str, str] = {}
    for value, entries in section.items():
        for entry in entries:
            target = word if re.match(r"[\w(]", entry) else other
            for expanded in _expand(entry):
                if expanded not in word and expanded not in other:
                    target[expanded] = marker = f"m{len(values)}"
                    values[marker] = value
    parts = [rf"(?<!\w)(?:{_dispatch(word)})"] if word else []
    parts += [_dispatch(other)] if other else []
    return _Scanner(re.compile("|".join(parts)), values)


def _check_lower_case(entries: Sequence[str]) -> None:
    """Entries run on lower-cased text, so an upper-case letter could never match."""
    for entry in entries:
        if re.search(r"[A-Z]", re.sub(r"\\.", "", entry)):
            raise ValueError(f"lexicon entry must be lower case: {entry!r}")


@dataclass(frozen=True)
class Lexicon:
    """Cue phrases per label value, compiled from `lexicon.yaml`."""

    scanners: dict[str, _Scanner]
    digest: str

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        """Read and validate the lexicon file."""
        raw = path.read_bytes()
        data: dict[str, dict[str, list[str]]] = yaml.safe_load(raw)
        for section, known in _TAXONOMY.items():
            unknown = set(data.get(section, {})) - set(known)
            if unknown:
                raise ValueError(f"lexicon {section} has unknown label ids: {sorted(unknown)}")
        for entries in (e for section in data.values() for e in section.values()):
            _check_lower_case(entries)
        scanners = {name: _scanner(section) for name, section in data.items()}
        return cls(scanners, hashlib.sha256(raw).hexdigest())

    def hits(self, subject: str, body: str) -> tuple[dict[str, dict[str, int]], ...]:
        """Cue counts per section and value: in the whole ticket, and in the subject."""
        # Lower-casing once is much cheaper than re.IGNORECASE on every scan.
        lowered_subject = subject.lower()
        text = f"{lowered_subject}\n{body.lower()}"
        counts = {name: s.count(text, len(lowered_subject)) for name, s in self.scanners.items()}
        whole = {name: hits.whole for name, hits in counts.items()}
        return whole, {name: hits.subject for name, hits in counts.items()}


# ---------------------------------------------------------------- signals


@dataclass(frozen=True)
class CodeFact:
    """What the catalogue says about one extracted code."""

    code: str
    kind: str  # "api" codes are shared by many flows; "decline"/"provider" name one
    product_area: str
    payment_method: str | None


@functools.cache
def _code_fact(code: str) -> CodeFact | None:
    """Catalogue facts of one error code (cached: the catalogue is fixed per process)."""
    entry = load_catalogue().lookup(code)
    if entry is None:
        return None
    return CodeFact(entry.code, entry.kind, entry.product_area, entry.payment_method)


@dataclass(frozen=True)
class Signals:
    """Everything the rules and the model read from one ticket."""

    subject: str
    body: str
    extraction: Extraction
    hits: dict[str, dict[str, int]]
    subject_hits: dict[str, dict[str, int]]
    codes: tuple[CodeFact, ...]

    def count(self, section: str, value: str) -> int:
        """Lexicon hits for one value anywhere in the ticket."""
        return self.hits.get(section, {}).get(value, 0)

    def code_values(self, attribute: str, *, specific: bool = False) -> tuple[str, ...]:
        """Distinct catalogue areas or methods of the codes, optionally only specific codes."""
        facts = [f for f in self.codes if not specific or f.kind != "api"]
        return tuple(dict.fromkeys(v for f in facts if (v := getattr(f, attribute))))


def read_signals(lexicon: Lexicon, subject: str, body: str, extraction: Extraction) -> Signals:
    """Lexicon hits and catalogue facts for one ticket."""
    facts = (_code_fact(code) for code in extraction.error_codes)
    hits, subject_hits = lexicon.hits(subject, body)
    return Signals(
        subject=subject,
        body=body,
        extraction=extraction,
        hits=hits,
        subject_hits=subject_hits,
        codes=tuple(fact for fact in facts if fact),
    )


# ---------------------------------------------------------------- layer 1: rules


@dataclass(frozen=True)
class Decision:
    """A label value settled by a rule."""

    value: str | None
    rule: str


_FEATURE_SUBJECT = re.compile(r"^\s*(feature )?request\s*:", re.IGNORECASE)
_DOCS_SUBJECT = re.compile(r"^\s*(docs?|documentation)( feedback)?\s*[:\-]", re.IGNORECASE)


def _named_methods(signals: Signals) -> set[str]:
    return {value for value, n in signals.hits.get("payment_method", {}).items() if n}


def _rule_payment_method(signals: Signals) -> Decision | None:
    """Codes of exactly one method settle it; a ticket naming no method at all is null."""
    methods = signals.code_values("payment_method")
    if len(methods) == 1:
        return Decision(methods[0], "catalogue")
    if not methods and not _named_methods(signals):
        return Decision(None, "no-method-named")
    return None


def _rule_product_area(signals: Signals) -> Decision | None:
    """Decline/provider codes of one area settle it, unless the subject names another area.

    API codes (`parameter_invalid`, ...) are shared by every flow, so they only inform
    the model. A subject naming another area ("... in exports") means the code is context.
    """
    areas = signals.code_values("product_area", specific=True)
    if len(areas) != 1:
        return None
    others = set(signals.subject_hits.get("product_area", {})) - {areas[0]}
    return None if others else Decision(areas[0], "catalogue")


def _rule_category(signals: Signals) -> Decision | None:
    """Merchants who title a ticket "Feature request:" or "Docs:" say what it is."""
    if _FEATURE_SUBJECT.search(signals.subject):
        return Decision("feature_request", "subject-prefix")
    if _DOCS_SUBJECT.search(signals.subject):
        return Decision("docs_gap", "subject-prefix")
    return None


def _live_payments_failing_now(signals: Signals) -> bool:
    """Critical per TAXONOMY.md: live payments failing now, broadly or in an outage."""
    if signals.extraction.environment != "live":
        return False
    count = functools.partial(signals.count, "severity")
    if not (count("failing") or count("outage")) or not count("payments"):
        return False
    broad = count("outage") or (count("breadth") and (count("now") or count("urgent")))
    return bool(broad) and not (count("calm") or count("past"))


def _rule_severity(signals: Signals) -> Decision | None:
    if _live_payments_failing_now(signals):
        return Decision("critical", "live-payments-failing")
    return None


_RULES = {
    "product_area": _rule_product_area,
    "payment_method": _rule_payment_method,
    "category": _rule_category,
    "severity": _rule_severity,
}


def decide(signals: Signals) -> dict[str, Decision]:
    """The labels the rules settle for this ticket."""
    decisions = {label: rule(signals) for label, rule in _RULES.items()}
    return {label: decision for label, decision in decisions.items() if decision}


# ---------------------------------------------------------------- layer 2: features

_RESOURCE_ID = re.compile(
    r"\b(pi|pm|pay|src|cs|link|evt|ref|hook|whsk|whsec|sk_live|sk_test|pk_live|pk_test)_\w{6,}"
)
_LONG_NUMBER = re.compile(r"\d[\d,.]{3,}")
_CODE_BLOCK = re.compile(r"```.*?(```|$)|^(?: {4}|\t).*$", re.DOTALL | re.MULTILINE)


def _may_hold_code(text: str) -> bool:
    """Whether `text` may hold a fenced block or an indented line, as `_CODE_BLOCK` and
    `_PASTED` need: substring tests rule most tickets out, where those patterns (a `^`
    first) would be tried at every position."""
    return "```" in text or "    " in text or "\t" in text


def _normalize(text: str) -> str:
    """Lower case, ids reduced to their prefix, long numbers to one token."""
    text = _RESOURCE_ID.sub(r" \1_id ", text.lower())
    return _LONG_NUMBER.sub(" num ", text)


def _prose(text: str) -> str:
    """The text without code blocks and indented logs (noise for character n-grams)."""
    return _CODE_BLOCK.sub(" ", text) if _may_hold_code(text) else text


def _word_grams(word: str) -> list[str]:
    """Character 2..5-grams of one space-padded word (what sklearn's `char_wb` builds)."""
    padded = f" {word} "
    size = len(padded)
    return [padded[i : i + n] for n in range(2, 6) for i in range(size - n + 1)]


class _CharGrams:
    """TF-IDF over within-word character n-grams, with vocabulary indices cached per word.

    Same features as `TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))`, but words
    repeat across tickets, so caching each word's indices makes transform ~10x faster.
    """

    CACHE_SIZE = 100_000

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df
        self.vocabulary: dict[str, int] = {}
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        self._cache: dict[str, array.array[int]] = {}

    def fit(self, texts: Sequence[str]) -> _CharGrams:
        df = Counter(g for t in texts for g in {g for w in set(t.split()) for g in _word_grams(w)})
        kept = sorted(gram for gram, n in df.items() if n >= self.min_df)
        self.vocabulary = {gram: index for index, gram in enumerate(kept)}
        self._cache = {}
        self.tfidf.fit(self._counts(texts))
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.tfidf.transform(self._counts(texts)))

    def _indices(self, word: str) -> array.array[int]:
        cached = self._cache.get(word)
        if cached is None:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            grams = _word_grams(word)
            cached = array.array("i", [self.vocabulary[g] for g in grams if g in self.vocabulary])
            self._cache[word] = cached
        return cached

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        # array.array extends in C and hands numpy its buffer without per-item conversion.
        indptr, indices = array.array("i", [0]), array.array("i")
        for text in texts:
            for word in text.split():
                indices.extend(self._indices(word))
            indptr.append(len(indices))
        data = np.ones(len(indices))
        shape = (len(texts), len(self.vocabulary))
        counts = sparse.csr_matrix((data, np.frombuffer(indices, np.int32), indptr), shape=shape)
        # To columns and back: two linear passes leave every row's indices sorted, so
        # summing the duplicates does not sort each row (which cost more than both).
        counts = counts.tocsc().tocsr()
        counts.sum_duplicates()
        return counts

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": {}}  # the cache is rebuilt, not stored


class _WordGrams:
    """The counts `TfidfVectorizer(ngram_range=(1, 2), lowercase=False)` transforms, found
    with numpy instead of its analyzer's Python loop per n-gram.

    scikit-learn joins every pair of adjacent tokens into a new string and looks each
    n-gram up in a dict. Here each token is looked up once, as a number (`tokens`: every
    word of the vocabulary, alone or in a pair), and the batch's pairs of numbers are
    found among the vocabulary's in one sorted search. The vectorizer's own tf-idf step
    then weighs the counts, so the features are the same, bit for bit (the tests check
    it). Built from a fitted vectorizer, never stored: the saved model keeps the
    vectorizer as it was.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.width = len(vectorizer.vocabulary_)
        grams = [(gram.split(" "), column) for gram, column in vectorizer.vocabulary_.items()]
        self.tokens: dict[str, int] = {}
        for parts, _ in grams:
            for word in parts:
                self.tokens.setdefault(word, len(self.tokens))
        # Column of each token as a word (-1: only seen in pairs), and of each pair, keyed
        # first * len(tokens) + second, sorted by key.
        self.word_columns = np.full(len(self.tokens) + 1, -1, dtype=np.int64)  # [-1]: none
        pairs: dict[int, int] = {}
        for parts, column in grams:
            ids = [self.tokens[word] for word in parts]
            if len(ids) == 1:
                self.word_columns[ids[0]] = column
            else:
                pairs[ids[0] * len(self.tokens) + ids[1]] = column
        self.pair_keys = np.fromiter(sorted(pairs), dtype=np.int64, count=len(pairs))
        self.pair_columns = np.fromiter(
            (pairs[key] for key in self.pair_keys.tolist()), dtype=np.int64, count=len(pairs)
        )

    @staticmethod
    def handles(vectorizer: TfidfVectorizer) -> bool:
        """Whether `vectorizer` is configured as `_Featurizer` makes it (older artifacts of
        the same schema are; anything else is left to scikit-learn)."""
        expected = {
            "analyzer": "word",
            "ngram_range": (1, 2),
            "token_pattern": words.SCIKIT_LEARN_PATTERN,
            "lowercase": False,
            "preprocessor": None,
            "tokenizer": None,
            "stop_words": None,
            "strip_accents": None,
            "input": "content",
            "binary": False,
            "dtype": np.float64,
        }
        params = vectorizer.get_params()
        return all(params.get(name) == value for name, value in expected.items())

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """What `vectorizer.transform(texts)` returns: its counts weighed by `_tfidf`, the
        fitted transformer `TfidfVectorizer.transform` applies (private, but the tests
        compare the two on every run, so a scikit-learn that changes it is caught)."""
        return self.vectorizer._tfidf.transform(self._counts(texts), copy=False)

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        tokens = [words.tokens(text) for text in texts]
        sizes = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = itertools.chain.from_iterable(tokens)
        unknown = itertools.repeat(-1)
        ids = np.fromiter(map(self.tokens.get, flat, unknown), dtype=np.int64, count=sizes.sum())
        rows = np.repeat(np.arange(len(texts)), sizes)
        word_columns = self.word_columns[ids]  # id -1 reads the trailing -1
        is_word = word_columns >= 0
        columns, hit_rows = [word_columns[is_word]], [rows[is_word]]
        if len(self.pair_keys) and len(ids) > 1:
            first, second = ids[:-1], ids[1:]
            keys = first * len(self.tokens) + second
            at = np.minimum(np.searchsorted(self.pair_keys, keys), len(self.pair_keys) - 1)
            paired = (first >= 0) & (second >= 0) & (rows[:-1] == rows[1:])
            is_pair = paired & (self.pair_keys[at] == keys)
            columns.append(self.pair_columns[at[is_pair]])
            hit_rows.append(rows[:-1][is_pair])
        found = np.concatenate(columns)
        shape = (len(texts), self.width)
        counts = sparse.csr_matrix(
            (np.ones(len(found)), (np.concatenate(hit_rows), found)), shape=shape
        )
        counts.sum_duplicates()  # sorts each row's columns too
        return counts


F = TypeVar("F")


def _fast_path(
    paths: weakref.WeakKeyDictionary[Any, F],
    fitted: Any,
    handles: Callable[[Any], bool],
    make: Callable[[Any], F],
) -> F | None:
    """The fast path kept in `paths` for a fitted scikit-learn object (made on first use,
    held weakly: a replaced model's goes with it), or None when it `handles` not."""
    fast = paths.get(fitted)
    if fast is None and handles(fitted):
        fast = paths[fitted] = make(fitted)
    return fast


_WORD_GRAMS: weakref.WeakKeyDictionary[TfidfVectorizer, _WordGrams] = weakref.WeakKeyDictionary()


def _word_tfidf(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    """`vectorizer.transform(texts)`, through `_WordGrams` when it handles the vectorizer."""
    grams = _fast_path(_WORD_GRAMS, vectorizer, _WordGrams.handles, _WordGrams)
    return vectorizer.transform(texts) if grams is None else grams.transform(texts)


class _OneVsRest:
    """A fitted multi-class SGD log-loss model's `predict_proba`, with its coefficients
    transposed once: scikit-learn multiplies by `coef_.T`, a strided view that scipy copies
    into a contiguous array on every call (4.9 MB for product_area, per batch)."""

    def __init__(self, model: SGDClassifier) -> None:
        self.coef = np.ascontiguousarray(model.coef_.T)
        self.intercept = model.intercept_

    @staticmethod
    def handles(model: Any) -> bool:
        """Whether `model` is a label model as `_new_model` fits it with two classes or more
        (a `DummyClassifier`, or anything else, is left to scikit-learn)."""
        return (
            isinstance(model, SGDClassifier)
            and model.loss == "log_loss"
            and model.coef_.shape[0] > 1
        )

    def predict_proba(self, matrix: sparse.csr_matrix) -> Any:
        # scikit-learn's `_predict_proba_lr`, step for step (the same floats).
        probabilities = np.asarray(matrix @ self.coef) + self.intercept
        expit(probabilities, out=probabilities)
        sums = probabilities.sum(axis=1)
        all_zero = sums == 0
        if np.any(all_zero):
            probabilities[all_zero, :] = 1
            sums[all_zero] = probabilities.shape[1]
        probabilities /= sums.reshape((probabilities.shape[0], -1))
        return probabilities


_ONE_VS_REST: weakref.WeakKeyDictionary[SGDClassifier, _OneVsRest] = weakref.WeakKeyDictionary()


def _probabilities(model: Any, matrix: sparse.csr_matrix) -> Any:
    """`model.predict_proba(matrix)`, through `_OneVsRest` when it handles the model."""
    fast = _fast_path(_ONE_VS_REST, model, _OneVsRest.handles, _OneVsRest)
    return model.predict_proba(matrix) if fast is None else fast.predict_proba(matrix)


def _cue_features(signals: Signals) -> dict[str, float]:
    """Lexicon hits and extraction outputs as named features."""
    features: dict[str, float] = {}
    for section, counts in signals.hits.items():
        for value, n in counts.items():
            features[f"lex:{section}:{value}"] = math.log1p(n)
    for section, counts in signals.subject_hits.items():
        for value in counts:
            features[f"subject:{section}:{value}"] = 1.0
    features[f"methods_named:{min(len(_named_methods(signals)), 2)}"] = 1.0
    features.update(_shape_features(signals.subject, signals.body))
    features.update(_extraction_features(signals))
    return features


_PASTED = re.compile(r"```|^(?: {4}|\t)\S", re.MULTILINE)


def _shape_features(subject: str, body: str) -> dict[str, float]:
    """How the ticket is written: questions ask (how_to), pasted code shows a setup."""
    questions = body.count("?")
    names = [
        f"shape:questions:{min(questions, 2)}",
        f"shape:subject_question:{subject.rstrip().endswith('?')}",
        f"shape:pasted:{_may_hold_code(body) and _PASTED.search(body) is not None}",
        f"shape:length:{min(len(body) // 400, 2)}",
    ]
    return dict.fromkeys(names, 1.0)


def _extraction_features(signals: Signals) -> dict[str, float]:
    extraction = signals.extraction
    names = [f"env:{extraction.environment}"]
    names += [f"code_area:{area}" for area in signals.code_values("product_area")]
    names += [f"code_method:{method}" for method in signals.code_values("payment_method")]
    names += [f"code_kind:{fact.kind}" for fact in signals.codes]
    names += [f"code:{code.lower()}" for code in extraction.error_codes]
    names += [f"status:{status}" for status in extraction.http_statuses]
    names += [f"status:{int(status) // 100}xx" for status in extraction.http_statuses]
    names += [f"event:{event}" for event in extraction.event_types]
    names += [f"id:{rid.split('_', 1)[0]}" for rid in extraction.resource_ids]
    return dict.fromkeys(names, 1.0)


@dataclass(frozen=True)
class _Document:
    text: str
    prose: str
    subject: str
    cues: dict[str, float]


def _document(signals: Signals) -> _Document:
    text = _normalize(f"{signals.subject}\n{signals.body}")
    return _Document(text, _prose(text), _normalize(signals.subject), _cue_features(signals))


# Weight of each feature block: words, character n-grams, subject words, cues. Cues are
# few and curated, so they get more weight than thousands of n-grams. (Separate weights
# per label were tried and did not help, so all labels share the same weights.)
BLOCK_WEIGHTS: tuple[float, float, float, float] = (1.0, 1.0, 0.5, 1.5)

# The cues the category model reads. Category is the *kind* of ticket (broken, how do I,
# please add, the docs say, we set it up wrong, slow, down for everyone), not what it is
# about: cues naming a product area, a payment method, a specific code, event or id are
# topic, and a topic cue outweighing the kind cues made category follow the topic (a
# webhook ticket "is" misconfiguration). Category keeps the word and n-gram blocks, the
# category and severity cue groups, how the ticket is written, and the kind of
# evidence it carries (environment, HTTP status, code kind) -- not which code.
CATEGORY_CUES: tuple[str, ...] = (
    "lex:category:",
    "subject:category:",
    "lex:severity:",
    "shape:",
    "env:",
    "status:",
    "code_kind:",
)
# Which cue set each label's model reads ("all" unless listed).
LABEL_CUES: dict[str, tuple[str, ...]] = {"category": CATEGORY_CUES}


class _Featurizer:
    """Words, character n-grams, subject words and cues, as separate matrices."""

    def __init__(self) -> None:
        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False)
        self.chars = _CharGrams(min_df=2)
        self.subject = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False)
        self.cues = DictVectorizer()
        self.cue_columns: dict[tuple[str, ...], np.ndarray] = {}

    def fit(self, documents: Sequence[_Document]) -> _Featurizer:
        self.words.fit([d.text for d in documents])
        self.chars.fit([d.prose for d in documents])
        self.subject.fit([d.subject for d in documents])
        self.cues.fit([d.cues for d in documents])
        names = self.cues.get_feature_names_out()
        self.cue_columns = {
            prefixes: np.array(
                [i for i, n in enumerate(names) if n.startswith(prefixes)], dtype=np.intp
            )
            for prefixes in set(LABEL_CUES.values())
        }
        return self

    def transform(self, documents: Sequence[_Document]) -> dict[str, sparse.csr_matrix]:
        """One design matrix per label: the weighted blocks side by side.

        Labels share the text blocks; a label listed in `LABEL_CUES` reads only its cue
        columns (rescaled to unit length), the others read every cue.
        """
        text_weights, cue_weight = BLOCK_WEIGHTS[:3], BLOCK_WEIGHTS[3]
        blocks = [
            _word_tfidf(self.words, [d.text for d in documents]),
            self.chars.transform([d.prose for d in documents]),
            _word_tfidf(self.subject, [d.subject for d in documents]),
        ]
        text = [b if w == 1.0 else w * b for w, b in zip(text_weights, blocks, strict=True)]
        cues = sparse.csr_matrix(self.cues.transform([d.cues for d in documents]))
        by_cues = {
            prefixes: sparse.hstack([*text, cue_weight * _l2_rows(cues[:, columns])], format="csr")
            for prefixes, columns in self.cue_columns.items()
        }
        every = sparse.hstack([*text, cue_weight * _l2_rows(cues)], format="csr")
        return {label: by_cues.get(LABEL_CUES.get(label, ()), every) for label in LABEL_NAMES}


def _l2_rows(matrix: Any) -> sparse.csr_matrix:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


ALPHA = 3e-5  # SGD regularization of every label without a search
# The category model's regularization is chosen per fit by an inner cross-validation on
# the training rows alone (macro-F1, the category target), never on evaluation folds.
CATEGORY_ALPHAS: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4)
INNER_FOLDS = 4


def _new_model(classes: set[str], alpha: float = ALPHA) -> Any:
    """Logistic regression (log loss) for one label; a constant when only one class is seen.

    Fit by SGD with a fixed seed and epoch count: deterministic, and ~0.2 s per label where
    lbfgs needed ~5 s on this many features. `balanced` gives rare classes a voice.
    """
    if len(classes) < 2:
        return DummyClassifier(strategy="most_frequent")
    return SGDClassifier(
        loss="log_loss",
        alpha=alpha,
        max_iter=50,
        tol=None,
        class_weight="balanced",
        random_state=RANDOM_STATE,
    )


def _inner_alpha(matrix: sparse.csr_matrix, targets: Sequence[str], weights: Any) -> float:
    """The alpha of `CATEGORY_ALPHAS` with the best inner cross-validated macro-F1.

    Ties go to the stronger regularization; too few rows per class keep `ALPHA`.
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(targets)
    folds = min(INNER_FOLDS, min(Counter(targets).values()))
    if folds < 2 or len(set(targets)) < 2:
        return ALPHA
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    splits = list(splitter.split(labels, labels))
    scores: dict[float, float] = {}
    for alpha in CATEGORY_ALPHAS:
        predicted = np.empty(len(labels), dtype=object)
        for train, test in splits:
            model = _new_model(set(labels[train]), alpha)
            model.fit(matrix[train], labels[train], sample_weight=weights[train])
            predicted[test] = model.predict(matrix[test])
        scores[alpha] = float(f1_score(labels, predicted.astype(str), average="macro"))
    best = max(scores.values())
    return max(alpha for alpha, score in scores.items() if score >= best - 1e-9)


def _to_class(label: str, value: str | None) -> str:
    return NULL_METHOD if label == "payment_method" and value is None else str(value)


def _from_class(label: str, value: str) -> str | None:
    return None if label == "payment_method" and value == NULL_METHOD else value


def text_key(subject: str, body: str) -> str:
    """Identity of a ticket text for remembered corrections (case and spacing ignored)."""
    canonical = " ".join(f"{subject}\n{body}".lower().split())
    return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------- the classifier


class Classifier:
    """Predicts product_area, payment_method, category and severity for tickets."""

    def __init__(
        self,
        *,
        lexicon: Lexicon,
        featurizer: _Featurizer,
        models: dict[str, Any],
        corrections: dict[str, dict[str, str | None]],
        model_version: str,
    ) -> None:
        self.lexicon = lexicon
        self.featurizer = featurizer
        self.models = models
        self.corrections = corrections
        self.model_version = model_version
        self.schema_version = SCHEMA_VERSION

    @classmethod
    def fit(
        cls, rows: Sequence[LabelledTicket], *, model_version: str, lexicon: Lexicon | None = None
    ) -> Classifier:
        """Fit the featurizer and one model per label on labelled tickets."""
        lexicon = lexicon or Lexicon.load()
        signals = [read_signals(lexicon, r.subject, r.body, r.extraction) for r in rows]
        documents = [_document(s) for s in signals]
        featurizer = _Featurizer().fit(documents)
        matrices = featurizer.transform(documents)
        models = {label: _fit_label(label, rows, matrices[label]) for label in LABEL_NAMES}
        return cls(
            lexicon=lexicon,
            featurizer=featurizer,
            models=models,
            corrections=_remembered(rows),
            model_version=model_version,
        )

    def predict(self, subject: str, body: str, extraction: Extraction) -> Labels:
        """Labels for one ticket."""
        return self.predict_many([(subject, body, extraction)])[0]

    def predict_many(self, tickets: Sequence[tuple[str, str, Extraction]]) -> list[Labels]:
        """Labels for many (subject, body, extraction) tickets, vectorized in one batch."""
        if not tickets:
            return []
        signals = [read_signals(self.lexicon, *ticket) for ticket in tickets]
        matrices = self.featurizer.transform([_document(s) for s in signals])
        choices = {
            label: self._model_choices(label, matrices[label], signals) for label in LABEL_NAMES
        }
        return [
            self._combine(s, {k: v[row] for k, v in choices.items()})
            for row, s in enumerate(signals)
        ]

    def _model_choices(
        self, label: str, matrix: sparse.csr_matrix, signals: Sequence[Signals]
    ) -> list[tuple[str | None, float]]:
        """Per ticket, the most probable class it allows, with that class's probability."""
        model = self.models[label]
        probabilities = _probabilities(model, matrix)
        classes = [str(c) for c in model.classes_]
        allowed = _allowed(label, classes, signals)
        best = np.argmax(np.where(allowed, probabilities, -1.0), axis=1)
        chosen = probabilities[np.arange(len(signals)), best]
        return [
            (_from_class(label, classes[b]), round(float(p), 4))
            for b, p in zip(best, chosen, strict=True)
        ]

    def _combine(self, signals: Signals, model: dict[str, tuple[str | None, float]]) -> Labels:
        """Per label: a remembered correction, else a decisive rule, else the model."""
        remembered = self._corrected(signals)
        decisions = decide(signals)
        chosen: dict[str, tuple[str | None, float]] = {}
        for label in LABEL_NAMES:
            if label in remembered:
                chosen[label] = (remembered[label], CORRECTION_CONFIDENCE)
            elif label in decisions:
                chosen[label] = (decisions[label].value, RULE_CONFIDENCE)
            else:
                chosen[label] = model[label]
        return Labels(
            product_area=str(chosen["product_area"][0]),
            payment_method=chosen["payment_method"][0],
            category=str(chosen["category"][0]),
            severity=str(chosen["severity"][0]),
            confidence={label: value[1] for label, value in chosen.items()},
            model_version=self.model_version,
        )

    def _corrected(self, signals: Signals) -> dict[str, str | None]:
        """The corrections remembered for this exact text. Keying the text is half of what
        `_combine` costs (~7 us a ticket), and is skipped when the model remembers none."""
        if not self.corrections:
            return {}
        return self.corrections.get(text_key(signals.subject, signals.body), {})


def _allowed(label: str, classes: Sequence[str], signals: Sequence[Signals]) -> Any:
    """Which classes each ticket may take. TAXONOMY.md: only live payments can be critical."""
    allowed = np.ones((len(signals), len(classes)), dtype=bool)
    if label == "severity" and "critical" in classes:
        live = [s.extraction.environment == "live" for s in signals]
        allowed[:, classes.index("critical")] = live
    return allowed


def _fit_label(label: str, rows: Sequence[LabelledTicket], matrix: sparse.csr_matrix) -> Any:
    """Fit one label's model on the rows that carry that label."""
    indices = [i for i, row in enumerate(rows) if label in row.labels]
    if not indices:
        raise ValueError(f"no training example carries a {label} label")
    targets = [_to_class(label, rows[i].labels[label]) for i in indices]
    weights = np.array([rows[i].weight for i in indices])
    alpha = _inner_alpha(matrix[indices], targets, weights) if label == "category" else ALPHA
    model = _new_model(set(targets), alpha)
    model.fit(matrix[indices], targets, sample_weight=weights)
    return model


def _remembered(rows: Sequence[LabelledTicket]) -> dict[str, dict[str, str | None]]:
    """Corrected labels by text; later corrections of the same text win."""
    memory: dict[str, dict[str, str | None]] = {}
    for row in rows:
        if row.remember:
            memory.setdefault(text_key(row.subject, row.body), {}).update(row.labels)
    return memory
