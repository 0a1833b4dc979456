"""Incremental theme matching: record features, per-theme profiles and an inverted index.

A record becomes a sparse vector (hashed word 1-2-grams and char 3-5-grams of its subject
and text, sublinear tf x idf, L2-normalised, cut to its strongest features) plus its
structured fields. A theme keeps the *sum* of its members' vectors (the centroid, pruned)
and counts of their fields, so adding or removing one record costs O(features), never a
re-cluster. Matching a record looks only at themes that share one of its strongest
features or error codes (inverted index), then scores the best-connected candidates:

    score = W_TEXT * cosine(record, centroid) + W_AREA * share of members in its product area
          + W_METHOD * share with its payment method
          + W_CODES * [shares an error code, or a decline / provider code of the same family]
          + W_STATUS * [shares an HTTP status] + W_CATEGORY * share with its category

and joins the best theme when score >= JOIN_THRESHOLD, else starts a new theme. A code's
family comes from the catalogue (`briefs/errors.yaml`): decline and provider codes of one
kind, product area and payment method (Maya's PY0105 and PY0119, two card declines) name
the same kind of failure, so they count as shared; API codes only count when equal, as
every flow returns them.
Weights and threshold were chosen on the hand-labelled corpus (`relay themes evaluate`
prints the sweep): the threshold is the one that balances pairwise precision and recall,
and it is also the one most often picked when it is chosen on one random half of the corpus
and measured on the other (five splits), so it is not an artefact of the whole sample.
Everything here is pure and deterministic (fixed hashes, ordered tie-breaks); no database.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service.structuring import words
from service.structuring.catalogue import load_catalogue

CORPUS_PATH = (
    Path(__file__).resolve().parent.parent / "structuring" / "corpus" / "tickets-dev.jsonl"
)

HASH_SPACE = 2**20  # word features in [0, 2^20), char features in [2^20, 2^21)
CHAR_WEIGHT = 0.8  # char n-grams catch Taglish spellings and typos; words carry meaning
SUBJECT_REPEAT = 2  # the subject is the merchant's own summary: count it twice
RECORD_FEATURES = 120  # strongest features kept per record (bounds storage and scoring)
CENTROID_FEATURES = 300  # strongest features kept per theme centroid
RECORD_TERMS = 12  # readable key terms per record, to explain a membership
THEME_TERMS = 64  # term counts kept per theme
# A theme is found by its strongest centroid features and its codes; a record looks up its
# own strongest features. A key that very many themes share tells little: it is skipped.
INDEX_FEATURES = 200
QUERY_FEATURES = 50
POSTING_LIMIT = 100
MAX_CANDIDATES = 30  # themes scored exactly per record, by number of shared keys
REKEY_UNTIL = 16  # themes up to this size are re-indexed on every change, then every 16th

W_TEXT = 1.0
W_AREA = 0.25
W_METHOD = 0.10
W_CODES = 0.20
W_STATUS = 0.20
W_CATEGORY = 0.05
JOIN_THRESHOLD = 0.35
# A record the known-themes model recognises still joins a theme that formed by similarity
# (no known key) when that is its best theme and fits it this well: a new problem's records
# are taken for the nearest known one. Picked from 0.35-0.65 on `relay themes evaluate`'s
# two figures at seed 0 (new themes up, known themes kept), then checked on seeds 1-3;
# lower bars pull known problems' records out of their theme (at 0.40 known-themes
# precision fell to 0.68 at seed 0, to 0.63 at seed 1).
FORMING_THRESHOLD = 0.45
# A record the known-themes model reads as a one-off (`KnownMatch.reads_as_one_off`) joins
# a theme by similarity only this close: the same question asked again groups, a question
# that merely shares a product's words does not. Picked from 0.45 / 0.55 / never on `relay
# themes evaluate`'s two figures at seeds 0-1 (0.45 let five BillEase questions group
# again; never left identical questions apart, one theme per record).
ONE_OFF_JOIN_THRESHOLD = 0.55
MOVE_MARGIN = 0.15  # an attached record moves only to a theme that fits this much better

# Roughly 15% of tickets are Taglish. Tagalog function words ("na", "pero", "sa", "po") and
# courtesy words say nothing about the problem, but two short Taglish tickets on different
# problems share several of them and looked alike. They are dropped like English ones.
TAGALOG_STOP_WORDS = frozenset(
    """
    ako amin ang ano at ay ba bakit baka daw di din diyan doon dito eh ha hindi ikaw ito
    iyan ka kami kanila kapag kasi kay kayo kaya ko kung lahat lang lng may mga mo na naman
    namin nang natin nga ng ngayon ni nila ninyo niya niyo nmn nya nyo opo pa paano pag
    pala para pero po raw rin sa saan salamat sana si sila sino siya tapos tayo ung wala
    walang yan yun yung
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
COURTESY_WORDS = frozenset(
    "afternoon evening good hello hi morning please pls regards team thank thanks".split()  # noqa: SIM905
)


# scikit-learn (about 100 MB resident with SciPy) is imported on the first record
# featurized, not when the module loads: the API imports this module for its routes,
# and a process serving only reads and exports never needs it.
@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | TAGALOG_STOP_WORDS | COURTESY_WORDS


def _word_grams(text: str) -> list[str]:
    """The text's word 1-2-grams, stop words left out: what scikit-learn's analyzer of
    `HashingVectorizer(ngram_range=(1, 2), stop_words=stop_words())` gives (the tests check
    it), without its loop slicing and joining each pair."""
    stop = stop_words()
    kept = [token for token in words.tokens(text.lower()) if token not in stop]
    return kept + [f"{first} {second}" for first, second in itertools.pairwise(kept)]


@lru_cache(maxsize=1)
def _murmurhash() -> Callable[..., int]:
    from sklearn.utils import murmurhash3_32

    hash_function: Callable[..., int] = murmurhash3_32
    return hash_function


_EDGE_PUNCTUATION = ".,;:!?()[]{}\"'`"
CHAR_NGRAMS = (3, 5)
_SIGN_OFF = re.compile(
    r"^\W*(thanks|thank you|many thanks|regards|best regards|best|cheers|salamat|sincerely"
    r"|respectfully|kind regards)\b[^\n]{0,40}$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class RecordFeatures:
    """What matching needs to know about one record."""

    vector: dict[int, float]  # strongest feature first
    terms: tuple[str, ...]
    product_area: str
    payment_method: str | None
    category: str
    error_codes: frozenset[str]
    http_statuses: frozenset[int]

    @cached_property
    def code_keys(self) -> frozenset[str]:
        """The record's codes and their catalogue families (what codes are matched on)."""
        return frozenset(key for code in self.error_codes for key in code_keys(code))

    @classmethod
    def of_arrays(
        cls, indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], **fields: Any
    ) -> RecordFeatures:
        """Features whose vector is `indices` and `weights` (strongest first); the arrays
        are kept as `arrays`, which profiles add, instead of being rebuilt from the dict."""
        vector = dict(zip(indices.tolist(), weights.tolist(), strict=True))
        features = cls(vector=vector, **fields)
        features.__dict__["arrays"] = (indices, weights)  # `arrays`, already known
        return features

    @cached_property
    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The vector as (indices, weights) arrays, in its order (what profiles add)."""
        n = len(self.vector)
        return (
            np.fromiter(self.vector.keys(), dtype=np.int64, count=n),
            np.fromiter(self.vector.values(), dtype=np.float64, count=n),
        )

    @cached_property
    def packed(self) -> dict[str, str]:
        """The vector as stored on a membership (see `pack_weights`); computed once, where
        the features are prepared (the worker's helper), not by the writer."""
        return pack_weights(*self.arrays)

    def vector_json(self) -> dict[str, str]:
        """The vector as stored on a membership (see `pack_weights`)."""
        return self.packed


def featurize(
    *,
    subject: str,
    text: str,
    product_area: str,
    payment_method: str | None,
    category: str,
    error_codes: Iterable[str] = (),
    http_statuses: Iterable[int] = (),
    merchant_name: str | None = None,
    read: Tokens | None = None,
) -> RecordFeatures:
    """Features of one record (pure: the same input always gives the same features).

    `read` is the record's `tokens` when a batch was already analysed (`analyse`)."""
    if read is None:
        read = tokens(subject, text, merchant_name)
    words = Counter(read.words)
    word_index, word_weight = _word_weights(words, read)
    char_index, char_weight = _char_weights(read)
    return RecordFeatures.of_arrays(
        *_blend(word_index, word_weight, char_index, char_weight),
        terms=_key_terms(list(words), word_weight),
        product_area=product_area,
        payment_method=payment_method,
        category=category,
        error_codes=frozenset(error_codes),
        http_statuses=frozenset(http_statuses),
    )


@dataclass(frozen=True)
class Tokens:
    """A record's text as matching reads it: sign-offs and the merchant's name dropped, the
    subject counted SUBJECT_REPEAT times. Similarity and the known-themes model both read
    these; `tokens` keeps the last few so a record is analysed once for both."""

    words: tuple[str, ...]  # word 1-2-grams
    word_indices: npt.NDArray[np.int64]  # their hashed features, one per word token
    char_indices: npt.NDArray[np.int64]  # hashed char 3-5-grams inside words


# What a record's tokens are computed from: its subject, its text and its merchant's name.
TextOf = tuple[str, str, str | None]


@lru_cache(maxsize=16)  # a record is analysed, then read again at once
def tokens(subject: str, text: str, merchant_name: str | None) -> Tokens:
    """The record's word and char n-gram tokens (pure; arrays are read-only)."""
    return analyse([(subject, text, merchant_name)])[0]


def analyse(texts: Sequence[TextOf]) -> list[Tokens]:
    """The tokens of many records, the same as `tokens` of each (arrays are read-only).

    The batch is hashed in one pass: a record's arrays are small, so numpy's per-call cost
    outweighed the arithmetic when records were hashed one at a time."""
    cleaned = [(_strip_noise(s, name), _strip_noise(t, name)) for s, t, name in texts]
    grams = [
        tuple(_word_grams(subject) * SUBJECT_REPEAT + _word_grams(body))
        for subject, body in cleaned
    ]
    word_indices = _split(*_word_indices_many(grams))
    segments: list[list[str]] = []  # per record: its subject SUBJECT_REPEAT times, its body
    for subject, body in cleaned:
        segments += [_content_words(subject)] * SUBJECT_REPEAT + [_content_words(body)]
    char_indices, segment_bounds = _char_indices_many(segments)
    record_bounds = segment_bounds[:: SUBJECT_REPEAT + 1]
    return [
        Tokens(w, i, c)
        for w, i, c in zip(grams, word_indices, _split(char_indices, record_bounds), strict=True)
    ]


@lru_cache(maxsize=4096)
def code_keys(code: str) -> tuple[str, ...]:
    """The code, and for a decline or provider code its family: kind, area and method."""
    entry = load_catalogue().lookup(code)
    if entry is None or entry.kind == "api":
        return (code,)
    return (code, f"{entry.kind}:{entry.product_area}:{entry.payment_method or '-'}")


def _strip_noise(text: str, merchant_name: str | None) -> str:
    # Sign-offs and signatures (names, titles, company) say nothing about the problem.
    match = _SIGN_OFF.search(text)
    if match is not None and match.start() > len(text) // 3:
        text = text[: match.start()]
    if merchant_name:
        text = re.sub(re.escape(merchant_name), " ", text, flags=re.IGNORECASE)
    return text


def _word_indices(tokens: Sequence[str]) -> npt.NDArray[np.int64]:
    return _word_indices_many([tokens])[0]


def _word_indices_many(
    records: Sequence[Sequence[str]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Hashed word tokens of many records, end to end, and where each record's start and
    end (every distinct token is hashed once: records share most of their words)."""
    murmurhash3_32 = _murmurhash()
    flat = [token for tokens in records for token in tokens]
    distinct = dict.fromkeys(flat)
    hashes = [murmurhash3_32(t, seed=0, positive=True) for t in distinct]
    indices = np.asarray(hashes, dtype=np.int64) % HASH_SPACE
    code_of = dict(zip(distinct, range(len(distinct)), strict=True))
    codes = np.fromiter(map(code_of.__getitem__, flat), dtype=np.int64, count=len(flat))
    bounds = np.cumsum(_sizes(itertools.chain([0], map(len, records))))
    return indices[codes], bounds


def _split(
    flat: npt.NDArray[np.int64], bounds: npt.NDArray[np.int64]
) -> list[npt.NDArray[np.int64]]:
    """Read-only views of `flat` between consecutive bounds."""
    flat.setflags(write=False)  # shared by every Tokens of the batch
    ends = bounds.tolist()
    return [flat[start:end] for start, end in itertools.pairwise(ends)]


def _content_words(text: str) -> list[str]:
    """The lower-cased words of `text` that are not stop words (for character n-grams)."""
    stop = stop_words()
    return [w for w in text.lower().split() if w.strip(_EDGE_PUNCTUATION) not in stop]


def _char_indices(text: str) -> npt.NDArray[np.int64]:
    """Hashed char 3-5-grams inside space-padded content words (like char_wb), vectorised."""
    return _char_indices_many([_content_words(text)])[0]


def _char_indices_many(
    segments: Sequence[Sequence[str]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Hashed char n-grams of many texts' content words, end to end, and each text's bounds.

    A text's n-grams come in the order hashing it alone gives: all its 3-grams, then its
    4-grams, then its 5-grams, each in reading order. Padded words are laid end to end over
    every text; an n-gram never spans two words, so never two texts either.
    """
    words = [w for segment in segments for w in segment]
    padded = "".join(f" {w} " for w in words)
    points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    word_of = np.repeat(np.arange(len(words)), _sizes(len(w) + 2 for w in words))
    segment_of = np.repeat(np.arange(len(segments)), _sizes(len(s) for s in segments))
    lengths = range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1)
    found = [_ngram_hashes(points, word_of, n) for n in lengths]
    owners = [segment_of[word_of[starts]] for _, starts in found]
    counts = np.stack([np.bincount(o, minlength=len(segments)) for o in owners], axis=1)
    first = np.cumsum(counts.ravel()).reshape(counts.shape) - counts  # segment-major, then n
    hashes = np.empty(int(counts.sum()), dtype=np.uint64)
    for column, ((found_hashes, _), owner) in enumerate(zip(found, owners, strict=True)):
        # The k-th n-gram of a segment goes k places after that segment's first n-gram.
        rank = np.arange(len(owner)) - (np.cumsum(counts[:, column]) - counts[:, column])[owner]
        hashes[first[owner, column] + rank] = found_hashes
    bounds = np.cumsum(np.concatenate([[0], counts.sum(axis=1)]))
    return HASH_SPACE + hashes.astype(np.int64) % HASH_SPACE, bounds


def _sizes(sizes: Iterable[int]) -> npt.NDArray[np.int64]:
    return np.fromiter(sizes, dtype=np.int64)  # an int array even when empty


def _ngram_hashes(
    points: npt.NDArray[np.uint64], word_of: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Hashes of the n-grams inside a word, and where each starts."""
    if len(points) < n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    span = len(points) - n + 1
    hashes = np.full(span, n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        for k in range(n):
            hashes = hashes * np.uint64(1_000_003) + points[k : k + span]
        hashes ^= hashes >> np.uint64(29)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(32)
    # An n-gram may not run from one padded word into the next.
    starts = np.flatnonzero(word_of[:span] == word_of[n - 1 :])
    return hashes[starts], starts


def _word_weights(
    words: Counter[str], read: Tokens
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    index_of = dict(zip(read.words, read.word_indices.tolist(), strict=True))
    counts = np.fromiter(words.values(), dtype=np.float64, count=len(words))
    indices = np.fromiter((index_of[w] for w in words), dtype=np.int64, count=len(words))
    return _weights(indices, counts)


def _char_weights(read: Tokens) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    indices, counts = np.unique(read.char_indices, return_counts=True)
    return _weights(indices, counts.astype(np.float64))


def _weights(
    indices: npt.NDArray[np.int64], counts: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Sublinear tf x idf per feature (tokens that collide keep their own weight)."""
    weights = (1.0 + np.log(counts)) * idf_table()[indices] if len(indices) else counts
    return indices, weights


def _unit(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norm = float(np.sqrt(np.dot(weights, weights)))
    return weights / norm if norm else weights


def _blend(
    word_index: npt.NDArray[np.int64],
    word_weight: npt.NDArray[np.float64],
    char_index: npt.NDArray[np.int64],
    char_weight: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    # Words whose hashes collide add up. Char n-grams need no merging: they come unique
    # (`_char_weights`) and hash above every word.
    word_index, inverse = np.unique(word_index, return_inverse=True)
    merged = np.bincount(inverse, weights=_unit(word_weight), minlength=len(word_index))
    indices = np.concatenate([word_index, char_index])
    weights = np.concatenate([merged, CHAR_WEIGHT * _unit(char_weight)])
    order = _top(indices, weights, RECORD_FEATURES)
    return indices[order], _unit(weights[order])


def _top(
    indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], count: int
) -> npt.NDArray[np.int64]:
    """Positions of the `count` strongest weights, strongest first; ties: lower index."""
    candidates = np.arange(len(weights))
    if len(weights) > count:
        # Only weights at least the count-th largest can make it: sort those alone.
        cut = np.partition(weights, len(weights) - count)[len(weights) - count]
        candidates = np.flatnonzero(weights >= cut)
    order = np.lexsort((indices[candidates], -weights[candidates]))
    strongest: npt.NDArray[np.int64] = candidates[order][:count]
    return strongest


def _strongest(weights: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Positions, ascending, of the `count` strongest of more than `count` weights; ties at
    the cut: lower positions. For arrays in ascending index order this is the set `_top`
    picks, without ordering it by strength (a centroid is kept in index order)."""
    cut = np.partition(weights, len(weights) - count)[len(weights) - count]
    keep = weights > cut
    ties = np.flatnonzero(weights == cut)[: count - int(np.count_nonzero(keep))]
    keep[ties] = True
    positions: npt.NDArray[np.int64] = np.flatnonzero(keep)
    return positions


def _key_terms(tokens: list[str], weights: npt.NDArray[np.float64]) -> tuple[str, ...]:
    scored = [(w, t) for t, w in zip(tokens, weights.tolist(), strict=True) if not t.isdigit()]
    return tuple(t for _, t in heapq.nlargest(RECORD_TERMS, scored))


@lru_cache(maxsize=1)
def idf_table() -> npt.NDArray[np.float64]:
    """Inverse document frequency of every feature, from the shipped ticket corpus's text.

    A stateless background sample of merchant language (no labels are read): features
    every ticket has ("payment", "hi", "please") weigh little, specific ones weigh much,
    and features the sample never saw weigh the most.
    """
    documents = [(t["subject"], t["body"]) for t in load_corpus()]
    df = np.zeros(2 * HASH_SPACE, dtype=np.float64)
    for subject, body in documents:
        df[np.unique(_word_indices(_word_grams(f"{subject}\n{body}")))] += 1
        df[np.unique(np.concatenate([_char_indices(subject), _char_indices(body)]))] += 1
    n = len(documents)
    return np.log((1 + n) / (1 + df)) + 1.0


def load_corpus(path: Path = CORPUS_PATH) -> list[dict[str, Any]]:
    """The hand-labelled ticket corpus, oldest first."""
    with path.open(encoding="utf-8") as handle:
        tickets = [json.loads(line) for line in handle if line.strip()]
    return sorted(tickets, key=lambda t: (t["created_at"], t["id"]))


# An inverted-index key: a centroid feature (int) or a code or code family (str). Features
# are looked up as the ints they are: building a string per feature was most of a lookup.
IndexKey = int | str

_NO_INDICES: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
_NO_WEIGHTS: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)


@dataclass(eq=False)  # identity: numpy arrays have no plain equality
class Profile:
    """A theme as matching sees it: centroid sum and counts of its members' fields.

    The centroid is kept as two arrays (feature indices in ascending order, and their
    weights): every member added to a big theme merges ~120 features into ~300 and prunes
    back to the strongest, a few vector operations on arrays (a Python walk over a dict
    before), and the cut is deterministic: of equal weights, the lower index stays. The
    arrays are replaced, never changed in place, so a copy may share them.
    """

    count: int = 0
    areas: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)  # codes and their families
    statuses: Counter[str] = field(default_factory=Counter)
    terms: Counter[str] = field(default_factory=Counter)
    norm: float = 0.0
    _indices: npt.NDArray[np.int64] = field(default_factory=lambda: _NO_INDICES, repr=False)
    _weights: npt.NDArray[np.float64] = field(default_factory=lambda: _NO_WEIGHTS, repr=False)
    _feature_keys: frozenset[int] | None = field(default=None, repr=False, compare=False)
    _index_keys: frozenset[IndexKey] | None = field(default=None, repr=False, compare=False)

    @property
    def centroid(self) -> dict[int, float]:
        """The centroid as {feature index: weight}, ascending by index."""
        return dict(zip(self._indices.tolist(), self._weights.tolist(), strict=True))

    def add(self, features: RecordFeatures, sign: int = 1) -> None:
        """Add (sign=1) or remove (sign=-1) one member: O(features)."""
        self.count = max(0, self.count + sign)
        indices, weights = features.arrays
        self._merge(indices, weights if sign > 0 else -weights)
        self._count(features, sign)
        if sign < 0 or len(self._indices) > CENTROID_FEATURES:
            self._prune()
        if self.count <= REKEY_UNTIL or self.count % REKEY_UNTIL == 0:
            self._feature_keys = None  # small themes change fast; big ones now and then
        if self._feature_keys is None or features.code_keys:
            self._index_keys = None

    def copy(self) -> Profile:
        """An independent copy (the centroid arrays are shared: never changed in place)."""
        twin = Profile(count=self.count, norm=self.norm)
        twin._indices, twin._weights = self._indices, self._weights
        for name in _COUNTERS:
            setattr(twin, name, Counter(getattr(self, name)))
        return twin

    def absorb(self, other: Profile) -> None:
        """Add every member of `other` (a merge)."""
        self.count += other.count
        self._merge(other._indices, other._weights)
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))
        self._feature_keys = self._index_keys = None
        self._prune()

    def _merge(self, indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]) -> None:
        # `indices` are distinct (a record's features, or another centroid's); the centroid's
        # are ascending. Shared features add to the centroid's weight; the others are
        # appended and the lot put in index order (3x cheaper than np.unique on the union).
        centroid = self._indices
        at = np.searchsorted(centroid, indices)
        shared = centroid[np.minimum(at, len(centroid) - 1)] == indices if len(centroid) else at < 0
        sums = self._weights.copy()  # never changed in place: `copy` shares the arrays
        sums[at[shared]] += weights[shared]
        fresh = ~shared
        merged = np.concatenate([centroid, indices[fresh]])
        order = np.argsort(merged, kind="stable")
        self._set(merged[order], np.concatenate([sums, weights[fresh]])[order])

    def _set(self, indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]) -> None:
        self._indices, self._weights = indices, weights
        self.norm = float(np.sqrt(np.dot(weights, weights)))

    def _count(self, features: RecordFeatures, sign: int) -> None:
        pairs: list[tuple[Counter[str], Iterable[str]]] = [
            (self.areas, [features.product_area]),
            (self.methods, [features.payment_method] if features.payment_method else []),
            (self.categories, [features.category]),
            (self.codes, features.error_codes),
            (self.families, features.code_keys),
            (self.statuses, [str(s) for s in features.http_statuses]),
            (self.terms, features.terms),
        ]
        for counter, keys in pairs:  # each key once per record (they come from sets)
            if sign > 0:
                counter.update(keys)  # counted in C: a member joins with every record
                continue
            for key in keys:
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]
        if len(self.terms) > 2 * THEME_TERMS:
            self.terms = Counter(dict(most_common(self.terms, THEME_TERMS)))

    def _prune(self) -> None:
        # Removing members can leave dust; a big theme keeps only its strongest features.
        # Equal weights (common: a record's rare n-grams share one idf) keep the lower index.
        indices, weights = self._indices, self._weights
        keep = np.nonzero(weights > 1e-9)[0] if self.count else np.zeros(0, dtype=np.int64)
        if len(keep) > CENTROID_FEATURES:
            keep = keep[_strongest(weights[keep], CENTROID_FEATURES)]
        self._set(indices[keep], weights[keep])

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The centroid as (indices ascending, weights) arrays (for scoring; read-only)."""
        return self._indices, self._weights

    def index_keys(self) -> frozenset[IndexKey]:
        """The inverted-index keys this theme is found by: its strongest features and codes.

        Big themes are re-keyed when their centroid is pruned, not on every member.
        """
        if self._feature_keys is None:
            strongest = self._indices[_top(self._indices, self._weights, INDEX_FEATURES)]
            self._feature_keys = frozenset(strongest.tolist())
            self._index_keys = None
        if self._index_keys is None:
            self._index_keys = self._feature_keys.union(self.families)
        return self._index_keys

    def dominant(self, counter_name: str) -> str | None:
        """The most common value of one field among the members (ties: alphabetical)."""
        top = most_common(getattr(self, counter_name), 1)
        return top[0][0] if top else None

    def to_json(self) -> dict[str, Any]:
        """The counts, as stored in `Theme.signature` (the centroid is stored apart)."""
        return {
            "count": self.count,
            "areas": dict(self.areas),
            "methods": dict(self.methods),
            "categories": dict(self.categories),
            "codes": dict(self.codes),
            "families": dict(self.families),
            "statuses": dict(self.statuses),
            "terms": dict(self.terms),
        }

    def centroid_json(self) -> dict[str, str]:
        """The centroid, as stored in `Theme.centroid` (see `pack_weights`)."""
        return pack_weights(self._indices, self._weights)

    @classmethod
    def from_json(cls, signature: Mapping[str, Any], centroid: Mapping[str, Any]) -> Profile:
        """A profile from its stored form."""
        profile = cls(count=int(signature.get("count", 0)))
        indices, weights = _unpack(centroid)
        order = np.argsort(indices, kind="stable")  # stored before 0.7.0 in any order
        profile._set(indices[order], weights[order])
        for name in _COUNTERS:
            setattr(profile, name, Counter(signature.get(name, {})))
        if "families" not in signature:  # stored before families were kept: derive them
            profile.families = Counter(
                {key: n for code, n in profile.codes.items() for key in code_keys(code)}
            )
        return profile


_COUNTERS = ("areas", "methods", "categories", "codes", "families", "statuses", "terms")


def most_common(counter: Mapping[str, int], n: int) -> list[tuple[str, int]]:
    """The `n` most frequent keys, ties in alphabetical order (deterministic)."""
    # Two stable sorts with C-level keys (keys first, then counts) order as one sort by
    # (-count, key) would, without a Python key function per item: a big theme trims its
    # term counts every few members.
    return sorted(sorted(counter.items()), key=itemgetter(1), reverse=True)[:n]


def features_from_json(vector: Mapping[str, Any], **fields: Any) -> RecordFeatures:
    """Features rebuilt from a stored vector and the record's fields."""
    return RecordFeatures.of_arrays(*_unpack(vector), **fields)


def pack_weights(
    indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]
) -> dict[str, str]:
    """Sparse weights as stored in a JSON column: feature indices (int32) and weights
    (float32), each base64, in the order given.

    Every worker transaction writes the vectors of its new members and the centroids of
    the themes they joined; as {"index": weight} objects, formatting those floats was a
    tenth of a record's cost. Packed, it is a few microseconds and a third of the bytes;
    float32 keeps ~7 significant digits, more than matching uses.
    """
    return {
        "i": base64.b64encode(indices.astype(np.int32).tobytes()).decode("ascii"),
        "w": base64.b64encode(weights.astype(np.float32).tobytes()).decode("ascii"),
    }


def unpack_weights(stored: Mapping[str, Any]) -> dict[int, float]:
    """Weights from their stored form: packed (`pack_weights`) or, as stored before
    0.5.0, an object of {"index": weight}."""
    indices, weights = _unpack(stored)
    return dict(zip(indices.tolist(), weights.tolist(), strict=True))


def _unpack(stored: Mapping[str, Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    if isinstance(stored.get("i"), str) and isinstance(stored.get("w"), str):
        indices = np.frombuffer(base64.b64decode(stored["i"]), dtype=np.int32)
        weights = np.frombuffer(base64.b64decode(stored["w"]), dtype=np.float32)
        return indices.astype(np.int64), weights.astype(np.float64)
    n = len(stored)
    return (
        np.fromiter((int(i) for i in stored), dtype=np.int64, count=n),
        np.fromiter((float(w) for w in stored.values()), dtype=np.float64, count=n),
    )


@dataclass(frozen=True)
class Match:
    """How well one record fits one theme, and why."""

    theme_id: str
    score: float
    similarity: float
    area_share: float
    method_share: float
    category_share: float
    shared_codes: tuple[str, ...]
    shared_families: tuple[str, ...]
    shared_statuses: tuple[str, ...]
    shared_terms: tuple[str, ...]

    def reasons(self) -> dict[str, Any]:
        """The explanation stored on the membership and shown to people."""
        return {
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "product_area_match": self.area_share >= 0.5,
            "area_share": round(self.area_share, 3),
            "payment_method_share": round(self.method_share, 3),
            "shared_codes": list(self.shared_codes),
            "shared_code_families": list(self.shared_families),
            "shared_statuses": list(self.shared_statuses),
            "shared_terms": list(self.shared_terms),
        }


@dataclass(frozen=True)
class _Query:
    """What scoring reads of a record beyond its fields, derived once for all the themes
    it is scored against (a record meets up to MAX_CANDIDATES of them)."""

    features: RecordFeatures
    code_keys: frozenset[str]
    statuses: frozenset[str]  # its HTTP statuses as profiles count them

    @classmethod
    def of(cls, features: RecordFeatures) -> _Query:
        return cls(features, features.code_keys, frozenset(str(s) for s in features.http_statuses))


def score(features: RecordFeatures, theme_id: str, profile: Profile) -> Match:
    """The weighted fit of `features` to the theme `profile`, with its reasons."""
    return _score(_Query.of(features), theme_id, profile)


def _score(query: _Query, theme_id: str, profile: Profile) -> Match:
    features = query.features
    n = max(profile.count, 1)
    codes = tuple(sorted(features.error_codes & profile.codes.keys()))
    families = tuple(sorted(k for k in query.code_keys & profile.families.keys() if ":" in k))
    statuses = tuple(sorted(query.statuses & profile.statuses.keys()))
    terms = tuple(t for t in features.terms if t in profile.terms)
    cosine = _cosine(features, profile)
    return Match(
        theme_id,
        _fit(query, profile, cosine),
        cosine,
        profile.areas.get(features.product_area, 0) / n,
        profile.methods.get(features.payment_method or "", 0) / n,
        profile.categories.get(features.category, 0) / n,
        codes,
        families,
        statuses,
        terms,
    )


def fit(features: RecordFeatures, profile: Profile, cosine: float | None = None) -> float:
    """The weighted score of the module docstring (the hot path: no explanation built)."""
    return _fit(
        _Query.of(features), profile, _cosine(features, profile) if cosine is None else cosine
    )


def _fit(query: _Query, profile: Profile, cosine: float) -> float:
    features = query.features
    n = max(profile.count, 1)
    total = W_TEXT * cosine
    total += W_AREA * profile.areas.get(features.product_area, 0) / n
    total += W_CATEGORY * profile.categories.get(features.category, 0) / n
    if features.payment_method:
        total += W_METHOD * profile.methods.get(features.payment_method, 0) / n
    if not query.code_keys.isdisjoint(profile.families):
        total += W_CODES
    if not query.statuses.isdisjoint(profile.statuses):
        total += W_STATUS
    return total


def _cosine(features: RecordFeatures, profile: Profile) -> float:
    if not profile.norm:
        return 0.0
    # Only shared features contribute: each record feature is looked up in the centroid's
    # ascending indices.
    indices, weights = features.arrays
    centroid, sums = profile.arrays()
    at = np.minimum(np.searchsorted(centroid, indices), max(len(centroid) - 1, 0))
    shared = centroid[at] == indices if len(centroid) else np.zeros(0, dtype=bool)
    return float(np.dot(weights[shared], sums[at[shared]])) / profile.norm


_NO_POSTING: dict[str, None] = {}
_ROUNDING = 1e-9  # far above float error in a cosine, far below any threshold's meaning


class ThemeIndex:
    """Profiles of live themes and an inverted index from key terms and codes to themes."""

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self._age: dict[str, int] = {}  # first-seen order: ties go to the older theme
        self._keys: dict[str, frozenset[IndexKey]] = {}
        # Insertion-ordered (dicts, not sets) so that ties resolve the same way in every run.
        self._postings: dict[IndexKey, dict[str, None]] = {}
        self._scratch = np.zeros(2 * HASH_SPACE, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.profiles)

    def put(self, theme_id: str, profile: Profile) -> None:
        """Add or replace a theme's profile (an empty profile removes it)."""
        if profile.count <= 0:
            self.discard(theme_id)
            return
        self.profiles[theme_id] = profile
        self._age.setdefault(theme_id, len(self._age))
        old, new = self._keys.get(theme_id, frozenset()), profile.index_keys()
        if new is old:
            return  # the usual case for a big theme gaining a member: same keys
        self._keys[theme_id] = new
        for key in new - old:
            self._postings.setdefault(key, {})[theme_id] = None
        self._unpost(theme_id, old - new)

    def discard(self, theme_id: str) -> None:
        """Forget a theme (merged away, emptied, or about to be replaced)."""
        self.profiles.pop(theme_id, None)
        self._unpost(theme_id, self._keys.pop(theme_id, frozenset()))

    def _unpost(self, theme_id: str, keys: Iterable[IndexKey]) -> None:
        for key in keys:
            posting = self._postings.get(key)
            if posting is not None:
                posting.pop(theme_id, None)
                if not posting:
                    del self._postings[key]

    def candidates(self, features: RecordFeatures) -> list[str]:
        """Themes sharing a key term or code with the record, most shared keys first."""
        return self._candidates(features, features.code_keys)

    def _candidates(self, features: RecordFeatures, code_keys: frozenset[str]) -> list[str]:
        # Codes in sorted order: a frozenset's order follows the process's hash seed, and
        # among themes sharing as many keys the first found make the MAX_CANDIDATES cut.
        keys: Iterable[IndexKey] = itertools.chain(
            itertools.islice(features.vector, QUERY_FEATURES), sorted(code_keys)
        )
        postings = [self._postings.get(key, _NO_POSTING) for key in keys]
        hits = Counter(
            itertools.chain.from_iterable(p for p in postings if len(p) <= POSTING_LIMIT)
        )
        # Most shared keys first; equal counts keep posting order (a stable sort, as
        # heapq.nlargest is: deterministic).
        return sorted(hits, key=hits.__getitem__, reverse=True)[:MAX_CANDIDATES]

    def best(self, features: RecordFeatures, *, exclude: Iterable[str] = ()) -> Match | None:
        """The best-scoring candidate theme, or None when there is no candidate."""
        query = _Query.of(features)
        fits = self._fits(query, skip=set(exclude))
        if not fits:
            return None
        winner = max((fit, -self._age[t], t) for t, fit in fits)[2]
        return _score(query, winner, self.profiles[winner])

    def may_fit(self, features: RecordFeatures, bar: float, *, skip: Container[str]) -> bool:
        """False when no candidate theme outside `skip` fits the record at `bar`, judged as
        `best` ranks candidates; True when one may (a hair below `bar` counts, as `best`
        scores its winner again by another summation order)."""
        fits = self._fits(_Query.of(features), skip=skip)
        return any(fit >= bar - _ROUNDING for _, fit in fits)

    def _fits(self, query: _Query, *, skip: Container[str]) -> list[tuple[str, float]]:
        """Each candidate theme outside `skip` and the record's fit to it, as `best` ranks
        them (the cosines of all candidates in one pass)."""
        features = query.features
        ids = [t for t in self._candidates(features, query.code_keys) if t not in skip]
        if not ids:
            return []
        profiles = [self.profiles[t] for t in ids]
        cosines = self._cosines(features, profiles)
        return [(t, _fit(query, p, c)) for t, p, c in zip(ids, profiles, cosines, strict=True)]

    def _cosines(self, features: RecordFeatures, profiles: list[Profile]) -> list[float]:
        # One numpy pass for all candidates: the record is spread on a dense scratch row,
        # each centroid gathers its features from it, and the products are summed per theme.
        keys, weights = features.arrays
        self._scratch[keys] = weights
        arrays = [p.arrays() for p in profiles]
        sizes = np.array([len(a[0]) for a in arrays])
        # np.take: fancy indexing's general path cost as much again on this gather.
        products = np.concatenate([w for _, w in arrays]) * np.take(
            self._scratch, np.concatenate([i for i, _ in arrays])
        )
        self._scratch[keys] = 0.0
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        sums = np.add.reduceat(products, starts) if len(products) else np.zeros(len(profiles))
        sums[sizes == 0] = 0.0
        norms = np.array([p.norm or 1.0 for p in profiles])
        cosines: list[float] = (sums / norms).tolist()
        return cosines


def joins(match: Match | None, threshold: float | None = None) -> bool:
    """True when `match` is good enough to join its theme rather than start a new one."""
    limit = JOIN_THRESHOLD if threshold is None else threshold
    return match is not None and match.score >= limit


def cluster(records: Iterable[RecordFeatures], *, threshold: float | None = None) -> list[int]:
    """Cluster records one at a time, in the order given: the algorithm `attach` runs."""
    index = ThemeIndex()
    assigned: list[int] = []
    for features in records:
        match = index.best(features)
        key = match.theme_id if joins(match, threshold) and match else str(len(index.profiles))
        profile = index.profiles.get(key) or Profile()
        profile.add(features)
        index.put(key, profile)
        assigned.append(int(key))
    return assigned


def pairwise(truth: list[str | None], predicted: list[int]) -> tuple[float, float]:
    """Pairwise precision and recall of "same theme" (records with no true theme pair with none)."""
    return PairCounts.of(truth, predicted).scores()


@dataclass(frozen=True)
class PairCounts:
    """Pairs of records put together (`predicted`), truly together (`true`), and both."""

    agreed: int
    predicted: int
    true: int

    @classmethod
    def of(cls, truth: list[str | None], predicted: list[int]) -> PairCounts:
        both = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t is not None)
        return cls(
            agreed=_pairs(both.values()),
            predicted=_pairs(Counter(predicted).values()),
            true=_pairs(Counter(t for t in truth if t is not None).values()),
        )

    def __add__(self, other: PairCounts) -> PairCounts:
        return PairCounts(
            self.agreed + other.agreed, self.predicted + other.predicted, self.true + other.true
        )

    def __sub__(self, other: PairCounts) -> PairCounts:
        return PairCounts(
            self.agreed - other.agreed, self.predicted - other.predicted, self.true - other.true
        )

    def scores(self) -> tuple[float, float]:
        """(precision, recall); 1.0 where there is no pair to judge."""
        precision = self.agreed / self.predicted if self.predicted else 1.0
        recall = self.agreed / self.true if self.true else 1.0
        return precision, recall


def _pairs(sizes: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes)
