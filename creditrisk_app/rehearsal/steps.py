"""The rehearsal's checked steps: the PASS/FAIL printer, the CLI as an operator runs it, and the
review by a second person (four eyes) of the candidate the loop started."""
from __future__ import annotations

import json
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


def four_eyes(env: dict[str, str], ids: Identities, version: str, steps: Steps) -> str:
    """The sensor's winner `version` waits under the approval policy: the trainer who started it
    (Dagster's identity) may not approve it, a reviewer may. Returns the approved version ('' if
    none was).

    It reviews the version the loop produced rather than one trained by hand for the purpose: the
    same refusal, without a second training run in the rehearsal."""
    trainer, reviewer = ids.trainer, ids.reviewers[0]
    reason = "rehearsal: the evidence holds"
    ok, line = cli({**env, **trainer.env()}, "approve", version, "--reason", reason)
    steps.check(f"{trainer.name} cannot approve v{version}, which it started (four eyes)",
                not ok and "cannot also approve" in line, line)
    show_swaps({**env, **reviewer.env()}, version, steps.out)
    ok, line = cli({**env, **reviewer.env()}, "approve", version, "--reason", reason)
    steps.check(f"v{version} approved by {reviewer.name} (a second person)", ok, line)
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
