"""The per-client rate limit in-process (serving/limits.py): the bucket arithmetic, its bounded
table, whose address a request is counted against, and the 429 the middleware answers."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from serving.config import RateLimit, ServiceArgs
from serving.limits import (
    ClientRateLimit,
    TokenBuckets,
    bucket_key,
    client_address,
    describe,
    effective,
    networks,
    walk,
)

LOCAL = ["127.0.0.1/32"]


def test_a_bucket_grants_its_burst_then_one_token_per_interval_and_says_when() -> None:
    buckets = TokenBuckets(per_minute=60, burst=3, max_clients=10)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(1.0)  # the next token in one second
    assert buckets.take("a", 0.5) == pytest.approx(0.5)  # a refused request costs nothing
    assert buckets.take("a", 1.0) == 0.0
    assert buckets.take("b", 1.0) == 0.0  # another client has its own bucket
    assert buckets.take("a", 60.0) == 0.0 and buckets.take("a", 60.0) == 0.0  # refilled, never above burst
    assert buckets.take("a", 60.0) == 0.0 and buckets.take("a", 60.0) > 0


def test_the_table_is_bounded_whatever_the_number_of_addresses() -> None:
    import tracemalloc

    buckets = TokenBuckets(per_minute=30, burst=10, max_clients=1_000)  # refilled after 20 s idle
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10_000):  # a flood from ten times as many addresses as the table holds, at once
            buckets.take(f"10.0.{i // 256}.{i % 256}", 0.0)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(buckets) == 1_000 and buckets.evicted_early == 9_000
    assert grown < 1_000 * 300  # bytes: what 1,000 buckets take (~230 each), not 10,000
    buckets.take("192.0.2.1", 21.0)  # every other bucket has refilled: dropping them loses nothing
    assert len(buckets) == 1 and buckets.evicted_early == 9_000


def test_a_throttled_client_that_keeps_asking_stays_throttled_through_a_larger_flood() -> None:
    buckets = TokenBuckets(per_minute=6, burst=2, max_clients=1_000)
    for _ in range(2):
        buckets.take("attacker", 0.0)
    for i in range(5_000):  # its own requests keep its bucket among the most recent 1,000
        buckets.take(f"flood-{i}", 0.1)
        if i % 500 == 0:
            assert buckets.take("attacker", 0.1) > 0
    assert len(buckets) == 1_000


def _scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return {"type": "http", "client": None if peer is None else (peer, 5000), "headers": headers}


@pytest.mark.parametrize("peer,forwarded,trusted,expected", [
    ("203.0.113.5", ["198.51.100.1"], LOCAL, "203.0.113.5"),  # an untrusted peer's header is ignored
    ("127.0.0.1", ["198.51.100.1"], LOCAL, "198.51.100.1"),   # our proxy says who it saw
    ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], LOCAL, "198.51.100.1"),  # a claim left of it is not believed
    ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], LOCAL, "198.51.100.1"),  # one header line per hop
    ("10.4.0.9", ["198.51.100.1, 10.4.0.7"], ["10.4.0.0/16"], "198.51.100.1"),  # two proxies in the pod range
    ("127.0.0.1", ["127.0.0.1"], LOCAL, "127.0.0.1"),  # only proxies: the first of them
    ("127.0.0.1", [], LOCAL, "127.0.0.1"),
    ("127.0.0.1", ["not-an-address"], LOCAL, "unparseable"),
    ("127.0.0.1", ["[2001:db8::1]:443"], LOCAL, "2001:db8::1"),
    (None, ["198.51.100.1"], LOCAL, "unknown"),  # no peer address (not a TCP connection)
])
def test_the_client_address_comes_from_trusted_proxies_only(peer: str | None, forwarded: list[str],
                                                            trusted: list[str], expected: str) -> None:
    assert client_address(_scope(peer, *forwarded), networks(trusted)) == expected


def test_ipv6_clients_share_a_bucket_per_64_and_ipv4_per_address() -> None:
    assert bucket_key("2001:db8:1:2:aaaa::1") == bucket_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert bucket_key("198.51.100.1") != bucket_key("198.51.100.2")
    assert bucket_key("::ffff:198.51.100.1") == "198.51.100.1"


def _app(limit: RateLimit) -> Any:
    api = FastAPI()

    @api.post("/predict")
    async def predict() -> dict[str, str]:
        return {"decision": "pre-approved"}

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return ClientRateLimit(api, limit)


def _statuses(app: Any, peer: str, n: int, path: str = "/predict") -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=(peer, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [await (c.post(path) if path == "/predict" else c.get(path)) for _ in range(n)]
    return asyncio.run(go())


def test_the_middleware_answers_429_with_retry_after_only_on_predict_and_not_for_exempt_networks() -> None:
    app = _app(RateLimit(enabled=True, requests_per_minute=2, burst=2, exempt=["10.8.0.0/16"]))
    got = _statuses(app, "198.51.100.7", 3)
    assert [r.status_code for r in got] == [200, 200, 429]
    assert got[2].json() == {"error": "rate_limited", "message": "too many requests from this client: "
                             "at most 2 per minute per client, 2 at once; retry after 30 s"}
    assert got[2].headers["retry-after"] == "30"
    assert [r.status_code for r in _statuses(app, "198.51.100.7", 3, "/healthz")] == [200] * 3
    assert [r.status_code for r in _statuses(app, "10.8.3.4", 5)] == [200] * 5
    off = _app(RateLimit(enabled=False, requests_per_minute=2, burst=2))
    assert [r.status_code for r in _statuses(off, "198.51.100.7", 5)] == [200] * 5


def test_each_middleware_judges_a_cached_address_by_its_own_networks() -> None:
    """The address cache is per limit: one that trusts the proxy reads its header, one that does not
    counts the proxy itself, and an address exempt in one is limited in the other."""
    proxied = {"type": "http", "client": ("127.0.0.1", 1), "headers": [(b"x-forwarded-for", b"198.51.100.9")]}
    trusting = _app(RateLimit(enabled=True, requests_per_minute=60, burst=1, exempt=["10.8.0.0/16"]))
    wary = _app(RateLimit(enabled=True, requests_per_minute=60, burst=1, trusted_proxies=[]))
    for _ in range(2):  # the second time from the cache
        assert walk(proxied, trusting._peer).key == "198.51.100.9"
        assert walk(proxied, wary._peer).key == "127.0.0.1"
    assert [r.status_code for r in _statuses(trusting, "10.8.3.4", 3)] == [200] * 3
    assert [r.status_code for r in _statuses(wary, "10.8.3.4", 3)] == [200, 429, 429]


def test_limits_are_on_in_production_and_off_locally_unless_configured() -> None:
    assert effective(RateLimit(), production=True) and not effective(RateLimit(), production=False)
    assert effective(RateLimit(enabled=True), production=False)
    assert not effective(RateLimit(enabled=False), production=True)
    assert describe(RateLimit(), production=False).startswith("rate limit: off")
    assert describe(RateLimit(requests_per_minute=30, burst=10), production=True) == \
        "rate limit: 30 requests per minute per client, 10 at once (per replica)"


def test_a_bad_network_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="rate_limit.trusted_proxies"):
        ServiceArgs(rate_limit={"trusted_proxies": ["10.0.0.0/33"]})


def test_the_loopback_wrapper_makes_haproxy_forward_the_client_address(tmp_path: Any) -> None:
    """Ray's template sends no X-Forwarded-For; the wrapper adds it once, and HAProxy accepts the file."""
    import subprocess

    from serving.runtime import fast_path_env, free_port

    wrapper = fast_path_env(tmp_path)["RAY_SERVE_HAPROXY_BINARY_PATH"]
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind :{free_port()}
    http-request use-service prometheus-exporter if {{ path /metrics }}
frontend http_frontend
    bind 127.0.0.1:{free_port()}
    default_backend replicas
backend replicas
    server r1 127.0.0.1:{free_port()}
""")
    for _ in range(2):  # a reload runs the wrapper on the file again
        checked = subprocess.run([wrapper, "-c", "-f", str(config)], capture_output=True, text=True,
                                 timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    text = config.read_text()
    assert text.count("option forwardfor") == 1
    assert "frontend http_frontend\n    option forwardfor\n" in text
    assert "bind 127.0.0.1:" in text.split("frontend prometheus")[1]  # the listener rewrite still runs
