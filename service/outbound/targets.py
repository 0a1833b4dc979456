"""Where Relay may send events: http(s) URLs whose host resolves to public addresses.

Checked when a subscription is created and again before every delivery (DNS may change);
the delivery then connects to the very address that was checked (see delivery.py), so a
name that re-resolves to an internal address between check and connect cannot be used.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL is not one Relay will send to; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress  # the checked address the delivery connects to


def parse(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL, or TargetRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address (not private, loopback, link-local...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check `url` and pick the address to connect to; TargetRefused when it may not be used."""
    scheme, host, port = parse(url)
    addresses = _addresses(host, port)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a private or reserved address ({refused[0]})")
    # IPv4 first: a loopback test server usually listens on 127.0.0.1 only.
    address = sorted(addresses, key=lambda a: a.version)[0]
    return Target(url=url, scheme=scheme, host=host, port=port, address=address)


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"{host} does not resolve: {exc}") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise TargetRefused(f"{host} does not resolve")
    return found
