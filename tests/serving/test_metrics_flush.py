"""The request path only tallies a decision; Ray's record calls happen once per series at a flush."""
from __future__ import annotations

from typing import Any

from serving.metrics import ReplicaMetrics


class Recorder:
    """Stands in for a Ray metric: keeps every call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, str] | None]] = []

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.calls.append(("inc", value, tags))

    def observe(self, value: float, tags: dict[str, str] | None = None) -> None:
        self.calls.append(("observe", value, tags))

    def set(self, value: float, tags: dict[str, str] | None = None) -> None:
        self.calls.append(("set", value, tags))

    def _record(self, value: float, tags: dict[str, str] | None = None) -> None:
        self.calls.append(("zero", value, tags))


def _metrics() -> tuple[ReplicaMetrics, Recorder, Recorder, Recorder]:
    m = ReplicaMetrics()
    m.decisions, m.probability, age = Recorder(), Recorder(), Recorder()
    m.gauges["oldest_age"] = age
    return m, m.decisions, m.probability, age


def test_decisions_reach_ray_only_at_a_flush_one_call_per_series() -> None:
    m, decisions, probability, _ = _metrics()
    for i in range(50):
        m.decided("denied" if i % 5 == 0 else "pre-approved", "7", i / 100)
    assert decisions.calls == [] and probability.calls == []  # nothing paid to Ray per request

    assert m.flush() == 50
    incs = {(tags["decision"], tags["model_version"]): n for op, n, tags in decisions.calls if op == "inc"}
    zeros = {(tags["decision"], tags["model_version"]) for op, _, tags in decisions.calls if op == "zero"}
    assert incs == {("denied", "7"): 10, ("pre-approved", "7"): 40}
    assert zeros == {("denied", "7"), ("pre-approved", "7")}  # the version's series exist from here
    assert sorted(v for _, v, _ in probability.calls) == [i / 100 for i in range(50)]

    decisions.calls.clear()
    assert m.flush() == 0 and decisions.calls == []  # each decision is exported once


def test_the_shippers_pass_sets_the_log_age_and_flushes() -> None:
    m, decisions, _, age = _metrics()
    m.decided("denied", "3", 0.6)
    m.shipper_pass(12.5)
    assert age.calls == [("set", 12.5, None)]
    assert ("inc", 1, {"decision": "denied", "model_version": "3"}) in decisions.calls


def test_a_sample_flushes_too() -> None:
    """Without a shipper pass (a log that is not running) the health check's sample still exports."""
    m, decisions, _, _ = _metrics()
    m.decided("pre-approved", "4", 0.05)
    m.sample({"model": {"version": "4"}}, {})
    assert ("inc", 1, {"decision": "pre-approved", "model_version": "4"}) in decisions.calls
