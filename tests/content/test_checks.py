"""The configuration checks table: valid, complete, and shared by triage and documents."""

from __future__ import annotations

from service.content import checks as content_checks
from service.content.library import library
from service.structuring.taxonomy import PRODUCT_AREAS


def test_every_product_area_has_checks_with_a_source() -> None:
    table = content_checks.checks_table(library())
    assert set(table) == set(PRODUCT_AREAS)
    assert all(
        lines and all(line.source.startswith("https://") for line in lines)
        for lines in table.values()
    )


def test_a_ticket_gets_its_areas_checks_then_the_general_ones() -> None:
    shipped = library()
    own = content_checks.area_checks(shipped, "webhooks")
    general = content_checks.area_checks(shipped, content_checks.GENERAL_AREA)
    assert content_checks.checks_to_run(shipped, "webhooks") == own + general
    assert content_checks.checks_to_run(shipped, "other") == general
