"""SSRF guard: only http(s) URLs whose host resolves to public addresses."""

from __future__ import annotations

import pytest

from service.outbound import targets


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http:///nohost",
        "http://example.com:99999/",
        "not a url",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        targets.resolve(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_private_loopback_and_reserved_targets_are_refused(url: str) -> None:
    with pytest.raises(targets.TargetRefused, match="private or reserved"):
        targets.resolve(url, allow_private=False)


def test_private_targets_are_allowed_when_configured() -> None:
    target = targets.resolve("http://localhost:8123/hook", allow_private=True)
    assert target.host == "localhost" and target.port == 8123
    assert target.address.is_loopback


def test_a_public_address_is_accepted_and_pinned() -> None:
    target = targets.resolve("https://8.8.8.8/hook", allow_private=False)
    assert (target.scheme, str(target.address), target.port) == ("https", "8.8.8.8", 443)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(targets.TargetRefused, match="does not resolve"):
        targets.resolve("http://no-such-host.invalid/hook", allow_private=True)
