"""FAQ documents over HTTP and the CLI, with entries published through the FAQ workflow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.auth import tokens
from service.config import get_settings
from service.db import Database
from service.faq import document_cli, document_routes
from service.faq import service as faq_service
from service.faq.schemas import PublishedFaq
from tests.faq.test_documents import HOSTILE, read, seed_cards, text_of


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The app with the document routes, for as long as create_app does not include them."""
    routes = app.router.routes
    if not any(getattr(r, "original_router", None) is document_routes.router for r in routes):
        app.include_router(document_routes.router)
        # Ahead of the FAQ router's /api/v1/faqs/{faq_id}, as service/app.py must put it.
        routes.insert(0, routes.pop())
    return app


def _headers(db: Database, *scopes: str) -> dict[str, str]:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {clear}"}


@pytest.fixture
def published(
    db: Database, client: TestClient, admin_headers: dict[str, str], generated: list[str]
) -> list[PublishedFaq]:
    """The entries generated from the small corpus, approved and published via the API."""
    for faq_id in generated:
        for step in ("approve", "publish"):
            response = client.post(f"/api/v1/faqs/{faq_id}/{step}", headers=admin_headers)
            assert response.status_code == 200, response.text
    with db.read_session() as session:
        entries = faq_service.published_faqs(session)
    assert len(entries) == len(generated)
    return entries


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- HTTP


def test_documents_need_the_feedback_read_scope(db: Database, client: TestClient) -> None:
    urls = [
        "/api/v1/faqs/digest.pdf",
        "/api/v1/product-areas/cards/quick-reference.pdf",
        "/api/v1/product-areas/cards/training.html",
    ]
    exports_only = _headers(db, "export:read")
    for url in urls:
        assert client.get(url).status_code == 401
        refused = client.get(url, headers=exports_only)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_missing"


def test_unknown_product_area_is_a_404_naming_it(db: Database, client: TestClient) -> None:
    headers = _headers(db, "feedback:read")
    for kind in ("quick-reference.pdf", "training.pdf", "training.html"):
        response = client.get(f"/api/v1/product-areas/crypto/{kind}", headers=headers)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "product_area_not_found" and "'crypto'" in error["message"]
        assert error["details"]["product_area"] == "crypto"
    bad_filter = client.get("/api/v1/faqs/digest.pdf?product_area=crypto", headers=headers)
    assert bad_filter.status_code == 422


def test_quick_reference_pdf_and_preview(db: Database, client: TestClient) -> None:
    with db.session() as session:
        theme_id = seed_cards(session)[0]
    headers = _headers(db, "feedback:read")
    client.patch(
        f"/api/v1/themes/{theme_id}", json={"title": HOSTILE}, headers=_headers(db, "admin")
    )
    response = client.get("/api/v1/product-areas/cards/quick-reference.pdf", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="cards-quick-reference.pdf"' in response.headers["content-disposition"]
    assert len(read(response.content).pages) == 1
    assert "Cards" in text_of(response.content)

    preview = client.get("/api/v1/product-areas/cards/quick-reference.html", headers=headers)
    assert preview.status_code == 200 and preview.headers["content-type"].startswith("text/html")
    assert "default-src" in preview.headers["content-security-policy"]
    assert '<img src="file:///etc/passwd">' not in preview.text
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in preview.text


def test_published_entries_appear_in_every_document(
    db: Database, client: TestClient, published: list[PublishedFaq]
) -> None:
    headers = _headers(db, "feedback:read")
    digest = client.get("/api/v1/faqs/digest.pdf", headers=headers)
    assert digest.status_code == 200, digest.text
    text = text_of(digest.content)
    assert "Contents" in text
    for entry in published:
        assert squash(entry.question) in text
        assert f"Version {entry.version}" in text
    assert "---" not in text and "owner:" not in text  # front matter is not printed

    entry = published[0]
    area = entry.product_area
    assert area is not None
    card = client.get(f"/api/v1/product-areas/{area}/quick-reference.pdf", headers=headers)
    assert len(read(card.content).pages) == 1
    assert squash(entry.question)[:60] in text_of(card.content)

    training = text_of(
        client.get(f"/api/v1/product-areas/{area}/training.pdf", headers=headers).content
    )
    assert squash(entry.question) in training
    assert "Published answer" in training  # the entry's resolution for its theme

    one_area = client.get(f"/api/v1/faqs/digest.pdf?product_area={area}", headers=headers)
    only = text_of(one_area.content)
    others = [e for e in published if e.product_area != area]
    assert all(squash(e.question) not in only for e in others)


# ---------------------------------------------------------------- CLI


@pytest.fixture
def cli(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """`relay faq` with the document commands, pointed at the (emptied) test database."""
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    app = typer.Typer()
    document_cli.register(app)
    yield app
    get_settings.cache_clear()


def test_cli_writes_each_document(cli: typer.Typer, db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        seed_cards(session)
    runner = CliRunner()
    commands = {
        "digest.pdf": ["digest"],
        "card.pdf": ["quick-ref", "--area", "cards"],
        "training.pdf": ["training", "--area", "qrph"],
    }
    for name, args in commands.items():
        out = tmp_path / "out" / name
        result = runner.invoke(cli, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"wrote {out}" in result.output
        assert out.read_bytes().startswith(b"%PDF-")
    assert len(read((tmp_path / "out" / "card.pdf").read_bytes()).pages) == 1
    assert "Self-check quiz" in text_of((tmp_path / "out" / "training.pdf").read_bytes())


def test_cli_refuses_an_unknown_area(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["training", "--area", "crypto", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "crypto" in result.output
    assert not (tmp_path / "x").exists()
