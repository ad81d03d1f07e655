"""The replica's own Prometheus series, exported through Ray's metrics path (`ray.serve.metrics`).

Each Ray node's metrics agent serves every replica's series on its `--metrics-export-port`, with the
replica's id as a label, so Prometheus aggregates across replicas instead of seeing whichever
replica a scrape through the load balancer reached. Ray prefixes every name with `ray_` and gives
counters a `_total` suffix: `creditrisk_decisions` is scraped as `ray_creditrisk_decisions_total`,
and the scrape config relabels `ray_creditrisk_(.*)` to `creditrisk_$1` (README, "Metrics and
alerts"). Ray reports to its agent every `RAY_metrics_report_interval_ms` (10 s by default).

A decision is counted in plain Python on the request path and handed to Ray on the log shipper's
once-a-second pass (`shipper_pass`, which also sets the oldest unshipped row's age) and at each
sample: Ray's record call checks and merges tags on every call, which would otherwise be paid per
request, while Ray exports only every report interval anyway. Outcomes are counted as they are
stored. Everything else is sampled from the parts' own figures (`sample`, called from the
deployment's `check_health`, so every `health_check_period_s`): the parts keep plain totals and know
nothing of Ray, and a counter here moves by what a total grew since the last sample.
"""
from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Mapping
from typing import Any, Protocol

DECISIONS = ("pre-approved", "denied")  # the answer's `decision`
# Probability-of-default buckets: fine where the served thresholds and most applicants lie (below
# 0.5), coarse above, where every applicant is denied whatever the exact figure.
PD_BUCKETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9)
# Part totals exported as counters: (attribute on the sample's totals, metric name, description).
TOTALS = (("ship_failures", "creditrisk_store_shipment_failures",
           "request-log segments the store failed to take (kept on disk and retried)"),
          ("model_swaps", "creditrisk_model_reloads", "new model versions swapped in while serving"),
          ("load_refusals", "creditrisk_model_load_refusals",
           "versions refused at load (failed validation, a digest mismatch, unreadable files)"),
          ("alerts_undelivered", "creditrisk_alerts_undelivered",
           "alerts the webhook did not take after its retries (they are in the log)"))


class _Counter(Protocol):
    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None: ...


class ReplicaMetrics:
    """Counters, a histogram and gauges of one replica, registered with Ray when built in a replica."""

    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Gauge, Histogram

        self.decisions = Counter("creditrisk_decisions", description="/predict answers logged, by decision",
                                 tag_keys=("decision", "model_version"))
        self.outcomes = Counter("creditrisk_outcomes_recorded",
                                description="loan outcomes accepted by /outcomes and /outcomes/batch")
        self.probability = Histogram("creditrisk_probability_of_default", boundaries=list(PD_BUCKETS),
                                     description="probability of default of each answered applicant")
        self.totals: dict[str, _Counter] = {attr: Counter(name, description=text)
                                            for attr, name, text in TOTALS}
        self.gauges = {
            "served": Gauge("creditrisk_served_model_version",
                            description="the version this replica answers with"),
            "audited": Gauge("creditrisk_audited_champion_version",
                             description="the version the verified trail names @champion, as last read"),
            "backlog_rows": Gauge("creditrisk_request_log_backlog_rows",
                                  description="decisions on disk not yet confirmed by the store"),
            "backlog_bytes": Gauge("creditrisk_request_log_backlog_bytes",
                                   description="bytes of the write-ahead log not yet in the store"),
            "oldest_age": Gauge("creditrisk_request_log_oldest_unshipped_age_seconds",
                                description="age of the oldest decision not yet in the store (0 when none)"),
            "quarantined": Gauge("creditrisk_request_log_quarantined_rows",
                                 description="rows the store refused, kept apart with their error"),
        }
        self._seen: dict[str, int] = {}
        self._versions: set[str] = set()
        # Decisions not yet handed to Ray; the lock because Serve may run check_health off the loop.
        self._lock = threading.Lock()
        self._pending: Tally[tuple[str, str]] = Tally()
        self._pending_pd: list[float] = []
        for counter in (self.outcomes, *self.totals.values()):
            _start_at_zero(counter, {})

    def decided(self, decision: str, version: str, probability: float) -> None:
        """One answered, logged decision (exported at the next `flush`)."""
        with self._lock:
            self._pending[(decision, version)] += 1
            self._pending_pd.append(probability)

    def flush(self) -> int:
        """Hand the decisions counted since the last flush to Ray; returns how many."""
        with self._lock:
            pending, self._pending = self._pending, Tally()
            observed, self._pending_pd = self._pending_pd, []
        for (decision, version), n in pending.items():
            self._known_version(version)
            self.decisions.inc(n, tags={"decision": decision, "model_version": version})
        for probability in observed:  # Ray's histogram takes one value per call
            self.probability.observe(probability)
        return len(observed)

    def shipper_pass(self, oldest_age_s: float) -> None:
        """The log shipper's call on each pass (every second): the oldest unshipped row's age, and a flush."""
        self.gauges["oldest_age"].set(oldest_age_s)
        self.flush()

    def _known_version(self, version: str) -> None:
        """Create a version's series at 0 for both decisions, the first time it is seen."""
        if version not in self._versions:
            self._versions.add(version)
            for known in DECISIONS:
                _start_at_zero(self.decisions, {"decision": known, "model_version": version})

    def outcomes_recorded(self, n: int) -> None:
        if n > 0:
            self.outcomes.inc(n)

    def sample(self, readiness: Mapping[str, Any], totals: Mapping[str, int]) -> None:
        """Refresh the gauges from a `/readyz` body and the counters from the parts' totals."""
        self.flush()
        model, wal = readiness.get("model", {}), readiness.get("request_log", {})
        _set_number(self.gauges["served"], model.get("version"))
        _set_number(self.gauges["audited"], model.get("audited_version"))
        if model.get("version") is not None:
            self._known_version(str(model["version"]))
        _set_number(self.gauges["backlog_rows"], wal.get("backlog_rows"))
        _set_number(self.gauges["backlog_bytes"], wal.get("backlog_bytes"))
        _set_number(self.gauges["quarantined"], wal.get("quarantined_rows"))
        for attr, counter in self.totals.items():
            grown = int(totals.get(attr, 0)) - self._seen.get(attr, 0)
            if grown > 0:
                counter.inc(grown)
                self._seen[attr] = int(totals[attr])


def _start_at_zero(counter: Any, tags: dict[str, str]) -> None:
    """Create the series at 0: Ray's public `inc` refuses 0, and an alert on `rate()` or `absent()`
    needs the series before its first event."""
    counter._record(0, tags=tags or None)  # noqa: SLF001 - the only way to a zero-valued series in Ray 2.60


def _set_number(gauge: Any, value: object) -> None:
    try:
        gauge.set(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return  # no value yet (no model loaded), or a version that is not a number
