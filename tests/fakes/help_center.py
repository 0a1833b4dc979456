"""A fake Zendesk Help Center speaking the Articles and Translations API Relay publishes with.

`POST /api/v2/help_center/sections/{id}/articles` creates an article (201, `{"article"}`),
`PUT /api/v2/help_center/articles/{id}/translations/{locale}` replaces its title and body
(`{"translation"}`), `GET /api/v2/help_center/articles?label_names=a,b` lists articles
carrying any of the labels. API-token Basic auth (`{email}/token:{token}`) is required.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

CREATE = r"/api/v2/help_center/sections/(?P<section>\d+)/articles(?:\.json)?"
TRANSLATION = r"/api/v2/help_center/articles/(?P<id>\d+)/translations/(?P<locale>[\w-]+)(?:\.json)?"
LIST = r"/api/v2/help_center/articles(?:\.json)?"


class FakeHelpCenter(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.articles: dict[str, dict[str, Any]] = {}
        self._next_id = 360_000_000
        self.route("POST", CREATE, self._create)
        self.route("PUT", TRANSLATION, self._translate)
        self.route("GET", LIST, self._list)

    def _authorised(self, request: Recorded) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            user = base64.b64decode(value).decode() if scheme == "Basic" else ""
        except ValueError:
            return False
        return "/token:" in user

    def _create(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorised(request):
            return Reply.json({"error": "Couldn't authenticate you"}, status=401)
        article = (request.json or {}).get("article") or {}
        if not article.get("title") or not article.get("locale"):
            return Reply.json({"error": "RecordInvalid"}, status=422)
        self._next_id += 1
        article_id = str(self._next_id)
        stored = {
            "id": int(article_id),
            "section_id": int(match["section"]),
            "title": article["title"],
            "body": article.get("body", ""),
            "locale": article["locale"],
            "label_names": list(article.get("label_names") or []),
            "draft": bool(article.get("draft", False)),
            "html_url": f"{self.url}/hc/{article['locale']}/articles/{article_id}",
        }
        self.articles[article_id] = stored
        return Reply.json({"article": stored}, status=201)

    def _translate(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorised(request):
            return Reply.json({"error": "Couldn't authenticate you"}, status=401)
        article = self.articles.get(match["id"])
        if article is None:
            return Reply.json({"error": "RecordNotFound"}, status=404)
        translation = (request.json or {}).get("translation") or {}
        article.update({k: v for k, v in translation.items() if k in ("title", "body")})
        reply = {**translation, "locale": match["locale"], "html_url": article["html_url"]}
        return Reply.json({"translation": reply})

    def _list(self, request: Recorded, match: re.Match[str]) -> Reply:
        del match
        if not self._authorised(request):
            return Reply.json({"error": "Couldn't authenticate you"}, status=401)
        wanted = set((request.param("label_names") or "").split(",")) - {""}
        found = [a for a in self.articles.values() if wanted & set(a["label_names"])]
        return Reply.json({"articles": found, "count": len(found)})
