"""`POST /api/v1/classify`: what Relay would make of a text. Pure: stores nothing."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from service.deps import FeedbackReader
from service.feedback.schemas import StructuredFields
from service.structuring import pipeline
from service.structuring.redaction import redact_text

router = APIRouter(prefix="/api/v1", tags=["classify"])


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=1000)
    body: str = Field(max_length=200_000)


class ClassifyOut(StructuredFields):
    model_version: str
    redacted_subject: str
    redacted_body: str


@router.post("/classify")
def classify(data: ClassifyIn, _: FeedbackReader) -> ClassifyOut:
    """Labels, codes, ids and environment for a subject and body, exactly as the worker would."""
    subject, body = redact_text(data.subject), redact_text(data.body)
    # The same path as stored records: redacted text, with the key modes seen before redaction.
    result = pipeline.structure(
        pipeline.StructureInput(
            subject=subject.text,
            text=body.text,
            key_modes=tuple(sorted(subject.key_modes | body.key_modes)),
        )
    )
    extraction, labels = result.extraction, result.labels
    return ClassifyOut(
        product_area=labels.product_area,
        payment_method=labels.payment_method,
        category=labels.category,
        severity=labels.severity,
        error_codes=list(extraction.error_codes),
        http_statuses=list(extraction.http_statuses),
        event_types=list(extraction.event_types),
        resource_ids=list(extraction.resource_ids),
        environment=extraction.environment,
        confidence=result.confidence,
        model_version=result.model_version,
        redacted_subject=subject.text,
        redacted_body=body.text,
    )
