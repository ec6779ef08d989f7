"""Where a webhook may go: no server-side request forgery.

A URL names a host; the addresses the host resolves to decide. Only public addresses are
allowed: loopback, private, link-local (the cloud's metadata service, ``169.254.169.254`` and
``fd00:ec2::254``, among them), shared (carrier-grade NAT), multicast, reserved and unspecified
addresses are refused, and so is an IPv6 address that carries a refused IPv4 address inside it
(IPv4-mapped, 6to4, NAT64) or tunnels to one (Teredo). A host that resolves to several
addresses passes only if every one of them does.

The check runs when an endpoint is subscribed (a refusal answers 422) and again at every
attempt with a fresh lookup; the attempt then connects to an address that passed this very
check (``sender``), never to the name, so a name that resolves elsewhere a moment later (DNS
rebinding) changes nothing.

``https`` only, on any port. The local stack's setting (``WEBHOOKS_ALLOW_LOOPBACK``) also allows
this machine's own loopback addresses (``127.0.0.0/8``, ``::1``, ``localhost``), over ``http``
too, and nothing more: private and metadata addresses stay refused.
"""

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from coaching.events.webhooks.rules import MAX_URL_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], list[str]]
"""A host name and port to the addresses they resolve to (``getaddrinfo`` by default)."""

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The URL may not receive webhooks: ``code`` for delivery records, ``reason`` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Url:
    """A webhook URL taken apart: what the request is sent to and what it asks for."""

    scheme: str
    host: str
    """The host name or address as written (lower case; an IPv6 address without brackets)."""
    port: int
    target: str
    """The path and query, as the request line sends them."""


@dataclass(frozen=True)
class Destination:
    url: Url
    addresses: tuple[str, ...]
    """Every address the host resolved to, all of them allowed, IPv4 first."""


def system_lookup(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now (an address written as one resolves to itself)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


def parse(text: str, *, allow_loopback: bool = False) -> Url:
    """The URL's parts, or ``Refused`` naming what is wrong with it (nothing is looked up)."""
    _refuse_unprintable(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise Refused("URL_NOT_ALLOWED", "is not a valid URL") from error
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_loopback else ("https",)
    if scheme not in allowed:
        raise Refused("URL_NOT_ALLOWED", "must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise Refused("URL_NOT_ALLOWED", "must not carry a user name or password")
    if parts.fragment or text.endswith("#"):
        raise Refused("URL_NOT_ALLOWED", "must not have a fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("URL_NOT_ALLOWED", "must name a host")
    if _address(host) is None and not _is_host_name(host):
        raise Refused("URL_NOT_ALLOWED", "must name a host by a DNS name or an IP address")
    if port == 0:
        raise Refused("URL_NOT_ALLOWED", "must not name port 0")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Url(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), target=target
    )


def _refuse_unprintable(text: str) -> None:
    """A URL is short, plain ASCII text, without spaces or control characters."""
    if len(text) > MAX_URL_LENGTH:
        raise Refused("URL_NOT_ALLOWED", f"must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text) or not text.isascii():
        raise Refused("URL_NOT_ALLOWED", "must be ASCII, without spaces or control characters")


def destination(
    text: str, *, allow_loopback: bool = False, lookup: Lookup | None = None
) -> Destination:
    """Where a request to ``text`` may go now: its host resolved (afresh, by ``lookup``, the
    system's resolver by default) and every address checked; ``Refused`` when any is not
    allowed or the host does not resolve."""
    url = parse(text, allow_loopback=allow_loopback)
    resolve = lookup or system_lookup
    try:
        resolved = [_address(a) for a in resolve(url.host, url.port)]
    except (OSError, UnicodeError) as error:  # socket.gaierror among them
        raise Refused("DNS_FAILED", "must name a host that resolves") from error
    # An IPv4 address written as IPv6 (::ffff:a.b.c.d) is that IPv4 address, and is connected
    # to as one.
    found = [_unmapped(a) for a in resolved if a is not None]
    if not found or len(found) != len(resolved):
        raise Refused("DNS_FAILED", "must name a host that resolves")
    loopback = [a for a in found if is_loopback(a)]
    if loopback and not allow_loopback:
        raise Refused("ADDRESS_NOT_ALLOWED", "must not point at a loopback address")
    if any(not is_public(a) and not is_loopback(a) for a in found):
        raise Refused(
            "ADDRESS_NOT_ALLOWED",
            "must point at public addresses only (not private, link-local or metadata ones)",
        )
    if url.scheme == "http" and len(loopback) != len(found):
        raise Refused("URL_NOT_ALLOWED", "must be an https URL")
    ordered = sorted(dict.fromkeys(found), key=lambda a: a.version)  # IPv4 first, stable
    return Destination(url=url, addresses=tuple(str(a) for a in ordered))


def is_public(address: IPAddress) -> bool:
    """A globally reachable unicast address, judged by what it carries inside when it is an
    IPv6 form of an IPv4 address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    if isinstance(address, ipaddress.IPv6Address) and address.teredo is not None:
        return False
    return address.is_global and not address.is_multicast


def is_loopback(address: IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    return (embedded or address).is_loopback


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_host_name(host: str) -> bool:
    name = host.removesuffix(".")
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))
