"""The node-death drill: steady /predict load, every process of the worker node killed at once, then
every answer counted in the request store.

What it shows: the surviving node keeps answering, and what the dead node had answered but not
shipped yet reaches the store anyway (a live replica adopts its log from the shared root). The
dead node's requests in flight fail: they were not answered, so they need not be logged.

The load reaches both nodes as KubeRay's serve Service spreads it over the worker pods: half the
senders through the HTTP entry, half straight to the worker's replicas (the rehearsal's head
HAProxy cannot reach them: they listen on 127.0.0.1, their node's address is 127.0.0.3). Each
request opens its own connection, so a refused connection means the request never left: that
sender then moves to the entry, as the Service drops a dead endpoint, and sends it there.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.base import RequestStore
from serving.drain import unshipped_rows

# Steady load before and after the kill, and how long every answer may take to reach the store.
LOAD_BEFORE_S, LOAD_AFTER_S, STORE_DEADLINE_S = 3.0, 5.0, 120.0
SENDERS = 4  # concurrent clients: at most this many requests are in flight at the kill


@dataclass
class Sent:
    """One request of the load: when it left and came back, and its answer."""

    started: float
    ended: float
    request_id: str | None  # set when answered 200
    error: str | None = None


@dataclass
class SteadyLoad:
    """`SENDERS` threads each sending /predict one after another, stamped on the drill's own day."""

    url: str
    token: str
    day: datetime
    endpoints: list[str]  # the worker node's own (half the senders start there)
    sent: list[Sent] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _n: int = 0

    def start(self) -> SteadyLoad:
        firsts = [self.endpoints[i // 2 % len(self.endpoints)] if i % 2 and self.endpoints else self.url
                  for i in range(SENDERS)]
        self._threads = [threading.Thread(target=self._send, args=(first,), daemon=True) for first in firsts]
        for t in self._threads:
            t.start()
        return self

    def _stamp(self) -> str:
        with self._lock:
            self._n += 1
            return (self.day + timedelta(milliseconds=10 * self._n)).isoformat()

    def _send(self, target: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        fresh = httpx.Limits(max_keepalive_connections=0)  # a connection per request (see the docstring)
        with httpx.Client(timeout=30.0, headers=headers, limits=fresh) as client:
            while not self._stop.is_set():
                t0, stamp = time.monotonic(), self._stamp()
                try:
                    r = client.post(f"{target}/predict", json=EXAMPLE_APPLICANT,
                                    headers={"X-Request-Time": stamp})
                    ok = r.status_code == 200
                    one = Sent(t0, time.monotonic(), r.json()["request_id"] if ok else None,
                               None if ok else f"{r.status_code}: {r.text[:120]}")
                except httpx.ConnectError as exc:
                    if target != self.url:  # never left: the endpoint is gone, the entry takes it
                        target = self.url
                        continue
                    one = Sent(t0, time.monotonic(), None, repr(exc)[:160])
                except httpx.HTTPError as exc:
                    one = Sent(t0, time.monotonic(), None, repr(exc)[:160])
                with self._lock:
                    self.sent.append(one)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def answered(self) -> list[str]:
        return [s.request_id for s in self.sent if s.request_id]

    def failed(self) -> list[Sent]:
        return [s for s in self.sent if s.request_id is None]

    def in_flight(self, at: float) -> int:
        return sum(1 for s in self.sent if s.started <= at < s.ended)

    def answered_after(self, at: float) -> int:
        return sum(1 for s in self.sent if s.request_id and s.started > at)


def log_rows(folders: list[Path]) -> int:
    """Rows in the write-ahead segments under `folders` (what a node has not shipped yet)."""
    return sum(unshipped_rows(folder) for folder in folders)


def node_death(url: str, token: str, day: datetime, endpoints: list[str],
               kill: Callable[[Callable[[], int]], tuple[int, int]], store: RequestStore,
               node_logs: list[Path]) -> tuple[bool, str]:
    """Kill the node under steady load (`kill(count)`: how many processes, and `count()` while the
    node is frozen); whether the drill passed, and its figures."""
    load = SteadyLoad(url, token, day, endpoints).start()
    try:
        time.sleep(LOAD_BEFORE_S)
        killed_at = time.monotonic()
        killed, on_disk = kill(lambda: log_rows(node_logs))  # its unshipped rows, counted frozen
        time.sleep(LOAD_AFTER_S)
    finally:
        load.stop()
    answered, failed = load.answered(), load.failed()
    stored: set[str] = set()
    while True:
        stored = store.known_request_ids(answered)
        full_after = time.monotonic() - killed_at
        if len(stored) == len(answered) or full_after > STORE_DEADLINE_S:
            break
        time.sleep(1.0)
    in_flight, after = load.in_flight(killed_at), load.answered_after(killed_at)
    # and the drill had something to prove: rows the dead node had not shipped, traffic on both nodes
    passed = (len(stored) == len(answered) and len(failed) <= in_flight and after > 0 and on_disk > 0
              and bool(endpoints))
    errors = sorted({(f.error or "")[:60] for f in failed})[:2]
    figures = (f"answered {len(answered)} ({after} after the kill), stored {len(stored)}, failed "
               f"{len(failed)} (in flight at the kill {in_flight}), time to full "
               + (f"{full_after:.1f} s" if len(stored) == len(answered) else f"> {STORE_DEADLINE_S:.0f} s")
               + f"; {killed} processes killed, {on_disk} rows on the dead node's log, "
               f"{len(endpoints)} worker endpoint(s)"
               + (f"; errors {errors}" if errors else ""))
    return passed, figures
