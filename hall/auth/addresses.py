"""The client's address, which the login throttle and the code limits count by.

``X-Forwarded-For`` is anyone's to write: it is believed only when the peer that sent it is a
proxy named in ``HALL_TRUSTED_PROXIES``, and then read from the right, past the trusted proxies'
own entries, to the first address none of them is: the one the outermost trusted proxy saw.
Entries left of that are the client's own claims and never count. (uvicorn's own reading of the
header is switched off in ``hall.config.uvicorn_settings``: it trusts the loopback by default,
which gave a client on the same host a fresh counter per request.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS: Final = 16
"""Entries of the header looked at, from the right: the work one request causes is bounded."""


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16, ::1"`` as networks; ValueError naming a bad entry."""
    found = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"HALL_TRUSTED_PROXIES: {entry!r} is not an address or network") from None
    return tuple(found)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The address to count a request by: the peer's, unless the peer is a trusted proxy
    (see the module docstring). ``forwarded_for`` is every ``X-Forwarded-For`` header, in order."""
    current = _address(peer or "")
    if current is None:
        return peer or "?"
    if not trusted or not any(current in net for net in trusted):
        return str(current)
    hops = [hop for header in forwarded_for for hop in header.split(",")][-MAX_HOPS:]
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:  # not written by a trusted proxy: stop at the last one that was
            break
        current = found
        if not any(current in net for net in trusted):
            break
    return str(current)
