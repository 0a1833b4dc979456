"""The classifier in the service: first-start training, corrections, retrain, reclassify."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings, get_settings
from service.db import Database
from service.feedback import learning
from service.feedback import service as feedback_service
from service.feedback.schemas import FeedbackIn
from service.structuring import model_store, pipeline
from service.structuring.classifier import Classifier

ODD_TEXT = {
    "subject": "Zorblax widget wobbles",
    "body": "The zorblax widget wobbles whenever the flux capacitor hums at noon.",
}


@pytest.fixture
def restore_classifier(classifier: Classifier) -> Iterator[None]:
    yield
    pipeline.use_classifier(classifier)


def test_first_start_trains_saves_and_labels(
    db: Database, settings: Settings, restore_classifier: None
) -> None:
    assert model_store.load_current(settings.data_dir) is None
    loaded = learning.load_classifier(db, settings)
    assert model_store.current_version(settings.data_dir) == loaded.model_version
    assert model_store.model_path(settings.data_dir, loaded.model_version).exists()
    with db.session() as session:
        record = feedback_service.submit(
            session,
            data=FeedbackIn(
                subject="GCash payment failed",
                body="GCash returns AMOUNT_EXCEED_LIMIT in live mode",
            ),
        )
        assert record.labelled_by == loaded.model_version
        assert record.payment_method == "gcash" and record.product_area == "ewallets"
        assert set(record.confidence) >= {"product_area", "category"}


def test_correction_survives_reclassify_and_feeds_the_next_training(
    client: TestClient,
    db: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    classifier: Classifier,
    restore_classifier: None,
) -> None:
    created = client.post("/api/v1/feedback", json=ODD_TEXT, headers=admin_headers).json()
    before = pipeline.structure(
        pipeline.StructureInput(ODD_TEXT["subject"], ODD_TEXT["body"])
    ).labels
    target = "subscriptions" if before.product_area != "subscriptions" else "payouts"
    patched = client.patch(
        f"/api/v1/feedback/{created['id']}", headers=admin_headers, json={"product_area": target}
    )
    assert patched.json()["product_area"] == target

    with db.session() as session:
        assert learning.reclassify(session).records == 1
    assert (
        client.get(f"/api/v1/feedback/{created['id']}", headers=admin_headers).json()[
            "product_area"
        ]
        == target
    )

    with db.session() as session:
        examples = learning.corrections(session)
    assert [e.labels for e in examples] == [{"product_area": target}]
    retrained = learning.retrain(db, settings)
    assert (retrained.examples, retrained.placements) == (220 + 1, 0)
    after = pipeline.structure(
        pipeline.StructureInput(ODD_TEXT["subject"], ODD_TEXT["body"])
    ).labels
    assert after.product_area == target  # the next training learned the correction
    assert retrained.classifier.model_version != classifier.model_version  # new data


def test_cli_trains_evaluates_and_reclassifies(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, restore_classifier: None
) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAY_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        trained = runner.invoke(cli, ["model", "train"])
        assert trained.exit_code == 0 and "trained" in trained.output
        evaluated = runner.invoke(cli, ["model", "evaluate", "--folds", "2"])
        assert evaluated.exit_code == 0
        assert "product_area" in evaluated.output and "macro" in evaluated.output.lower()
        relabelled = runner.invoke(cli, ["feedback", "reclassify"])
        assert relabelled.exit_code == 0 and "reclassified 0 records" in relabelled.output
    finally:
        get_settings.cache_clear()


def test_loaded_models_are_kept_out_of_garbage_collection(
    db: Database, settings: Settings, restore_classifier: None
) -> None:
    # Full collections would otherwise walk the models' millions of objects on every pass.
    learning.load_classifier(db, settings)
    assert gc.get_freeze_count() > 100_000
