"""One signed POST to a subscriber, and what came of it (no redirects, bounded time)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from service.outbound import signing, targets

USER_AGENT = "Relay-Webhooks/1.0"

_client: httpx.Client | None = None
_client_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Message:
    """What is sent: the same id and body on every retry; the timestamp is per attempt."""

    url: str
    secret: str
    message_id: str
    body: bytes


def client() -> httpx.Client:
    """The process's HTTP client for subscribers, built on first use."""
    global _client
    with _client_lock:
        if _client is None:
            # No proxies from the environment: the checked address must be the one we reach.
            _client = httpx.Client(follow_redirects=False, trust_env=False)
        return _client


def send(message: Message, *, timeout: float, allow_private: bool) -> Outcome:
    """POST `message` signed for now; any failure becomes an Outcome, never an exception."""
    started = time.perf_counter()
    try:
        target = targets.resolve(message.url, allow_private=allow_private)
        status = _post(target, message, timeout)
    except targets.TargetRefused as exc:
        return Outcome(None, _ms(started), f"refused: {exc}")
    except httpx.TimeoutException:
        return Outcome(None, _ms(started), f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:1000])
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(status, _ms(started), error)


def _post(target: targets.Target, message: Message, timeout: float) -> int:
    url = httpx.URL(target.url)
    headers = {
        "host": url.netloc.decode("ascii"),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signing.headers(
            message.secret,
            message_id=message.message_id,
            timestamp=int(time.time()),
            body=message.body,
        ),
    }
    # Connect to the address that was checked; TLS still verifies the subscriber's name.
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if target.scheme == "https" else {}
    request = client().build_request(
        "POST",
        url.copy_with(host=str(target.address)),
        content=message.body,
        headers=headers,
        timeout=timeout,
        extensions=extensions,
    )
    # The body is not read: a subscriber's answer is its status code, whatever it sends.
    response = client().send(request, stream=True)
    response.close()
    return response.status_code


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
