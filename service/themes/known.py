"""Known themes: recognise a record as one of the recurring problems CS has already named.

The labelled corpus (`labels.theme`) names the problems CS knows. A multinomial logistic
regression trained on those examples maps a record to (theme key, probability); a record
whose best probability is below the confidence threshold is not recognised and falls back
to similarity clustering (`similarity.ThemeIndex`), so new themes still form on their own.
Tickets that belong to no recurring theme are examples of one more class, "no theme"
(`NO_THEME`): a record most like them is not recognised whatever its probability, and the
themes' probabilities near generic questions drop. It is no cure: out of fold about a third
of the theme-less tickets are still recognised, because they read like a theme's tickets
(a how-to about payout rails next to payout-delay); it mostly trims wrong-theme guesses.
A record it does not recognise goes to similarity clustering, which may still join a known
theme's live theme, but not one of a problem the model ranks below the record's two most
likely classes (`rules_out`): there the text's words overlap a theme the model, reading
the same words with what it learned of every theme, already judged unlikely (out of fold,
pairwise precision +0.006 to +0.040 on seeds 0-3, recall -0.013 to +0.005).
Classes are weighted equally ("balanced"): how many examples CS labelled per theme is an
accident of the corpus, not how often the problem recurs, so it should not be a prior.

Features: the record's words (1-2-grams) and characters (3-5-grams inside words), hashed
by the same analyzers as `similarity` (the subject counted twice, sign-offs and the
merchant's name dropped), tf-idf weighted over the training examples, plus its structured
fields (product area, payment method, category, error codes and their catalogue families,
HTTP statuses) at a lower weight. Two regressions read them: one with every field, one
without the label fields (product area, payment method, category), and their
probabilities are blended (`LABELLED_SHARE`), so that a label the classifier got wrong
does not by itself carry a record into another area's problem.

The model is trained from the shipped corpus plus the records people placed in a known
problem's theme by hand (`learn`; a move pins a record there, and each pinned record is one
more example of that problem), in a few seconds, when the classifier is loaded
(`feedback.learning.load_classifier`: at start of the API, the worker and the commands
that structure records) and again by `relay model train` and `relay themes rebuild`;
never by an attach holding the writer. scikit-learn is imported only then: a process
started without the model does not pay for it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.themes import similarity
from service.themes.similarity import RecordFeatures

# Below this probability a record is not recognised as a known theme. Chosen like
# JOIN_THRESHOLD: the threshold that balances pairwise precision and recall of the whole
# attach logic (known first, similarity fallback) on out-of-fold predictions for the
# corpus; `relay themes evaluate` re-picks it inside each training fold (nested), so the
# figure it reports never used the held-out tickets to choose it. The two readings' blend
# (0.8.8, `LABELLED_SHARE`) spreads probability wider than one regression did (0.225
# before), and its records are placed with the classifier's labels, as attach reads them:
# over seeds 0-3 (NO_THEME_BAR 0.7, as then) the lower of precision and recall averages
# 0.692 at 0.050, 0.690 at 0.100, 0.652 at 0.150, 0.607 at 0.225. 0.8.8 took 0.100, not
# 0.050: as good for known themes, and the higher the bar, the fewer records of a problem
# nobody labelled yet are taken for a known one (new themes' precision, mean over seeds 0-3:
# 0.300 at 0.150, 0.343 at 0.200, 0.373 at 0.225; their recall stays 0.50-0.51). Known
# themes come first: most records are of problems CS already knows. With the one-off bar at
# 0.4 and the labelled reading's share at 0.2 (0.8.10), 0.050 is no longer a tie: the same
# whole-corpus measure gives 0.733 / 0.706 at 0.050 against 0.732 / 0.688 at 0.100 (mean
# over seeds 0-3; 0.075 gives what 0.050 does), for new themes 0.272 / 0.488 against 0.280
# / 0.499. 0.050 is also what the procedure picks on all tickets at every seed, as the
# nested evaluation assumes of the shipped value.
CONFIDENCE = 0.05
CANDIDATE_THRESHOLDS = tuple(round(0.05 + 0.025 * i, 3) for i in range(15))  # 0.050 .. 0.400
FIELD_WEIGHT = 0.5  # structured fields next to the text (text block and field block unit)
# The prefixes of the fields a record's labels give (`document`): what the classifier read
# in its text, or a person set.
AREA, CATEGORY, METHOD = "area:", "category:", "method:"
LABEL_FIELDS = (AREA, CATEGORY, METHOD)
# The model reads a record twice, with its label fields and without them (text, codes and
# statuses alone), and blends the two readings' probabilities with this weight on the
# first. In the corpus a theme's tickets nearly always share one product area, so a reading
# with the labels leans on them; but a record arrives with the classifier's labels, wrong
# for about one product area in twelve (at confidences from 0.47 to 0.98, so no bar sorts
# them out), and then that reading takes it for another area's problem. The reading without
# them is not misled, but loses what right labels add (it recognises fewer records).
# Measured by `relay themes evaluate` with the classifier's labels (nested, mean over seeds
# 0-3; with NO_THEME_BAR at 0.7, as then): 0.3 gives 0.692 / 0.697, the labelled reading
# alone (1.0) 0.666 / 0.694, the unlabelled alone (0.0) 0.737 / 0.659; 0.5 gave 0.679 /
# 0.712 and 0.655 / 0.705 at seeds 0 and 1, where 0.3 gives 0.697 / 0.680 and 0.684 / 0.723.
# Once the one-off bar went to 0.4 (0.8.9), 0.2 (0.8.10) beats 0.3 on precision in each of
# the four deals with recall level: known themes 0.733 / 0.700 against 0.714 / 0.702, new
# themes 0.280 / 0.499 against 0.267 / 0.502 (same measure; CONFIDENCE 0.100 as then). 0.1
# goes on trading recall for precision: 0.747 / 0.671, new themes 0.293 / 0.465 against
# 0.2's 0.272 / 0.488 (both at CONFIDENCE 0.050).
LABELLED_SHARE = 0.2
C = 100.0  # weak regularisation: 4-8 examples per theme, thousands of features
CLASS_WEIGHT = "balanced"  # every theme (and "no theme") weighs the same in training
FOLDS = 5
# The class of the labelled tickets that belong to no recurring theme (not a theme key:
# keys are slugs). A record whose most likely class is this one is not recognised.
NO_THEME = "(no theme)"
# A record the model gives "no theme" at least this probability reads as a one-off: it joins
# a theme by similarity only at `similarity.ONE_OFF_JOIN_THRESHOLD`, where the same question
# asked again does (`KnownMatch.reads_as_one_off`). The corpus's theme-less tickets share a
# product's words without sharing a problem (five BillEase questions, five about payment
# links), and similarity grouped them. The two readings' blend (0.8.8) spreads probability
# wider, so those tickets read as "no theme" at 0.36-0.70 and 0.7 (the bar of the single
# reading) let them group again. Measured by `relay themes evaluate` with the classifier's
# labels (nested, mean over seeds 0-3; known themes, then new themes): 0.7 gives 0.692 /
# 0.697 and 0.266 / 0.504, 0.5 0.706 / 0.700 and 0.268 / 0.503, 0.4 0.714 / 0.702 and
# 0.267 / 0.502, 0.3 0.722 / 0.707 and 0.265 / 0.486, 0.2 0.729 / 0.687 and 0.250 / 0.408.
# 0.4 is the lowest bar that costs new themes nothing: below it, a problem nobody labelled
# yet reads as "no theme" too, and its records stop grouping. Chosen on the corpus itself,
# like the similarity bars (only CONFIDENCE is re-picked inside the folds).
NO_THEME_BAR = 0.4


@dataclass(frozen=True)
class KnownMatch:
    """A record recognised as a known theme."""

    key: str
    confidence: float
    runner_up: str | None = None  # the second most likely class (a theme or NO_THEME)

    @property
    def likely(self) -> frozenset[str]:
        """The record's two most likely classes: a known theme outside them is one the
        model rules out for the record (`rules_out`)."""
        return frozenset(k for k in (self.key, self.runner_up) if k is not None)

    def rules_out(self, key: str) -> bool:
        """Whether the record may not join known theme `key` by similarity: the model ranks
        that problem below the record's two most likely classes."""
        return key not in self.likely

    @property
    def is_theme(self) -> bool:
        """False when the most likely class is "no theme" (never a recognition)."""
        return self.key != NO_THEME

    @property
    def reads_as_one_off(self) -> bool:
        """Whether the model reads the record as a one-off: "no theme" at NO_THEME_BAR or
        above. Such a record joins a theme by similarity only at the bar of a question asked
        again (`similarity.ONE_OFF_JOIN_THRESHOLD`)."""
        return not self.is_theme and self.confidence >= NO_THEME_BAR

    def reasons(self) -> dict[str, Any]:
        """The explanation stored on the membership."""
        return {"known_theme": self.key, "known_confidence": round(self.confidence, 4)}


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: compared by identity
class Document:
    """What the model reads of one record: its words and its structured fields."""

    text: npt.NDArray[np.int64]  # hashed word and char n-grams
    fields: tuple[str, ...]


def document(
    *,
    subject: str,
    text: str,
    merchant_name: str | None,
    features: RecordFeatures,
    read: similarity.Tokens | None = None,
) -> Document:
    """The model's view of a record (pure; the analyzers are similarity's). `read` is the
    record's tokens when its batch was already analysed (`similarity.analyse`)."""
    if read is None:
        read = similarity.tokens(subject, text, merchant_name)  # analysed once, with similarity
    fields = [f"{AREA}{features.product_area}", f"{CATEGORY}{features.category}"]
    if features.payment_method:
        fields.append(f"{METHOD}{features.payment_method}")
    fields += [f"code:{key}" for key in sorted(features.code_keys)]
    fields += [f"status:{status}" for status in sorted(features.http_statuses)]
    return Document(
        text=np.concatenate([read.word_indices, read.char_indices]), fields=tuple(fields)
    )


def _identity(tokens: Sequence[Any]) -> Sequence[Any]:
    return tokens


@dataclass(frozen=True)
class _Reading:
    """One of the model's two readings of a record: a logistic regression over the text
    block and a field block (all the fields, or all but the label fields)."""

    model: Any  # LogisticRegression
    fields: Any | None  # TfidfVectorizer over the fields it reads; None: no example had one
    share: float  # its weight in the blended probabilities

    @classmethod
    def fit(
        cls, text: Any, documents: Sequence[Document], classes: list[str], *, labelled: bool
    ) -> _Reading:
        """Fit on the documents' text block `text` and their fields (the label fields only
        when `labelled`)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        kept = [d.fields if labelled else _unlabelled(d.fields) for d in documents]
        fields = TfidfVectorizer(analyzer=_identity) if any(kept) else None
        if fields is not None:
            fields.fit(kept)
        share = LABELLED_SHARE if labelled else 1.0 - LABELLED_SHARE
        model = LogisticRegression(C=C, max_iter=1000, class_weight=CLASS_WEIGHT)
        reading = cls(model, fields, share)
        model.fit(reading.matrix(text, documents), classes)
        return reading

    def matrix(self, text: Any, documents: Sequence[Document]) -> Any:
        """The documents' rows: the text block and, at FIELD_WEIGHT, the field block (a
        field outside this reading's vocabulary, a label field for the unlabelled one, is
        ignored), each unit length, then the row."""
        from scipy.sparse import hstack
        from sklearn.preprocessing import normalize

        if self.fields is None:
            return normalize(text.tocsr())
        fields = self.fields.transform([d.fields for d in documents])
        return normalize(hstack([text, FIELD_WEIGHT * fields]).tocsr())


class KnownThemes:
    """A trained recogniser of known themes (immutable once trained; thread-safe to use)."""

    def __init__(self, text_vectorizer: Any, readings: Sequence[_Reading], threshold: float):
        self._text = text_vectorizer
        self._readings = tuple(readings)
        self.threshold = threshold
        self._fast: _FastPath | None = None
        self.keys: tuple[str, ...] = tuple(str(k) for k in self._readings[0].model.classes_)

    @classmethod
    def train(
        cls,
        documents: Sequence[Document],
        keys: Sequence[str | None],
        *,
        threshold: float = CONFIDENCE,
    ) -> KnownThemes:
        """Fit on labelled examples (each document with its theme key; None: no theme)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        classes = [NO_THEME if key is None else key for key in keys]
        if len(set(classes) - {NO_THEME}) < 2:
            raise ValueError("known themes need examples of at least two themes")
        text = TfidfVectorizer(analyzer=_identity, sublinear_tf=True)
        matrix = text.fit_transform(_texts(documents))
        readings = [
            _Reading.fit(matrix, documents, classes, labelled=labelled)
            for labelled in (True, False)
        ]
        return cls(text, readings, threshold)

    def best(self, documents: Sequence[Document]) -> list[KnownMatch]:
        """The most likely class of each document (a theme or `NO_THEME`), whatever its
        probability, with the runner-up."""
        if not documents:
            return []
        # The model's tf-idf, normalisation and softmax in numpy, without scikit-learn's
        # per-call validation (~10x cheaper for the one record attach asks about).
        if self._fast is None:
            self._fast = _FastPath(self)
        return self._fast.best(documents)

    def probabilities(self, documents: Sequence[Document]) -> Any:
        """Every class's probability per document, as scikit-learn computes them (what the
        fast path is checked against): the readings' probabilities, blended."""
        return self.readings_probabilities(documents).sum(axis=0)

    def readings_probabilities(self, documents: Sequence[Document]) -> Any:
        """Each reading's probabilities times its share (labelled first), as scikit-learn
        computes them: an array of readings x documents x classes."""
        text = self._text.transform(_texts(documents))
        return np.stack(
            [r.share * r.model.predict_proba(r.matrix(text, documents)) for r in self._readings]
        )

    def predict(self, documents: Sequence[Document]) -> list[KnownMatch | None]:
        """The known theme of each document, or None where none fits confidently."""
        return confident(self.best(documents), self.threshold)

    def rules_out(self, best: KnownMatch, key: str) -> bool:
        """`best.rules_out(key)` for a problem this model knows (a key from an older model
        never is ruled out)."""
        return key in self.keys and best.rules_out(key)


_Block = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]  # columns, weights


class _FastReading:
    """A reading's field vocabulary and weights laid out for scoring with numpy."""

    def __init__(self, reading: _Reading, offset: int) -> None:
        fields, model = reading.fields, reading.model
        vocabulary = {} if fields is None else fields.vocabulary_
        self.field_columns = {str(k): int(v) for k, v in vocabulary.items()}
        self.field_idf = np.asarray([] if fields is None else fields.idf_, dtype=np.float64)
        self.offset = offset
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(coef) == 1:  # two classes: one row, the second class's log-odds to the first
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([np.zeros(1), intercept])
        self.coef, self.intercept = np.ascontiguousarray(coef.T), intercept
        self.share = reading.share

    def probabilities(self, documents: Sequence[Document], texts: list[_Block]) -> Any:
        """The documents' probabilities times this reading's share: every row scored in
        one product with the coefficients."""
        from scipy.sparse import csr_matrix

        rows = [self._row(d, text) for d, text in zip(documents, texts, strict=True)]
        indptr = np.cumsum([0] + [len(columns) for columns, _ in rows])
        matrix = csr_matrix(
            (
                np.concatenate([weights for _, weights in rows]),
                np.concatenate([columns for columns, _ in rows]),
                indptr,
            ),
            shape=(len(documents), len(self.coef)),
        )
        logits = matrix @ self.coef + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities *= self.share / probabilities.sum(axis=1, keepdims=True)
        return probabilities

    def _row(self, document: Document, text: _Block) -> _Block:
        """The document's columns and unit-length weights: its text block, then this
        reading's field block at FIELD_WEIGHT."""
        fields = Counter(c for c in map(self.field_columns.get, document.fields) if c is not None)
        f_cols = np.fromiter(fields.keys(), dtype=np.int64, count=len(fields))
        f_tf = np.fromiter(fields.values(), dtype=np.float64, count=len(fields))
        f_w = f_tf * self.field_idf[f_cols] if len(f_cols) else f_tf
        t_cols, t_w = text
        weights = np.concatenate([t_w, FIELD_WEIGHT * _unit(f_w)])
        return np.concatenate([t_cols, self.offset + f_cols]), _unit(weights)


class _FastPath:
    """A trained model's weights laid out for scoring documents with numpy: the text block
    computed once, then each reading's rows and probabilities, blended."""

    def __init__(self, known: KnownThemes) -> None:
        text = known._text
        # Text tokens are hashed features in [0, 2 * HASH_SPACE): a dense column lookup (8 MB).
        self.text_columns = np.full(2 * similarity.HASH_SPACE, -1, dtype=np.int32)
        vocabulary = text.vocabulary_
        self.text_columns[np.fromiter(vocabulary.keys(), dtype=np.int64)] = np.fromiter(
            vocabulary.values(), dtype=np.int32
        )
        self.text_idf = np.asarray(text.idf_, dtype=np.float64)
        self.readings = [_FastReading(r, len(self.text_idf)) for r in known._readings]
        self.keys = known.keys

    def best(self, documents: Sequence[Document]) -> list[KnownMatch]:
        """The most likely class of each document, with the runner-up."""
        texts = [self._text(d) for d in documents]
        probabilities = sum(r.probabilities(documents, texts) for r in self.readings)
        # The two best columns per row (a model has two classes at least, `train`).
        two = np.argpartition(-probabilities, 1, axis=1)[:, :2].tolist()
        matches = []
        for row, pair in zip(probabilities, two, strict=True):
            first, second = sorted(pair, key=lambda j: (-row[j], j))  # ties: as argmax
            matches.append(KnownMatch(self.keys[first], float(row[first]), self.keys[second]))
        return matches

    def _text(self, document: Document) -> _Block:
        """The document's text columns and their unit-length tf-idf weights."""
        found = self.text_columns[np.asarray(document.text, dtype=np.int64)]
        unique, counts = np.unique(found[found >= 0], return_counts=True)
        columns, tf = unique.astype(np.int64), counts.astype(np.float64)
        weights = (1.0 + np.log(tf)) * self.text_idf[columns] if len(columns) else tf
        return columns, _unit(weights)


def _unlabelled(fields: Sequence[str]) -> tuple[str, ...]:
    """The fields but the label fields (`LABEL_FIELDS`)."""
    return tuple(f for f in fields if not f.startswith(LABEL_FIELDS))


def _texts(documents: Sequence[Document]) -> list[list[int]]:
    # Python ints for scikit-learn's vocabulary (numpy scalars would key it as np.int64).
    return [np.asarray(d.text).tolist() for d in documents]


def _unit(weights: Any) -> Any:
    norm = float(np.sqrt(np.dot(weights, weights)))
    return weights / norm if norm else weights


# ---------------------------------------------------------------- the shipped model

_DEFAULT: KnownThemes | None = None  # what attach uses
_DEFAULT_LOCK = threading.Lock()
_CORPUS_MODEL: KnownThemes | None = None  # trained on the shipped corpus alone, kept
_CORPUS_LOCK = threading.Lock()


def corpus_documents(
    tickets: Sequence[dict[str, Any]], features: Sequence[RecordFeatures] | None = None
) -> list[Document]:
    """Documents of corpus tickets (from text and structured labels; never `theme`)."""
    if features is None:
        from service.themes.service import corpus_features  # evaluation helpers live there

        features = corpus_features(tickets)
    return [
        document(
            subject=t["subject"],
            text=t["body"],
            merchant_name=t["merchant"]["name"],
            features=f,
        )
        for t, f in zip(tickets, features, strict=True)
    ]


def default() -> KnownThemes:
    """The process's model: the one `learn` last trained, else the shipped corpus's."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = _corpus_model()
        return _DEFAULT


def learn(placed: Sequence[tuple[Document, str]]) -> KnownThemes:
    """Train on the shipped corpus plus the records people placed in known problems'
    themes (each document with its theme's key), and use that model from now on. Without
    placements it is the corpus's model, trained once per process."""
    global _DEFAULT
    model = _corpus_model() if not placed else _trained(placed)
    with _DEFAULT_LOCK:
        _DEFAULT = model
    return model


def _corpus_model() -> KnownThemes:
    global _CORPUS_MODEL
    with _CORPUS_LOCK:
        if _CORPUS_MODEL is None:
            _CORPUS_MODEL = _trained(())
        return _CORPUS_MODEL


def _trained(placed: Sequence[tuple[Document, str]]) -> KnownThemes:
    # The corpus's theme-less tickets are the examples of "no theme"; a placement is never
    # one (a person puts a record in a theme, which is a problem).
    tickets = similarity.load_corpus()
    documents = [*corpus_documents(tickets), *(document for document, _ in placed)]
    keys = [*(t["labels"]["theme"] for t in tickets), *(key for _, key in placed)]
    return KnownThemes.train(documents, keys)


def use(model: KnownThemes | None) -> None:
    """Replace the process's model (tests; None: the corpus's model on next use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = model


# ---------------------------------------------------------------- honest evaluation


def stratified_folds(strata: Sequence[str | None], folds: int = FOLDS, seed: int = 0) -> list[int]:
    """A fold number per item, each stratum (theme; None for no theme) dealt round-robin."""
    order = list(range(len(strata)))
    random.Random(seed).shuffle(order)
    fold_of = [0] * len(strata)
    dealt: Counter[str] = Counter()
    offset = random.Random(seed + 1).randrange(folds)
    for i in sorted(order, key=lambda i: str(strata[i])):  # stable: shuffled within a stratum
        stratum = str(strata[i])
        fold_of[i] = (dealt[stratum] + offset) % folds
        dealt[stratum] += 1
        offset += 0 if dealt[stratum] > 1 else 1  # spread strata's first tickets over folds
    return fold_of


def out_of_fold(
    documents: Sequence[Document],
    keys: Sequence[str | None],
    *,
    folds: int = FOLDS,
    seed: int = 0,
    read: Sequence[Document] | None = None,
) -> tuple[list[KnownMatch], list[int]]:
    """Each item's best known theme from a model that never saw the item.

    Items are split into `folds` folds stratified by key (None: no theme); each fold is
    predicted by a model trained on the items of the other folds (theme-less ones as "no
    theme"). Returns the best match per item (apply `confident` to decide) and each item's
    fold. `read` is the items as the model is asked about them when that differs from
    how it is trained on them (labels from the classifier, not the hand labels).
    """
    fold_of = stratified_folds(keys, folds, seed)
    asked = documents if read is None else read
    best: list[KnownMatch | None] = [None] * len(documents)
    for fold in range(folds):
        train = [i for i in range(len(documents)) if fold_of[i] != fold]
        test_rows = [i for i in range(len(documents)) if fold_of[i] == fold]
        model = KnownThemes.train([documents[i] for i in train], [keys[i] for i in train])
        for i, match in zip(test_rows, model.best([asked[i] for i in test_rows]), strict=True):
            best[i] = match
    return [m for m in best if m is not None], fold_of


def confident(matches: Sequence[KnownMatch], threshold: float) -> list[KnownMatch | None]:
    """The theme matches at or above the threshold (None for the others and "no theme")."""
    return [m if m.is_theme and m.confidence >= threshold else None for m in matches]
