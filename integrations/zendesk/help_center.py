"""Zendesk Help Center articles: create one in a section, then update its translation.

Creating looks for an article carrying the caller's label first, so a retry after a lost
answer updates the article instead of creating a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class HelpCenterError(Exception):
    """The Help Center refused or failed a request (status and body in the message)."""


@dataclass(frozen=True)
class Article:
    id: str
    html_url: str | None


class HelpCenterClient:
    """Help Center API v2 with API-token authentication (`email/token:api_token`)."""

    def __init__(
        self,
        base_url: str,
        *,
        email: str,
        api_token: str,
        locale: str = "en-us",
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(f"{email}/token", api_token),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self.locale = locale

    def find_by_label(self, label: str) -> Article | None:
        """The article carrying `label`, if one exists."""
        data = self._request("GET", "/api/v2/help_center/articles", params={"label_names": label})
        articles = data.get("articles") or []
        return _article(articles[0]) if articles else None

    def create_article(
        self,
        *,
        section_id: int,
        title: str,
        body_html: str,
        label: str,
        permission_group_id: int | None = None,
    ) -> Article:
        """A new published article in `section_id` (or the existing one carrying `label`)."""
        existing = self.find_by_label(label)
        if existing is not None:
            return self.update_article(existing.id, title=title, body_html=body_html)
        article: dict[str, Any] = {
            "title": title,
            "body": body_html,
            "locale": self.locale,
            "label_names": [label],
            "user_segment_id": None,
        }
        if permission_group_id is not None:
            article["permission_group_id"] = permission_group_id
        path = f"/api/v2/help_center/sections/{section_id}/articles"
        data = self._request("POST", path, json={"article": article, "notify_subscribers": False})
        return _article(data["article"])

    def update_article(self, article_id: str, *, title: str, body_html: str) -> Article:
        """Replace the title and body of the article's translation in our locale."""
        path = f"/api/v2/help_center/articles/{article_id}/translations/{self.locale}"
        data = self._request("PUT", path, json={"translation": {"title": title, "body": body_html}})
        translation = data.get("translation") or {}
        return Article(id=str(article_id), html_url=translation.get("html_url"))

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise HelpCenterError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            raise HelpCenterError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        data: dict[str, Any] = response.json()
        return data

    def close(self) -> None:
        self._client.close()


def _article(data: dict[str, Any]) -> Article:
    return Article(id=str(data["id"]), html_url=data.get("html_url"))
