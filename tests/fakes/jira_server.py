"""A fake Jira Cloud speaking enough of REST v2 for the real `jira` client.

Covers what Relay's client calls — `serverInfo`, `field`, create / get issue, comments,
transitions, JQL search (`search/jql`, the Cloud endpoint the client uses; `search` for
Server mode) — with Basic auth required. The workflow is To Do → In Progress → Done,
and `webhook()` builds the `jira:issue_updated` body Jira would send for an issue's
current state, so tests can play Engineering's side end to end.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

API = "/rest/api/2"
STATUSES = {
    "To Do": ("1", "new", "To Do"),
    "In Progress": ("3", "indeterminate", "In Progress"),
    "Done": ("10001", "done", "Done"),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
FIELDS = ["summary", "description", "labels", "status", "resolution", "fixVersions", "components"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class FakeJira(FakeServer):
    """Issues in memory, keyed `<PROJECT>-<n>`; `deployment` is what serverInfo reports."""

    def __init__(self, *, deployment: str = "Cloud") -> None:
        super().__init__()
        self.deployment = deployment
        self.issues: dict[str, dict[str, Any]] = {}
        self._next_id = 10000
        self.route("GET", f"{API}/serverInfo", self._server_info)
        self.route("GET", f"{API}/field", self._fields)
        self.route("POST", f"{API}/issue", self._create)
        self.route("GET", f"{API}/issue/(?P<key>[^/]+)", self._get)
        self.route("POST", f"{API}/issue/(?P<key>[^/]+)/comment", self._add_comment)
        self.route("GET", f"{API}/issue/(?P<key>[^/]+)/comment", self._comments)
        self.route("GET", f"{API}/issue/(?P<key>[^/]+)/transitions", self._transitions)
        self.route("POST", f"{API}/issue/(?P<key>[^/]+)/transitions", self._transition)
        self.route("*", f"{API}/search(?:/jql)?", self._search)

    # ------------------------------------------------------------------ for tests

    def created(self) -> list[Recorded]:
        """Create-issue requests that reached the issue store (faults excluded)."""
        return self.requests_to("POST", f"{API}/issue")

    def add_issue(
        self, *, project: str, summary: str, description: str = "", labels: tuple[str, ...] = ()
    ) -> str:
        """An issue Engineering created directly in Jira; returns its key."""
        fields = {"project": {"key": project}, "summary": summary, "description": description}
        with self.lock:
            return self._store(fields | {"labels": list(labels)})["key"]

    def move(
        self,
        key: str,
        status: str,
        *,
        resolution: str | None = None,
        fix_version: str | None = None,
    ) -> None:
        """Transition `key` as an engineer would (Done sets a resolution, default "Done")."""
        with self.lock:
            self._apply_status(self.issues[key], status, resolution, fix_version)

    def comment(self, key: str, body: str, *, author: str = "Ana Engineer") -> dict[str, Any]:
        """An engineer's comment on `key`; returns it."""
        with self.lock:
            return self._comment(self.issues[key], body, author)

    def webhook(
        self,
        key: str,
        *,
        event: str = "jira:issue_updated",
        timestamp_ms: int,
        changed: tuple[str, ...] = ("status",),
        comment: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The webhook body Jira sends for `key` as it is now."""
        with self.lock:
            issue = self._issue_json(self.issues[key])
        body: dict[str, Any] = {
            "timestamp": timestamp_ms,
            "webhookEvent": event,
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "acc-eng-1", "displayName": "Ana Engineer"},
            "issue": issue,
            "changelog": {
                "id": str(timestamp_ms),
                "items": [{"field": f, "fieldId": f} for f in changed],
            },
        }
        if comment is not None:
            body["comment"] = comment
        return body

    # ------------------------------------------------------------------ routes

    def _authorised(self, request: Recorded) -> bool:
        return request.headers.get("authorization", "").startswith("Basic ")

    def _server_info(self, request: Recorded, match: re.Match[str]) -> Reply:
        return Reply.json(
            {
                "baseUrl": self.url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": self.deployment,
                "buildNumber": 100_000,
                "serverTitle": "Fake Jira",
            }
        )

    def _fields(self, request: Recorded, match: re.Match[str]) -> Reply:
        return Reply.json(
            [{"id": f, "name": f.title(), "custom": False, "clauseNames": [f]} for f in FIELDS]
        )

    def _create(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorised(request):
            return Reply.json({"errorMessages": ["not authenticated"]}, status=401)
        fields = (request.json or {}).get("fields") or {}
        errors = {
            name: f"{name} is required"
            for name in ("project", "summary", "issuetype")
            if not fields.get(name)
        }
        if errors:
            return Reply.json({"errorMessages": [], "errors": errors}, status=400)
        issue = self._store(fields)
        return Reply.json(
            {"id": issue["id"], "key": issue["key"], "self": self._self(issue)}, status=201
        )

    def _get(self, request: Recorded, match: re.Match[str]) -> Reply:
        issue = self.issues.get(match["key"])
        if issue is None:
            return Reply.json({"errorMessages": ["Issue does not exist"]}, status=404)
        return Reply.json(self._issue_json(issue))

    def _add_comment(self, request: Recorded, match: re.Match[str]) -> Reply:
        issue = self.issues.get(match["key"])
        body = (request.json or {}).get("body")
        if issue is None or not self._authorised(request):
            return Reply.json({"errorMessages": ["Issue does not exist"]}, status=404)
        if not isinstance(body, str) or not body.strip():
            return Reply.json({"errors": {"comment": "Comment body can not be empty!"}}, status=400)
        return Reply.json(self._comment(issue, body, "Relay"), status=201)

    def _comments(self, request: Recorded, match: re.Match[str]) -> Reply:
        issue = self.issues.get(match["key"])
        if issue is None:
            return Reply.json({"errorMessages": ["Issue does not exist"]}, status=404)
        comments = issue["comments"]
        return Reply.json(
            {
                "startAt": 0,
                "maxResults": len(comments),
                "total": len(comments),
                "comments": comments,
            }
        )

    def _transitions(self, request: Recorded, match: re.Match[str]) -> Reply:
        items = [
            {"id": tid, "name": name, "to": self._status(name)} for tid, name in TRANSITIONS.items()
        ]
        return Reply.json({"expand": "transitions", "transitions": items})

    def _transition(self, request: Recorded, match: re.Match[str]) -> Reply:
        issue = self.issues.get(match["key"])
        data = request.json or {}
        target = TRANSITIONS.get(str((data.get("transition") or {}).get("id")))
        if issue is None or target is None:
            return Reply.json({"errorMessages": ["bad transition"]}, status=400)
        fields = data.get("fields") or {}
        resolution = (fields.get("resolution") or {}).get("name")
        versions = [v.get("name") for v in fields.get("fixVersions") or []]
        self._apply_status(issue, target, resolution, versions[0] if versions else None)
        return Reply.empty()

    def _search(self, request: Recorded, match: re.Match[str]) -> Reply:
        data = request.json if request.method == "POST" else None
        jql = (data or {}).get("jql") or request.param("jql") or ""
        found = [self._issue_json(i) for i in self.issues.values() if _matches(i, jql)]
        if request.path.endswith("/jql"):
            return Reply.json({"issues": found, "isLast": True})
        return Reply.json({"startAt": 0, "maxResults": 50, "total": len(found), "issues": found})

    # ------------------------------------------------------------------ state

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        project = (fields.get("project") or {}).get("key") or "REL"
        self._next_id += 1
        number = sum(1 for i in self.issues.values() if i["project"] == project) + 1
        issue = {
            "id": str(self._next_id),
            "key": f"{project}-{number}",
            "project": project,
            "fields": dict(fields),
            "status": "To Do",
            "resolution": None,
            "fix_versions": [],
            "comments": [],
            "created": _now(),
            "updated": _now(),
        }
        self.issues[issue["key"]] = issue
        return issue

    def _apply_status(
        self, issue: dict[str, Any], status: str, resolution: str | None, version: str | None
    ) -> None:
        issue["status"] = status
        issue["resolution"] = (resolution or "Done") if status == "Done" else None
        if version:
            issue["fix_versions"] = [version]
        issue["updated"] = _now()

    def _comment(self, issue: dict[str, Any], body: str, author: str) -> dict[str, Any]:
        number = sum(len(i["comments"]) for i in self.issues.values()) + 1
        comment = {
            "id": str(20000 + number),
            "self": f"{self.url}{API}/issue/{issue['id']}/comment/{20000 + number}",
            "body": body,
            "author": {
                "accountId": f"acc-{author.lower().replace(' ', '-')}",
                "displayName": author,
            },
            "created": _now(),
            "updated": _now(),
        }
        issue["comments"].append(comment)
        issue["updated"] = _now()
        return comment

    def _status(self, name: str) -> dict[str, Any]:
        status_id, category, _ = STATUSES[name]
        return {
            "id": status_id,
            "name": name,
            "statusCategory": {"key": category, "name": STATUSES[name][2]},
        }

    def _self(self, issue: dict[str, Any]) -> str:
        return f"{self.url}{API}/issue/{issue['id']}"

    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        fields = issue["fields"]
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": self._self(issue),
            "fields": {
                **{k: v for k, v in fields.items() if k not in ("project", "issuetype")},
                "project": {"key": issue["project"], "name": issue["project"]},
                "issuetype": {"name": (fields.get("issuetype") or {}).get("name", "Task")},
                "labels": list(fields.get("labels") or []),
                "components": list(fields.get("components") or []),
                "status": self._status(issue["status"]),
                "resolution": {"name": issue["resolution"]} if issue["resolution"] else None,
                "fixVersions": [{"name": v} for v in issue["fix_versions"]],
                "created": issue["created"],
                "updated": issue["updated"],
                "comment": {"comments": list(issue["comments"]), "total": len(issue["comments"])},
            },
        }


def _matches(issue: dict[str, Any], jql: str) -> bool:
    """The JQL subset Relay sends: `a = b` clauses joined by AND (labels, project, key)."""
    query = re.split(r"\s+ORDER\s+BY\s+", jql, flags=re.IGNORECASE)[0]
    for clause in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        if not clause:
            continue
        name, _, value = (part.strip() for part in clause.partition("="))
        wanted = " ".join(shlex.split(value))
        if name == "labels" and wanted not in (issue["fields"].get("labels") or []):
            return False
        if name == "project" and wanted != issue["project"]:
            return False
        if name == "key" and wanted != issue["key"]:
            return False
    return True
