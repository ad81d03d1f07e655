"""The rehearsal's checked steps: the PASS/FAIL printer, the CLI as an operator runs it, and the
review by two people (four eyes) of a candidate one of them started."""
from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable

from creditrisk_app.processes import BIN, REPO
from creditrisk_app.rehearsal.identities import Identities

Out = Callable[[str], None]


class Steps:
    """Prints one PASS/FAIL line per step, with its time; remembers whether all passed."""

    def __init__(self, out: Out) -> None:
        self.out, self.ok, self.t0 = out, True, time.monotonic()

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.ok = self.ok and passed
        self.out(f"[{time.monotonic() - self.t0:6.1f}s] {'PASS' if passed else 'FAIL'} {name}"
                 + (f": {detail}" if detail else ""))
        return passed


def cli(env: dict[str, str], *args: str) -> tuple[bool, str]:
    """`creditrisk ARGS` as an operator runs it: whether it succeeded, and its last line."""
    p = subprocess.run([str(BIN / "creditrisk"), *args], env=env, capture_output=True, text=True,
                       timeout=600, cwd=REPO)
    lines = (p.stdout if p.returncode == 0 else p.stderr).strip().splitlines()  # the result, or the error
    return p.returncode == 0, lines[-1][:300] if lines else ""


def four_eyes(env: dict[str, str], ids: Identities, as_of: str, steps: Steps) -> str:
    """The first reviewer trains a candidate by hand and evaluates it (the winner waits under the
    approval policy); that reviewer's approval is refused, the second reviewer's goes through.
    Returns the approved version ('' if none was)."""
    first, second = ids.reviewers
    as_first, as_second = {**env, **first.env()}, {**env, **second.env()}
    ok, line = cli(as_first, "candidate", "--as-of", as_of, "--reason",
                   "rehearsal: a reviewer retrains by hand on the labelled weeks")
    found = re.search(r"version (\d+) is the challenger", line)
    if not steps.check(f"{first.name} trains a candidate by hand", ok and found is not None, line):
        return ""
    version = found.group(1) if found else ""
    ok, line = cli(as_first, "evaluate", "--as-of", as_of)
    if not steps.check(f"{first.name} evaluates v{version}: awaiting approval",
                       ok and f"creditrisk approve {version}" in line, line):
        return ""
    reason = "rehearsal: the evidence holds"
    ok, line = cli(as_first, "approve", version, "--reason", reason)
    steps.check(f"{first.name} cannot approve v{version}, which they started (four eyes)",
                not ok and "cannot also approve" in line, line)
    show_swaps(as_second, version, steps.out)
    ok, line = cli(as_second, "approve", version, "--reason", reason)
    steps.check(f"approved by {second.name} (a second person)", ok, line)
    return version if ok else ""


def show_swaps(env: dict[str, str], version: str, out: Out) -> None:
    """Print the swap table of the waiting change `version` as `creditrisk status` shows it to the
    reviewer about to approve it, so the approval is given on whose decisions it changes."""
    p = subprocess.run([str(BIN / "creditrisk"), "status"], env=env, capture_output=True, text=True,
                       timeout=120, cwd=REPO)
    try:
        waiting = json.loads(p.stdout).get("waiting") or {}
    except json.JSONDecodeError:
        waiting = {}
    if str(waiting.get("version")) != version:
        out(f"         v{version}: `creditrisk status` shows no waiting change: {p.stderr.strip()[-200:]}")
        return
    out(f"         v{version} waits: {waiting.get('reason')}")
    for row in waiting.get("swap_table") or [str(waiting.get("swaps"))]:
        out(f"         {row}")
