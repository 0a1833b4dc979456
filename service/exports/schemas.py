"""Export shapes: the column lists (CSV header order) and JSON Schemas, from the API models.

A record's fields are defined once, by `FeedbackOut` (the API's record); the export's
columns are that model's fields in declaration order, so the API and every export always
agree. A theme's are `ThemeOut`'s, with the nested `fix` flattened for CSV.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from service.feedback.schemas import FeedbackOut
from service.themes.schemas import ThemeOut


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"
    JSON = "json"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8; header=present",
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.JSON: "application/json",
}


class Kind(StrEnum):
    """How a field is written: the same rules for every resource and both code paths."""

    TEXT = "text"  # CSV: always double-quoted ("" inside); null is "" (as empty text)
    NUMBER = "number"  # CSV: unquoted; null (here and below) is an empty unquoted field
    BOOLEAN = "boolean"  # CSV: true / false
    DATETIME = "datetime"  # ISO 8601 UTC with Z, as the API writes it
    LIST = "list"  # CSV: items joined with ";"
    INT_LIST = "int_list"
    OBJECT = "object"  # CSV: the JSON text


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool


def _kind(annotation: Any) -> tuple[Kind, bool]:
    """The export kind of a pydantic field annotation, and whether it may be null."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _kind(inner[0])[0], True
    origin = typing.get_origin(annotation) or annotation
    if origin is list:
        return (Kind.INT_LIST if args and args[0] is int else Kind.LIST), False
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, BaseModel)):
        return Kind.OBJECT, False
    simple = {str: Kind.TEXT, int: Kind.NUMBER, float: Kind.NUMBER, bool: Kind.BOOLEAN}
    if origin is datetime:
        return Kind.DATETIME, False
    if origin in simple:
        return simple[origin], False
    raise TypeError(f"no export rule for fields of type {annotation!r}")


def columns_of(model: type[BaseModel]) -> tuple[Column, ...]:
    """One column per field of `model`, in declaration order."""
    return tuple(
        Column(name, *_kind(field.annotation)) for name, field in model.model_fields.items()
    )


def _flatten(model: type[BaseModel]) -> tuple[Column, ...]:
    # Nested models become `<field>_<subfield>` columns: CSV has no nesting.
    out: list[Column] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += [Column(f"{name}_{c.name}", c.kind, c.nullable) for c in columns_of(annotation)]
        else:
            out.append(Column(name, *_kind(annotation)))
    return tuple(out)


FEEDBACK_COLUMNS: tuple[Column, ...] = columns_of(FeedbackOut)
THEME_COLUMNS: tuple[Column, ...] = _flatten(ThemeOut)
# The CSV headers, in order (documented in the README, pinned by a test).
FEEDBACK_CSV_HEADER: tuple[str, ...] = tuple(c.name for c in FEEDBACK_COLUMNS)
THEME_CSV_HEADER: tuple[str, ...] = tuple(c.name for c in THEME_COLUMNS)


def json_schema(resource: str) -> dict[str, Any]:
    """The JSON Schema of one exported record (an NDJSON line, a JSON array item)."""
    model: type[BaseModel] = FeedbackOut if resource == "feedback" else ThemeOut
    header = FEEDBACK_CSV_HEADER if resource == "feedback" else THEME_CSV_HEADER
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://relay.invalid/schemas/exports/{resource}.json",
        **schema,
        "x-csv-columns": list(header),
    }
