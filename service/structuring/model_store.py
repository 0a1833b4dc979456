"""The trained classifier as a versioned artifact on disk.

Layout under the data directory:

    models/classifier-<version>.joblib   one file per trained version, never rewritten
    models/current                       the version in use (one line)

The version is a hash of the training data (see `training.training_version`), so
retraining on the same data writes nothing new. Files are written to a temporary name
and renamed, so a reader never sees half a model.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import joblib

from service.structuring.classifier import SCHEMA_VERSION, Classifier
from service.structuring.training import TrainingExample, train

logger = logging.getLogger(__name__)

MODELS_DIR = "models"
POINTER = "current"
# Versions name files, so only this shape is accepted from the pointer.
_VERSION = re.compile(r"^[a-z0-9]+-[0-9a-f]{12}$")


def model_path(data_dir: Path, version: str) -> Path:
    """Where the artifact of one version lives."""
    if not _VERSION.match(version):
        raise ValueError(f"not a model version: {version!r}")
    return data_dir / MODELS_DIR / f"classifier-{version}.joblib"


def save(classifier: Classifier, data_dir: Path) -> str:
    """Store the classifier (if this version is new) and make it current; returns the version."""
    version = classifier.model_version
    path = model_path(data_dir, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _write_atomically(path, lambda handle: joblib.dump(classifier, handle))
    _write_atomically(path.parent / POINTER, lambda handle: handle.write(f"{version}\n".encode()))
    logger.info("classifier %s saved to %s", version, path)
    return version


def current_version(data_dir: Path) -> str | None:
    """The version the pointer names, if there is a valid pointer."""
    pointer = data_dir / MODELS_DIR / POINTER
    if not pointer.is_file():
        return None
    version = pointer.read_text(encoding="utf-8").strip()
    return version if _VERSION.match(version) else None


def load_current(data_dir: Path) -> Classifier | None:
    """The current classifier, or None when there is none this code can use."""
    version = current_version(data_dir)
    if version is None or not model_path(data_dir, version).is_file():
        return None
    try:
        loaded = joblib.load(model_path(data_dir, version))
    except Exception:  # a damaged or foreign artifact means "retrain", not "crash"
        logger.warning("classifier %s could not be loaded", version, exc_info=True)
        return None
    if not isinstance(loaded, Classifier) or loaded.schema_version != SCHEMA_VERSION:
        logger.warning("classifier %s was built by another schema; ignoring it", version)
        return None
    return loaded


def ensure_model(
    data_dir: Path, examples_provider: Callable[[], Sequence[TrainingExample]]
) -> Classifier:
    """The current classifier; trained from `examples_provider()` and saved when missing."""
    classifier = load_current(data_dir)
    if classifier is None:
        classifier = train(examples_provider())
        save(classifier, data_dir)
    return classifier


def _write_atomically(path: Path, write: Callable[[Any], object]) -> None:
    """Write via a temporary file in the same directory, then rename over `path`."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
