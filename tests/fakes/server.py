"""A reusable fake HTTP server on loopback, for vendor doubles that real clients talk to.

A vendor fake subclasses `FakeServer`, keeps its own state, and registers routes:

    class FakeThing(FakeServer):
        def __init__(self) -> None:
            super().__init__()
            self.items: dict[str, dict] = {}
            self.route("GET", r"/api/items/(?P<id>\\d+)", self._show)

        def _show(self, request: Recorded, match: re.Match[str]) -> Reply:
            item = self.items.get(match["id"])
            return Reply.json(item) if item else Reply.json({"error": "not found"}, status=404)

    with FakeThing() as fake:            # a threaded http.server on 127.0.0.1, port 0
        httpx.get(f"{fake.url}/api/items/1")
        assert fake.requests_to("GET", r"/api/items/\\d+")[0].headers["user-agent"]

Every request is recorded (`Recorded`: method, path, query, lower-cased headers, raw body,
parsed JSON) before any fault applies, so tests can assert on what a client sent even when
the fake refused it. Faults are programmable per method and path pattern, each for the
next `times` matching requests:

- `fail(method, pattern, times=N, status=500)` answers N times with an error status;
- `rate_limit(method, pattern, retry_after=30)` answers 429 with `Retry-After`;
- `slow(method, pattern, seconds=2, handle_first=True)` waits before answering; with
  `handle_first` the route runs first (the state changes), so a client that times out
  has nevertheless had its effect — the case idempotent retries must survive.

Handlers run on the server's threads; the server's lock serialises them, so fakes may
keep plain dicts as state. `stop()` (or leaving the `with` block) cuts slow replies short.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # the parsed body, or None when it is empty or not JSON

    def param(self, name: str) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def empty(cls, status: int = 204) -> Reply:
        return cls(status=status)


Route = Callable[[Recorded, re.Match[str]], Reply]


@dataclass
class Fault:
    """A programmed misbehaviour for the next `times` requests matching method and pattern."""

    method: str
    pattern: re.Pattern[str]
    times: int
    reply: Reply | None = None  # answer this instead of running the route
    delay: float = 0.0  # seconds to wait before answering
    handle_first: bool = False  # run the route before the delay (its effect happens)

    def matches(self, request: Recorded) -> bool:
        return (
            self.times > 0
            and self.method in (request.method, "*")
            and bool(self.pattern.fullmatch(request.path))
        )


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (random port) with routes, recording and faults."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        handler = _handler_class(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a slow reply never holds up shutdown
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ routes and faults

    def route(self, method: str, pattern: str, handler: Route) -> None:
        """Answer `method` requests whose path fully matches `pattern` with `handler`."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def fail(self, method: str, pattern: str, *, times: int = 1, status: int = 500) -> None:
        """The next `times` matching requests get `status` (default 500) and nothing happens."""
        reply = Reply.json({"errorMessages": [f"fake failure {status}"]}, status=status)
        self._add(Fault(method.upper(), re.compile(pattern), times, reply=reply))

    def rate_limit(
        self, method: str, pattern: str, *, retry_after: int = 30, times: int = 1
    ) -> None:
        """The next `times` matching requests get 429 with `Retry-After: retry_after`."""
        reply = Reply.json(
            {"error": "TooManyRequests"}, status=429, headers={"Retry-After": str(retry_after)}
        )
        self._add(Fault(method.upper(), re.compile(pattern), times, reply=reply))

    def slow(
        self,
        method: str,
        pattern: str,
        *,
        seconds: float,
        times: int = 1,
        handle_first: bool = True,
    ) -> None:
        """Delay the next `times` matching replies by `seconds` (by default after the route ran)."""
        self._add(
            Fault(
                method.upper(), re.compile(pattern), times, delay=seconds, handle_first=handle_first
            )
        )

    def _add(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    # ------------------------------------------------------------------ inspection

    def requests_to(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests with this method whose path fully matches `pattern`."""
        compiled = re.compile(pattern)
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and compiled.fullmatch(r.path)
            ]

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, request: Recorded) -> Iterator[Reply | float]:
        """Yield the reply, or a delay (seconds) to wait before the reply that follows."""
        # The lock is never held across a delay: other requests go on meanwhile.
        with self.lock:
            self.requests.append(request)
            fault = self._take_fault(request)
        if fault is not None and fault.reply is not None:
            yield fault.reply
            return
        if fault is not None and not fault.handle_first:
            yield fault.delay
        with self.lock:
            reply = self._run_route(request)
        if fault is not None and fault.handle_first:
            yield fault.delay
        yield reply

    def _take_fault(self, request: Recorded) -> Fault | None:
        for fault in self._faults:
            if fault.matches(request):
                fault.times -= 1
                return fault
        return None

    def _run_route(self, request: Recorded) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method in (request.method, "*"):
                return handler(request, match)
        return Reply.json({"errorMessages": [f"no route for {request.path}"]}, status=404)

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, cut short when the server stops."""
        self._stopping.wait(seconds)


def _handler_class(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                json=_json_or_none(body),
            )
            for step in server.dispatch(request):
                if isinstance(step, Reply):
                    self._answer(step)
                else:
                    server.wait(step)

        def _answer(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to tell it

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815 - http.server names

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet; `requests` has it all

    return Handler


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
