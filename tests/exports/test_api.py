"""Exports API: formats equal to the API's records, filters, ETag/304, since, audit, scope."""

from __future__ import annotations

import csv
import email.utils
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import Database, utcnow
from service.exports.models import ExportAudit
from service.exports.schemas import FEEDBACK_CSV_HEADER, THEME_CSV_HEADER
from service.exports.service import LATE_COMMIT, decode_since
from service.feedback.models import Feedback
from service.themes import service as themes
from tests.exports.conftest import BASE, add_feedback, token_headers

URL = "/api/v1/exports/feedback"

# The documented column order (README "Exports"); changing it breaks Product's scripts.
DOCUMENTED_COLUMNS = (
    "product_area,payment_method,category,error_codes,http_statuses,event_types,resource_ids,"
    "environment,severity,confidence,id,source,external_id,external_url,merchant_id,"
    "merchant_name,merchant_segment,subject,text,labelled_by,corrected,theme_id,jira_keys,"
    "status,priority,tags,created_at,updated_at,source_created_at,source_updated_at"
)


def api_records(
    client: TestClient, headers: dict[str, str], query: str = ""
) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/feedback?limit=500{query}", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def as_csv(record: dict[str, Any]) -> dict[str, Any]:
    """An API record as its CSV cells read back (objects compared as parsed JSON)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, list):
            out[key] = ";".join(str(v) for v in value)
        else:
            out[key] = value if isinstance(value, (str, dict)) else str(value)
    return out


def read_csv(body: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    for row in rows:
        for key in ("confidence", "corrected"):
            row[key] = json.loads(row[key])
    return rows


def test_column_order_is_the_documented_one() -> None:
    assert ",".join(FEEDBACK_CSV_HEADER) == DOCUMENTED_COLUMNS
    assert THEME_CSV_HEADER[:3] == ("id", "title", "renamed_by_person")
    assert "fix_suggested_text" in THEME_CSV_HEADER


def test_csv_parses_back_to_the_api_records(
    client: TestClient, admin_headers: dict[str, str], awkward: list[str]
) -> None:
    response = client.get(f"{URL}?format=csv", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content[:3] != b"\xef\xbb\xbf"
    body = response.content.decode("utf-8")
    assert body.startswith(DOCUMENTED_COLUMNS + "\r\n")
    rows = read_csv(body)
    assert rows == [as_csv(r) for r in api_records(client, admin_headers)]
    assert len(rows) == len(awkward)
    assert rows[0]["tags"] == 'vip;a,b;say "hi";ñ' and rows[0]["http_statuses"] == "401;422"


def test_csv_quotes_text_and_leaves_nulls_empty(
    client: TestClient, admin_headers: dict[str, str], awkward: list[str]
) -> None:
    body = client.get(f"{URL}?format=csv", headers=admin_headers).content.decode()
    # Text is always quoted (quotes doubled), a null text too; lists are quoted, numbers
    # and times are not; a null time is an empty, unquoted field.
    assert '"Refund stuck, ""processing"" for days"' in body
    assert '\r\n"webhooks","gcash","bug",' in body
    assert '\r\n"webhooks","","bug",' in body  # the record without a payment method
    assert re.search(r",2026-03-\d\dT\d\d:\d\d:00Z,", body)
    assert body.count(",\r\n") == len(awkward)  # the null source_updated_at ends each row


def test_bom_for_excel(
    client: TestClient, admin_headers: dict[str, str], awkward: list[str]
) -> None:
    response = client.get(f"{URL}?format=csv&bom=true", headers=admin_headers)
    assert response.content.startswith(b"\xef\xbb\xbf" + DOCUMENTED_COLUMNS.encode())
    rows = read_csv(response.content.decode("utf-8-sig"))
    assert len(rows) == len(awkward)
    refused = client.get(f"{URL}?format=ndjson&bom=true", headers=admin_headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {"field": "bom"}


def test_ndjson_and_json_equal_the_api_records(
    client: TestClient, admin_headers: dict[str, str], awkward: list[str]
) -> None:
    expected = api_records(client, admin_headers)
    ndjson = client.get(f"{URL}?format=ndjson", headers=admin_headers)
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    lines = ndjson.text.splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert ndjson.text.endswith("\n")
    whole = client.get(f"{URL}?format=json", headers=admin_headers)
    assert whole.headers["content-type"] == "application/json"
    assert whole.json() == expected
    # Keys in the documented column order.
    assert ",".join(json.loads(lines[0])) == DOCUMENTED_COLUMNS


def test_empty_exports_are_still_well_formed(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.get(f"{URL}?format=json", headers=admin_headers).json() == []
    assert client.get(f"{URL}?format=ndjson", headers=admin_headers).text == ""
    body = client.get(f"{URL}?format=csv", headers=admin_headers).text
    assert body == DOCUMENTED_COLUMNS + "\r\n"


def test_microseconds_are_written_like_the_api(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    with db.session() as session:
        add_feedback(session, created=BASE + timedelta(microseconds=120_000))
    expected = api_records(client, admin_headers)
    assert expected[0]["created_at"].endswith(".120000Z")
    assert client.get(f"{URL}?format=json", headers=admin_headers).json() == expected


@pytest.mark.parametrize(
    ("query", "api_query"),
    [
        ("source=intercom", "&source=intercom"),
        ("product_area=checkout", "&product_area=checkout"),
        ("payment_method=gcash", "&payment_method=gcash"),
        ("category=docs_gap", "&category=docs_gap"),
        ("theme_id=th_1", "&theme_id=th_1"),
        ("merchant_id=m_2", "&merchant_id=m_2"),
    ],
)
def test_every_feedback_filter(
    client: TestClient, admin_headers: dict[str, str], db: Database, query: str, api_query: str
) -> None:
    with db.session() as session:
        add_feedback(session)
        add_feedback(session, source="intercom", area="checkout", method="gcash")
        add_feedback(session, category="docs_gap", theme_id="th_1", merchant="m_2")
    expected = api_records(client, admin_headers, api_query)
    assert len(expected) == 1
    got = client.get(f"{URL}?format=json&{query}", headers=admin_headers).json()
    assert got == expected


def test_until_and_bad_filters(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    with db.session() as session:
        old = add_feedback(session, created=BASE)
        add_feedback(session, created=BASE + timedelta(days=2))
    until = (BASE + timedelta(days=1)).isoformat()
    got = client.get(URL, params={"format": "json", "until": until}, headers=admin_headers)
    assert [r["id"] for r in got.json()] == [old.id]
    bad = client.get(f"{URL}?format=json&product_area=nowhere", headers=admin_headers)
    assert bad.status_code == 422 and "product_area" in bad.json()["error"]["message"]
    bad_since = client.get(f"{URL}?since=not-a-cursor", headers=admin_headers)
    assert bad_since.status_code == 422
    assert bad_since.json()["error"]["details"] == {"field": "since"}
    assert client.get(f"{URL}?format=xml", headers=admin_headers).status_code == 422


def test_etag_answers_304_until_something_changes(
    client: TestClient, admin_headers: dict[str, str], db: Database, awkward: list[str]
) -> None:
    first = client.get(f"{URL}?format=csv", headers=admin_headers)
    etag = first.headers["etag"]
    assert first.headers["last-modified"].endswith("GMT")
    again = client.get(f"{URL}?format=csv", headers={**admin_headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    # Another format or filter is another representation.
    other = client.get(f"{URL}?format=ndjson", headers={**admin_headers, "If-None-Match": etag})
    assert other.status_code == 200
    with db.session() as session:
        add_feedback(session)
    changed = client.get(f"{URL}?format=csv", headers={**admin_headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_if_modified_since_answers_304_until_anything_changes(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    with db.session() as session:
        add_feedback(session, category="bug", created=BASE.replace(microsecond=250_000))
        leaving = add_feedback(session, category="bug", created=BASE + timedelta(seconds=5))
    first = client.get(f"{URL}?format=csv&category=bug", headers=admin_headers)
    # The newest change (BASE + 5 s) in whole seconds; long past, so not held back.
    assert first.headers["last-modified"] == "Sun, 01 Mar 2026 08:00:05 GMT"
    since = {**admin_headers, "If-Modified-Since": first.headers["last-modified"]}
    again = client.get(f"{URL}?format=csv&category=bug", headers=since)
    assert again.status_code == 304 and again.content == b""
    earlier = {**admin_headers, "If-Modified-Since": "Sun, 01 Mar 2026 08:00:04 GMT"}
    assert client.get(f"{URL}?format=csv&category=bug", headers=earlier).status_code == 200
    # An unreadable date is ignored; If-None-Match, when given, decides alone.
    garbled = {**admin_headers, "If-Modified-Since": "yesterday"}
    assert client.get(f"{URL}?format=csv&category=bug", headers=garbled).status_code == 200
    both = {**since, "If-None-Match": '"not-the-etag"'}
    assert client.get(f"{URL}?format=csv&category=bug", headers=both).status_code == 200
    # A record leaving the filtered set moves no time inside it: still not a 304.
    with db.session() as session:
        moved = session.get(Feedback, leaving.id)
        assert moved is not None
        moved.category, moved.updated_at = "how_to", utcnow()
    changed = client.get(f"{URL}?format=csv&category=bug", headers=since)
    assert changed.status_code == 200 and leaving.id not in changed.text


def test_last_modified_of_a_recent_change_stays_below_late_commits(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    with db.session() as session:
        add_feedback(session, created=utcnow())
    before = utcnow()
    response = client.get(f"{URL}?format=ndjson", headers=admin_headers)
    stamp = email.utils.parsedate_to_datetime(response.headers["last-modified"])
    # A transaction that stamped its change just before this export but commits after it
    # must still count as newer than the header.
    assert stamp < before - LATE_COMMIT
    with db.session() as session:
        add_feedback(session, created=before - LATE_COMMIT + timedelta(seconds=1))
    since = {**admin_headers, "If-Modified-Since": response.headers["last-modified"]}
    assert client.get(f"{URL}?format=ndjson", headers=since).status_code == 200


def test_since_cursor_pulls_only_what_changed(
    client: TestClient, admin_headers: dict[str, str], db: Database, awkward: list[str]
) -> None:
    first = client.get(f"{URL}?format=ndjson", headers=admin_headers)
    cursor = first.headers["x-relay-next-since"]
    nothing = client.get(f"{URL}?format=ndjson&since={cursor}", headers=admin_headers)
    assert nothing.text == "" and nothing.headers["x-relay-next-since"] == cursor
    with db.session() as session:
        fresh = add_feedback(
            session, created=BASE - timedelta(days=30), updated=BASE + timedelta(days=1)
        )
    pulled = client.get(f"{URL}?format=ndjson&since={cursor}", headers=admin_headers)
    assert [json.loads(line)["id"] for line in pulled.text.splitlines()] == [fresh.id]
    assert pulled.headers["x-relay-next-since"] != cursor
    # A plain timestamp works too: records changed after it.
    stamp = (BASE + timedelta(hours=12)).isoformat()
    by_time = client.get(URL, params={"format": "json", "since": stamp}, headers=admin_headers)
    assert [r["id"] for r in by_time.json()] == [fresh.id]


def test_every_export_is_audited(client: TestClient, db: Database, awkward: list[str]) -> None:
    headers = token_headers(db, "export:read")
    response = client.get(f"{URL}?format=ndjson&category=bug", headers=headers)
    etag = response.headers["etag"]
    client.get(f"{URL}?format=ndjson&category=bug", headers={**headers, "If-None-Match": etag})
    with db.session() as session:
        audits = list(session.scalars(select(ExportAudit).order_by(ExportAudit.started_at)))
    assert [(a.status, a.rows, a.format) for a in audits] == [
        ("completed", len(awkward), "ndjson"),
        ("not_modified", 0, "ndjson"),
    ]
    first = audits[0]
    assert first.actor.startswith("token:tok_") and first.channel == "api"
    assert first.filters == {"category": "bug"} and first.resource == "feedback"
    assert first.finished_at is not None and first.finished_at >= first.started_at
    assert response.headers["x-relay-export-id"] == first.id


def test_export_needs_the_export_scope(client: TestClient, db: Database) -> None:
    reader = token_headers(db, "feedback:read")
    denied = client.get(URL, headers=reader)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "scope_missing"
    assert client.get("/api/v1/exports/themes", headers=reader).status_code == 403
    assert client.get(f"{URL}/schema", headers=reader).status_code == 403
    assert client.get(URL).status_code == 401
    with db.read_session() as session:
        assert session.scalars(select(ExportAudit)).first() is None


def test_schema_describes_the_record_and_the_columns(
    client: TestClient, db: Database, awkward: list[str]
) -> None:
    headers = token_headers(db, "export:read")
    schema = client.get(f"{URL}/schema", headers=headers).json()
    assert schema["x-csv-columns"] == DOCUMENTED_COLUMNS.split(",")
    assert list(schema["properties"]) == DOCUMENTED_COLUMNS.split(",")
    assert set(schema["required"]) == set(DOCUMENTED_COLUMNS.split(","))
    record = client.get(f"{URL}?format=json", headers=headers).json()[0]
    assert set(record) == set(schema["properties"])


def test_themes_export(client: TestClient, admin_headers: dict[str, str], db: Database) -> None:
    with db.session() as session:
        for merchant in ("m_1", "m_2"):
            record = add_feedback(session, merchant=merchant)
            themes.attach(session, record=record)
    api = client.get("/api/v1/themes", headers=admin_headers).json()["items"]
    assert api
    ndjson = client.get("/api/v1/exports/themes?format=ndjson", headers=admin_headers)
    assert [json.loads(line) for line in ndjson.text.splitlines()] == api
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/api/v1/exports/themes?format=csv", headers=admin_headers).text,
                newline="",
            )
        )
    )
    assert [r["id"] for r in rows] == [t["id"] for t in api]
    assert rows[0]["fix_suggested_type"] == api[0]["fix"]["suggested_type"]
    assert rows[0]["record_count"] == str(api[0]["record_count"])
    etag = ndjson.headers["etag"]
    again = client.get(
        "/api/v1/exports/themes?format=ndjson", headers={**admin_headers, "If-None-Match": etag}
    )
    assert again.status_code == 304


def test_since_cursor_stays_behind_recent_changes(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    # A record changed just now may have company: a transaction that stamped an earlier
    # time and is not committed yet. The cursor stays behind, so both come next time.
    with db.session() as session:
        recent = add_feedback(session, updated=utcnow())
    first = client.get(f"{URL}?format=ndjson", headers=admin_headers)
    cursor = first.headers["x-relay-next-since"]
    again = client.get(f"{URL}?format=ndjson&since={cursor}", headers=admin_headers)
    assert [json.loads(line)["id"] for line in again.text.splitlines()] == [recent.id]
    later = decode_since(again.headers["x-relay-next-since"])
    assert decode_since(cursor).updated_at <= later.updated_at < recent.updated_at
