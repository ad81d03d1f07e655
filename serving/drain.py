"""A serving worker pod's preStop: Ray moves this node's replicas away, then their logs are waited for.

`python -m serving.drain` asks Ray to drain this node (`ray drain-node`, as its autoscaler does
before a preemption): Serve then starts replacement replicas elsewhere and stops these gracefully,
and each stopping replica ships its write-ahead log and removes its folder. The hook returns once
this node's folder under the shared root holds no unshipped row, or after `DRAIN_TIMEOUT_S`;
whatever is left then is adopted by a live replica on another node (`serving.adoption`). It never
fails the pod's stop: a preStop that fails only delays the SIGTERM.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# Serve's graceful stop (graceful_shutdown_timeout_s 40 s in deploy/) plus a ship; the pod's
# terminationGracePeriodSeconds must exceed it (tests/deploy checks).
DRAIN_TIMEOUT_S = 60.0


def unshipped_rows(folder: Path) -> int:
    """Rows in the segments anywhere under `folder`, e.g. one node's (0 when it has none)."""
    n = 0
    for seg in folder.rglob("*.jsonl") if folder.is_dir() else []:
        try:
            n += seg.read_bytes().count(b"\n")
        except OSError:
            continue  # shipped and removed while counted
    return n


def wait_shipped(folder: Path, timeout_s: float, poll_s: float = 1.0) -> int:
    """Wait until `folder` holds no unshipped row, at most `timeout_s`; returns the rows left."""
    deadline = time.monotonic() + timeout_s
    left = unshipped_rows(folder)
    while left and time.monotonic() < deadline:
        time.sleep(poll_s)
        left = unshipped_rows(folder)
    return left


def ask_ray_to_drain(deadline_s: float) -> str:
    """`ray drain-node` for this node (the local raylet's); Ray's answer, or why it could not ask."""
    address = os.environ.get("RAY_ADDRESS") or f"{os.environ.get('FQ_RAY_IP', '127.0.0.1')}:6379"
    cmd = [str(Path(sys.executable).parent / "ray"), "drain-node", "--address", address,
           "--reason", "DRAIN_NODE_REASON_PREEMPTION", "--reason-message", "pod stopping (preStop)",
           "--deadline-remaining-seconds", str(int(deadline_s))]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not ask Ray to drain: {exc}"
    return (done.stdout or done.stderr).strip()[-300:] or f"ray drain-node exited {done.returncode}"


def main() -> int:
    """Drain this node and wait for its log; always 0 (see the module docstring)."""
    from creditrisk.settings import get_settings

    settings = get_settings()
    folder = settings.wal_dir / settings.node  # CREDITRISK_WAL_DIR: the shared volume's mount
    print(f"drain {settings.node}: {ask_ray_to_drain(DRAIN_TIMEOUT_S)}", flush=True)
    left = wait_shipped(folder, DRAIN_TIMEOUT_S)
    print(f"drain {settings.node}: {left} unshipped row(s) left in {folder}"
          + (" for a live replica to adopt" if left else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
