"""Picking a loopback port for a local server: free, and not one a later bind to port 0 can take."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import ports


def test_a_picked_port_is_free_and_below_the_kernels_ephemeral_range() -> None:
    """Ray binds port 0 dozens of times while it starts; a port from that range could be taken
    between the pick and HAProxy's or the metrics agent's bind ("Address already in use")."""
    low = ports.ephemeral_low()
    picked = {ports.free_port() for _ in range(50)}
    assert all(ports.PICKED_FROM <= p < low for p in picked), sorted(picked)
    for port in picked:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))  # free when picked


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        candidates: Iterator[int] = iter([busy, ports.PICKED_FROM + 7])
        monkeypatch.setattr(ports.random, "randrange", lambda a, b: next(candidates))
        monkeypatch.setattr(ports, "ephemeral_low", lambda: 60_000)
        assert ports.free_port() == ports.PICKED_FROM + 7


def test_without_a_gap_below_the_ephemeral_range_it_falls_back_to_the_kernels_choice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = tmp_path / "ip_local_port_range"
    narrow.write_text("20500\t60999\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", narrow)
    assert ports.ephemeral_low() == 20_500
    assert ports.free_port() >= 1024


def test_a_claim_sweeps_the_files_of_stopped_services_and_keeps_live_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stopped service left its 0-byte claim file behind, one per port it ever used."""
    monkeypatch.setattr(ports.tempfile, "gettempdir", lambda: str(tmp_path))
    stale = [tmp_path / f"{ports.CLAIM_PREFIX}{p}.lock" for p in (21001, 21002, 21003)]
    for path in stale:
        path.touch()
    live = ports.claim_port(21004)  # a service still serving holds its claim
    other = tmp_path / "unrelated.lock"
    other.touch()
    try:
        mine = ports.claim_port(21005)
        try:
            left = sorted(p.name for p in tmp_path.iterdir())
            assert left == [f"{ports.CLAIM_PREFIX}21004.lock", f"{ports.CLAIM_PREFIX}21005.lock",
                            "unrelated.lock"]
            with pytest.raises(ports.PortTaken):  # the live claim still holds after the sweep
                ports.claim_port(21004)
        finally:
            os.close(mine)
    finally:
        os.close(live)
