"""The README's "Exports" section documents the real columns and JSON Schema."""

from __future__ import annotations

import json
import re

from service.config import REPO_ROOT
from service.exports.schemas import FEEDBACK_CSV_HEADER, json_schema


def _section() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Exports\n", 1)[1].split("\n## ", 1)[0]


def test_readme_lists_the_csv_columns_in_order() -> None:
    listed = re.findall(r"^\| \d+ \| `(\w+)` \|", _section(), flags=re.M)
    assert tuple(listed) == FEEDBACK_CSV_HEADER


def test_readme_schema_is_the_served_schema() -> None:
    block = re.search(r"```json\n(.*?)\n```", _section(), flags=re.S)
    assert block is not None
    assert json.loads(block[1]) == json_schema("feedback")
