"""Loopback ports of local services: picking a free one, and a service's claim on its own."""
from __future__ import annotations

import os
import random
import socket
import tempfile
from pathlib import Path

from serving.flocks import try_flock

# Ray's workers bind ports 10002-19999 by default (`--min/max-worker-port`); above them and below the
# kernel's ephemeral range nothing binds a port it did not choose.
PICKED_FROM = 20_000
CLAIM_PREFIX = "creditrisk-serve-127.0.0.1-"
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (where every bind to port 0 lands)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port() -> int:
    """A loopback port free now and outside the kernel's ephemeral range.

    Why: a port taken from the ephemeral range (by binding port 0) is free only until some process
    binds port 0 again; a Ray start does that dozens of times before HAProxy or the metrics agent
    binds the port it was given, and one such start failed with "Address already in use".
    """
    low = ephemeral_low()
    for _ in range(100 if low - PICKED_FROM >= 1_000 else 0):
        port = random.randrange(PICKED_FROM, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a machine without such a gap
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortTaken(ValueError):
    """Another local service of this machine is starting or serving on the port."""


def claim_port(port: int) -> int:
    """This machine's claim on 127.0.0.1:`port` for one local service: an flock the kernel drops at death.

    Why: a listener already there is seen by `creditrisk serve`'s check, but Ray takes ~20 s to
    bind, and two services starting within that window both passed it; HAProxy binds with
    SO_REUSEPORT, so the bind refuses nothing, and the second service died later with a Ray
    traceback (or, where its start succeeds, would share the port's traffic).
    """
    path = Path(tempfile.gettempdir()) / f"{CLAIM_PREFIX}{port}.lock"
    fd = try_flock(path, create=True, mode=0o644)
    if fd is None:
        raise PortTaken(f"port {port} on 127.0.0.1 is taken by another creditrisk service on this machine, "
                        f"starting or serving (lock {path}); choose another with --port")
    sweep_claims(path.parent, keep=path)
    return fd


def sweep_claims(folder: Path, keep: Path) -> int:
    """Remove the claim files no live service holds (each stopped service leaves its own); returns how many.

    A file is removed only while this process holds its lock, and a service that opened it just
    before keeps a lock only if the name still leads to its file (`serving.flocks`), so a sweep never
    takes a port from a service that is starting.
    """
    removed = 0
    for stale in folder.glob(f"{CLAIM_PREFIX}*.lock"):
        if stale == keep:
            continue
        try:
            fd = try_flock(stale)
        except OSError:  # another user's claim, or gone: not ours to remove
            continue
        if fd is None:
            continue  # a live service's claim
        try:
            stale.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed
