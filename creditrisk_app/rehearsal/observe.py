"""The rehearsal's Prometheus checks: what an on-call engineer would see, asked of a real Prometheus
that scrapes both Ray nodes' metrics agents and the pushgateway the weekly runs push to."""
from __future__ import annotations

import json
import time
from collections.abc import Callable

from creditrisk_app.observability import firing, query, value
from creditrisk_app.processes import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "creditrisk.json"
# Ray reports every RAY_metrics_report_interval_ms (2 s in the rehearsal), Prometheus scrapes and
# evaluates every 2 s: a figure shows within seconds, and this bounds the wait for one.
WAIT_S = 45.0
ALERT = "CreditriskDrift"


def _until(probe: Callable[[], tuple[bool, str]], timeout_s: float = WAIT_S) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ok, detail = probe()
        except OSError as exc:  # Prometheus busy or restarting: ask again
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if ok or time.monotonic() > deadline:
            return ok, detail
        time.sleep(1)


def decisions_counted(prometheus: str, sent: int) -> tuple[bool, str]:
    """The replicas' decision counters, summed by Prometheus, equal the requests answered."""
    def probe() -> tuple[bool, str]:
        counted = value(prometheus, "sum(creditrisk_decisions_total)")
        return counted == sent, f"sum(creditrisk_decisions_total) = {counted} for {sent} answers"
    return _until(probe)


def served_version(prometheus: str, version: str, replicas: int) -> tuple[bool, str]:
    """Each of the `replicas` replicas' served-version gauge shows `version`, as does the audited champion."""
    def probe() -> tuple[bool, str]:
        served = {r["metric"].get("replica", "?"): r["value"][1]
                  for r in query(prometheus, "creditrisk_served_model_version")}
        audited = {r["value"][1] for r in query(prometheus, "creditrisk_audited_champion_version")}
        up = {r["metric"].get("instance", "?"): r["value"][1] for r in query(prometheus, 'up{job="ray"}')}
        ok = len(served) == replicas and set(served.values()) == {version} and audited == {version}
        return ok, (f"served {sorted(served.values())} on {len(served)} of {replicas} replicas, audited "
                    f"{sorted(audited)}; scraped agents up: {up}")
    return _until(probe)


def drift_alert(prometheus: str, week: str, drifted: bool) -> tuple[bool, str]:
    """CreditriskDrift fires for a week the report flagged, and not for one it did not."""
    def probe() -> tuple[bool, str]:
        pushed = query(prometheus, f'creditrisk_dataset_drift{{week="{week}"}}')
        on = [a for a in firing(prometheus) if (a.get("alertname"), a.get("week")) == (ALERT, week)]
        shown = pushed[0]["value"][1] if pushed else "not pushed"
        return bool(pushed) and bool(on) == drifted, (f"week {week}: creditrisk_dataset_drift {shown}, "
                                                      f"CreditriskDrift {'firing' if on else 'not firing'}")
    return _until(probe, 30.0 if drifted else 10.0)


def dead_panels(prometheus: str) -> tuple[bool, str]:
    """Every query of the Grafana dashboard returns data here: no panel of it is dead."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [(p["title"], t["expr"]) for p in panels if p["type"] != "row" for t in p["targets"]]
    dead = [f"{title}: {expr}" for title, expr in queries if not query(prometheus, expr)]
    return not dead, f"{len(queries) - len(dead)} of {len(queries)} queries return data" + (
        f"; dead: {'; '.join(dead)[:400]}" if dead else "")
