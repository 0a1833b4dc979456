"""The loopback fake-server base: routing, recording, programmed failures and slowness."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fakes.server import FakeServer, Recorded, Reply


class Echo(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.hits = 0
        self.route("POST", r"/things/(?P<id>\d+)", self._post)

    def _post(self, request: Recorded, match: re.Match[str]) -> Reply:
        self.hits += 1
        return Reply.json({"id": match["id"], "got": request.json}, status=201)


def test_routes_record_everything_and_unknown_paths_are_404() -> None:
    with Echo() as fake:
        answer = httpx.post(f"{fake.url}/things/7?x=1", json={"a": 1}, headers={"X-Y": "z"})
        assert answer.status_code == 201 and answer.json() == {"id": "7", "got": {"a": 1}}
        assert httpx.get(f"{fake.url}/nothing").status_code == 404
        [seen] = fake.requests_to("POST", r"/things/\d+")
        assert (seen.param("x"), seen.headers["x-y"], seen.json) == ("1", "z", {"a": 1})
        assert len(fake.requests) == 2


def test_failures_rate_limits_and_then_recovery() -> None:
    with Echo() as fake:
        fake.fail("POST", r"/things/\d+", times=2, status=502)
        fake.rate_limit("POST", r"/things/\d+", retry_after=7)
        codes = [httpx.post(f"{fake.url}/things/1", json={}).status_code for _ in range(3)]
        last = httpx.post(f"{fake.url}/things/1", json={})
        assert codes[:2] == [502, 502] and codes[2] == 429 and last.status_code == 201
        assert fake.hits == 1 and len(fake.requests) == 4


def test_slow_replies_time_clients_out_after_the_effect() -> None:
    with Echo() as fake:
        fake.slow("POST", r"/things/\d+", seconds=5, handle_first=True)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{fake.url}/things/1", json={}, timeout=0.3)
        assert fake.hits == 1  # it happened, though the client never heard
        assert httpx.post(f"{fake.url}/things/2", json={}).status_code == 201
