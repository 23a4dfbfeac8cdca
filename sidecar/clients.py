"""Who a request comes from, for the per-client limits (docs/security.md, Abuse limits).

`request.client` is the TCP peer, or, when that peer is a proxy listed in
FORWARDED_ALLOW_IPS, the address it forwarded in X-Forwarded-For (uvicorn decides this with
the same setting: cli/main.py). An IPv6 client is counted by its /64, the block one
home or one server is usually given, so that rotating through it gains nothing.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request


def client_key(request: Request) -> str:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
