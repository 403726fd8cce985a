"""The rule for outbound URLs Tidings fetches or posts to on a user's behalf (media, link checks,
notifications, webhooks, CRM URLs): well-formed, https, and resolving only to public addresses, so a
user cannot make Tidings reach a private, loopback, link-local, shared (CGNAT), multicast or reserved
address (cloud metadata, internal services). The local runtime turns this off with the
``allow_private_links`` setting, all but for its own services: a non-public address on one of the
``local_runtime_ports`` (DynamoDB Local, moto, the lambda host, the API; `tidings dev` sets them) is
refused even then, so a webhook cannot write to the table or invoke a function with a forged event.

Hosts are read as the resolver would read them: an IPv4 literal in decimal, octal or hex, whole or in
parts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) is that address, and an IPv6 address that carries
an IPv4 one (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is judged
by the IPv4 address as well. Problems name the kind of address, never the address a name resolved to.

This module only decides; `tidings.core.fetch` applies the rule at the moment of connecting (to the
very address it checked), on every redirect hop.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

# Resolves a host name to its IP addresses (socket.getaddrinfo by default; tests pass a fake).
Resolver = Callable[[str], list[str]]

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_NAMES = ("localhost", "metadata", "metadata.google.internal")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
RUNTIME_PORT = "port of the local runtime"


def system_resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def local_runtime_ports() -> frozenset[int]:
    """The ports of the local runtime's own services (the `local_runtime_ports` setting; empty on AWS)."""
    from tidings.core.config import get_settings

    return frozenset(get_settings().local_runtime_ports)


def url_problem(
    url: str,
    *,
    allow_private: bool,
    resolve: Resolver | None = None,
    denied_ports: Collection[int] | None = None,
) -> str | None:
    """Why `url` may not be fetched: "malformed", "not found" (the host does not resolve) or the kind
    of non-public address it points to; None when it may be. `denied_ports`: the local runtime's
    ports (None: the setting's)."""
    host = well_formed_host(url)
    if host is None:
        return "malformed"
    if allow_private:
        return _runtime_port_problem(url, host, resolve or system_resolve, denied_ports)
    return address_problem(host, resolve or system_resolve)


def _runtime_port_problem(
    url: str, host: str, resolve: Resolver, denied_ports: Collection[int] | None
) -> str | None:
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
    try:
        resolve_private(host, port, resolve, denied_ports)
    except LookupError:
        return None  # private links may name hosts this machine cannot resolve; the fetch says so
    except ValueError as exc:
        return str(exc)
    return None


def resolve_private(
    host: str, port: int, resolve: Resolver, denied_ports: Collection[int] | None = None
) -> list[str]:
    """With private links allowed, what to connect to for `host` on `port`: `host` itself on any port
    but the local runtime's (`denied_ports`; None: the setting's). On one of those, the addresses it
    resolves to, all public, or ValueError (a "port of the local runtime"): the runtime's services
    listen on this machine, and a non-public address may lead to it (0.0.0.0 reaches 127.0.0.1).
    LookupError when the name does not resolve."""
    denied = local_runtime_ports() if denied_ports is None else denied_ports
    if port not in denied:
        return [host]
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        raise ValueError(RUNTIME_PORT)
    literal = _ip(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(name)
        except (OSError, UnicodeError):
            raise LookupError(host) from None
    if not addresses:
        raise LookupError(host)
    checked = [_ip(address) for address in addresses]
    if any(ip is None or _non_public(ip) is not None for ip in checked):
        raise ValueError(RUNTIME_PORT)
    return [str(ip) for ip in checked]


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
        return "local host name"
    try:
        resolved = resolve_public(name, resolve)
    except LookupError:
        return "not found"
    except ValueError as exc:
        return str(exc)
    return None if resolved else "not found"


def resolve_public(host: str, resolve: Resolver) -> list[str]:
    """The addresses `host` (a name or a literal) stands for, each one public. Raises LookupError when
    the name does not resolve and ValueError (the kind of address) when any address is not public:
    one bad answer refuses the host, whichever of them a connection would have used."""
    literal = _ip(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host.lower().rstrip("."))
        except (OSError, UnicodeError):
            raise LookupError(host) from None
    if not addresses:
        raise LookupError(host)
    for address in addresses:
        ip = _ip(address)
        problem = _non_public(ip) if ip is not None else "unusable address"
        if problem:
            raise ValueError(problem)
    return [str(_ip(address)) for address in addresses]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return _legacy_ipv4(text)


def _legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written as inet_aton (and the WHATWG URL parser) read it: one to four parts,
    each decimal, octal (leading 0) or hex (0x), the last part filling the remaining bytes."""
    parts = text.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            elif part.isdigit():
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _non_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The kind of address `ip` is when it is not public (None when it is); an IPv6 address that
    carries an IPv4 one is judged by both."""
    if isinstance(ip, ipaddress.IPv6Address) and not (ip.is_loopback or ip.is_unspecified):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            problem = _non_public(embedded)
            if problem:
                return problem
            if ip.ipv4_mapped is not None or ip in _NAT64:
                return None  # the IPv4 address is what is reached
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if not ip.is_global or ip.is_reserved:
        return "non-public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def outbound_url_problem(
    url: str,
    *,
    allow_private: bool,
    resolve: Resolver | None = None,
    denied_ports: Collection[int] | None = None,
) -> tuple[str, str] | None:
    """(code, message) when Tidings may not send to `url`, else None.

    Codes: ``invalid_url`` (not a well-formed http(s) URL), ``url_refused`` (not https, or a host
    that resolves to a non-public address), ``host_not_found`` (the name does not resolve; may be
    temporary). With `allow_private`, http and non-public hosts pass, except on the local runtime's
    ports (`denied_ports`; None: the setting's).
    """
    host = well_formed_host(url)
    if host is None:
        return "invalid_url", f"{url} is not a valid http(s) URL"
    if allow_private:
        problem = _runtime_port_problem(url, host, resolve or system_resolve, denied_ports)
        return ("url_refused", f"the URL is refused ({problem})") if problem else None
    if urlsplit(url).scheme.lower() != "https":
        return "url_refused", f"URLs must use https, not {url}"
    problem = address_problem(host, resolve or system_resolve)
    if problem == "not found":
        return "host_not_found", f"the host {host} was not found"
    if problem:
        return "url_refused", f"the host {host} is refused ({problem})"
    return None
