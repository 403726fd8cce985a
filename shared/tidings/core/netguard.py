"""Outbound URLs Tidings fetches or posts to on a user's behalf (link checks, notifications, webhooks):
well-formed, https, and resolving only to public addresses, so a user cannot make Tidings reach a
private, loopback or link-local address (cloud metadata, internal services). The local runtime turns
this off with the ``allow_private_links`` setting.

The check happens before the request; a host whose DNS answer changes in between (DNS rebinding) is
not caught, so run the workers in a network that cannot reach internal services as well.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

# Resolves a host name to its IP addresses (socket.getaddrinfo by default; tests pass a fake).
Resolver = Callable[[str], list[str]]

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_NAMES = ("localhost", "metadata", "metadata.google.internal")


def system_resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def url_problem(url: str, *, allow_private: bool, resolve: Resolver | None = None) -> str | None:
    """Why `url` may not be fetched: "malformed", "not found" (the host does not resolve) or the
    private, loopback or link-local address it points to; None when it may be."""
    host = well_formed_host(url)
    if host is None:
        return "malformed"
    if allow_private:
        return None
    return address_problem(host, resolve or system_resolve)


def well_formed_host(url: str) -> str | None:
    """The host of a well-formed http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if _ip(host) is not None:
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return host


def address_problem(host: str, resolve: Resolver) -> str | None:
    """Why `host` is not a public address (resolving it when it is a name), or None."""
    literal = _ip(host)
    if literal is not None:
        return _non_public(literal)
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return f"local host name {name}"
    try:
        addresses = resolve(name)
    except (OSError, UnicodeError):
        return "not found"
    if not addresses:
        return "not found"
    for address in addresses:
        ip = _ip(address)
        problem = _non_public(ip) if ip is not None else f"unusable address {address}"
        if problem:
            return problem
    return None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _non_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"loopback address {ip}"
    if ip.is_link_local:
        return f"link-local address {ip}"
    if ip.is_private:
        return f"private address {ip}"
    if not ip.is_global or ip.is_multicast:
        return f"non-public address {ip}"
    return None


def outbound_url_problem(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> tuple[str, str] | None:
    """(code, message) when Tidings may not send to `url`, else None.

    Codes: ``invalid_url`` (not a well-formed http(s) URL), ``url_refused`` (not https, or a host
    that resolves to a non-public address), ``host_not_found`` (the name does not resolve; may be
    temporary). With `allow_private`, http and non-public hosts pass.
    """
    host = well_formed_host(url)
    if host is None:
        return "invalid_url", f"{url} is not a valid http(s) URL"
    if allow_private:
        return None
    if urlsplit(url).scheme.lower() != "https":
        return "url_refused", f"URLs must use https, not {url}"
    problem = address_problem(host, resolve or system_resolve)
    if problem == "not found":
        return "host_not_found", f"the host {host} was not found"
    if problem:
        return "url_refused", f"the host {host} is refused: {problem}"
    return None
