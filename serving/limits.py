"""The per-client rate limit on POST /predict: a token bucket per client address, in each replica.

Whose address: the peer's, unless the peer is a trusted proxy (`RateLimit.trusted_proxies`): then the
last address in `X-Forwarded-For` that no trusted proxy added, read from the right, so a client's own
claim (left of what our proxies appended) is never believed. IPv6 clients are counted per /64, the
block one subscriber gets, else a client could take a fresh bucket with every address it owns.

Each replica keeps its own buckets, so with N replicas a client gets about N times the figure; the
ingress controller's limit (deploy/k8s/ingress.yaml) is the boundary a client meets first. The table
is bounded: a bucket idle until full again is dropped (a new one starts full, so nothing is lost),
and beyond `max_clients` at once the least recently seen go first, so a flood from many addresses
costs at most `max_clients` entries (~230 bytes each: 12 MB at the default 50,000) while a client
that keeps asking stays known. What an address is (its bucket, trusted proxy or not, exempt or not)
is worked out once and cached, at most 8,192 addresses per replica (~2 MB): parsing and network
tests are most of the check's cost, and peers (our proxies) and clients repeat.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send

from serving.config import RateLimit
from serving.errors import error_body, reply_json

log = logging.getLogger("ray.serve")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
LIMITED_PATHS = frozenset({"/predict"})  # the one anonymous route that scores and logs a decision
UNKNOWN, UNPARSEABLE = "unknown", "unparseable"
IPV6_BLOCK = 64
CACHED_ADDRESSES = 8192


class Peer(NamedTuple):
    """What the limit needs to know of one address, worked out once."""

    address: str
    key: str  # the bucket it counts against
    trusted: bool  # one of our proxies: its X-Forwarded-For is believed
    exempt: bool  # never limited


class TokenBuckets:
    """`burst` tokens per client key, refilled at `per_minute / 60` a second; the table is bounded."""

    def __init__(self, per_minute: float, burst: int, max_clients: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.refill_s = self.burst / self.rate  # a bucket idle this long is full: the same as none
        self._table: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: (tokens, at), oldest first
        self.evicted_early = 0  # buckets dropped before they were full (their clients start afresh)

    def __len__(self) -> int:
        return len(self._table)

    def take(self, key: str, now: float) -> float:
        """A token for `key`: 0.0 when granted, else the seconds until one is (a refusal costs none)."""
        entry = self._table.pop(key, None)
        tokens = self.burst if entry is None else min(self.burst, entry[0] + (now - entry[1]) * self.rate)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        self._table[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
        while self._table:  # entries are in order of last use: only the oldest can be full or too many
            oldest_at = next(iter(self._table.values()))[1]
            full = now - oldest_at >= self.refill_s
            if not full and len(self._table) <= self.max_clients:
                break
            self.evicted_early += not full
            self._table.popitem(last=False)
        return wait


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parsed networks ("10.0.0.0/8", "::1/128"; a bare address is its own network)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@functools.lru_cache(maxsize=CACHED_ADDRESSES)
def _address(text: str) -> Address | None:
    """An address from a peer or a forwarded entry (bare, "v4:port" or "[v6]:port"); None if not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return (address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else address


def _within(address: Address, nets: tuple[Network, ...]) -> bool:
    return any(address in net for net in nets)


def walk(scope: Scope, peer: Callable[[str], Peer | None]) -> Peer | str:
    """The client: the connection's peer, or behind trusted proxies the last address in
    `X-Forwarded-For` they did not add (read from the right); UNKNOWN / UNPARSEABLE when there is none."""
    client = scope.get("client")
    found = peer(str(client[0])) if client else None
    if found is None:
        return UNKNOWN
    if found.trusted:  # only then are the headers read: a direct client's claims are never looked at
        hops = [hop for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"
                for hop in value.decode("latin-1").split(",")]  # one header line per proxy, or one joined
        while found.trusted and hops:
            found = peer(hops.pop())
            if found is None:
                return UNPARSEABLE  # a trusted proxy writes addresses: this came from the client's side
    return found


def classify(text: str, trusted: tuple[Network, ...], exempt: tuple[Network, ...] = ()) -> Peer | None:
    """What `text` is to a limit with these networks, or None when it is not an address."""
    address = _address(text)
    if address is None:
        return None
    return Peer(str(address), _key(address), _within(address, trusted), _within(address, exempt))


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, or behind trusted proxies the last address they did not add."""
    found = walk(scope, lambda text: classify(text, trusted))
    return found if isinstance(found, str) else found.address


def _key(address: Address | str) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_BLOCK}", strict=False))
    return str(address)


def bucket_key(address: str) -> str:
    """The bucket an address counts against: itself, or its /64 for IPv6."""
    return _key(_address(address) or address)


def effective(limit: RateLimit, *, production: bool) -> bool:
    """Whether the limit is on: as configured, else on in production and off locally."""
    return production if limit.enabled is None else limit.enabled


def resolved(limit: RateLimit, *, production: bool) -> RateLimit:
    """The limit with `enabled` decided for this environment (what the middleware takes)."""
    return limit.model_copy(update={"enabled": effective(limit, production=production)})


def describe(limit: RateLimit, *, production: bool) -> str:
    """The limit in one line, for a service's start-up message."""
    if not effective(limit, production=production):
        return ("rate limit: off (the local default: set rate_limit.enabled, or `creditrisk serve "
                "--rate-limit N`, to turn it on)")
    return (f"rate limit: {limit.requests_per_minute:g} requests per minute per client, "
            f"{limit.burst} at once (per replica)")


def _route_path(scope: Scope) -> str:
    """The path inside the application (Serve's route prefix, if any, is the ASGI root_path)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class ClientRateLimit:
    """ASGI middleware: a client over its budget on a limited path gets 429 with Retry-After, before
    its body is read, so nothing of it is scored or logged; `limit.enabled` must be resolved."""

    def __init__(self, app: ASGIApp, limit: RateLimit, paths: frozenset[str] = LIMITED_PATHS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.limit, self.paths, self.clock = app, limit, paths, clock
        self.buckets = TokenBuckets(limit.requests_per_minute, limit.burst, limit.max_clients)
        self.trusted, self.exempt = networks(limit.trusted_proxies), networks(limit.exempt)
        self._peer = functools.lru_cache(maxsize=CACHED_ADDRESSES)(
            functools.partial(classify, trusted=self.trusted, exempt=self.exempt))
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.limit.enabled or scope["type"] != "http" or _route_path(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        who = walk(scope, self._peer)
        if not isinstance(who, str) and who.exempt:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(who if isinstance(who, str) else who.key, self.clock())
        if self.buckets.evicted_early and not self._warned:
            self._warned = True
            log.warning("rate limit: more than %d clients at once; the least recently seen restart with a "
                        "full burst (raise rate_limit.max_clients, or limit at the ingress)",
                        self.limit.max_clients)
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        message = (f"too many requests from this client: at most {self.limit.requests_per_minute:g} per "
                   f"minute per client, {self.limit.burst} at once; retry after {retry_after} s")
        await reply_json(send, 429, error_body("rate_limited", message),
                         [(b"retry-after", str(retry_after).encode())])
