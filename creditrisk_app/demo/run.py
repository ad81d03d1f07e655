"""`creditrisk demo`: bootstrap, start every server, replay weeks of traffic, narrate what happens.

Everything runs under `$CREDITRISK_HOME/demo` (emptied at the start, so a replay is reproducible
with `--seed`), on 127.0.0.1, and is stopped at the end (`--exit`) or on Ctrl-C.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sklearn.metrics import roc_auc_score

from creditrisk import wiring
from creditrisk.applicants.data import load_base_data
from creditrisk.applicants.labels import LabelDelay
from creditrisk.settings import Settings, get_settings
from creditrisk.training.lineage import DataReference
from creditrisk.training.run import train_and_register
from creditrisk_app import observability
from creditrisk_app.demo.alert_sink import AlertSink
from creditrisk_app.demo.dagster_api import DagsterAPI
from creditrisk_app.demo.loop import Out, WeekRow, run_week
from creditrisk_app.demo.traffic import DEMO_LABEL_DELAY, Answered, Traffic
from creditrisk_app.processes import (
    Service,
    StopSignals,
    spawn_dagster,
    spawn_mlflow_ui,
    spawn_serving,
)
from serving.runtime import free_port

ERROR_LINE = re.compile(r"Traceback \(most recent call last\)|\bERROR\b|\bCRITICAL\b")
# The demo plays the second person a waiting change needs (README "Whose decisions a change changes").
DEMO_REVIEWER = "demo reviewer"


@dataclass
class DemoConfig:
    scenario: str = "recession"
    weeks: int = 10
    drift_week: int = 7  # 1-based: the first week with drifted applicants
    requests_per_week: int = 1500
    seed: int = 42
    start: date = date(2026, 1, 5)  # a Monday; the simulated calendar, never the wall clock
    data: str | None = None
    magnitude: float = 1.0  # of the scenario's shift (creditrisk.applicants.synth)
    ramp_weeks: int = 0  # the gradual variant: the shift grows to full magnitude over these weeks
    label_delay: str = DEMO_LABEL_DELAY  # days until an approved applicant's outcome is reported
    exit: bool = False
    reload_interval_s: float = 5.0
    ports: dict[str, int] = field(default_factory=lambda: {"serve": 8000, "dagster": 3000, "mlflow": 5000})


@dataclass
class DemoResult:
    weeks: list[WeekRow]
    phases: dict[str, float]
    requests_sent: int
    rows_in_store: int
    alerts: list[dict]
    log_errors: list[str]
    post_drift_auc: dict[str, float]
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM before the end


def _phase(phases: dict[str, float], name: str, t0: float, out: Out) -> float:
    phases[name] = round(time.monotonic() - t0, 1)
    out(f"[phase] {name}: {phases[name]:.1f} s")
    return time.monotonic()


def _log_errors(logs: list[Path]) -> list[str]:
    return [f"{p.name}: {line.strip()[:200]}" for p in logs if p.exists()
            for line in p.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]


def _post_drift_auc(settings: Settings, answered: list[Answered], drift_start: datetime | None,
                    old: str, new: str) -> dict[str, float]:
    """Old and new champion (loaded from the registry) on the same post-drift labelled traffic."""
    if drift_start is None or old == new:
        return {}
    rows = [a for a in answered if a.ts >= drift_start and a.report_at is not None]  # the approved only
    logged = wiring.make_store(settings).read_window(drift_start, drift_start + timedelta(days=3650))
    feats = logged.set_index("request_id").loc[[a.request_id for a in rows]].reset_index()
    labels, reg = [a.label for a in rows], wiring.make_registry(settings)
    return {f"{name} champion v{v}": float(roc_auc_score(labels, reg.load(v).model.score_frame(feats)))
            for name, v in (("old", old), ("new", new))}


def _review(settings: Settings) -> Callable[[str, str], str]:
    """The demo's second person: approves a waiting version through change control, as `creditrisk
    approve` does (four eyes, the validation gate, the audit trail), saying why it waited."""
    def approve(version: str, why: str) -> str:
        reason = f"demo: approved in a second person's name so the demo goes on; it waited because: {why}"
        wiring.make_changes(settings).approve(version, actor=DEMO_REVIEWER, reason=reason)
        return DEMO_REVIEWER
    return approve


def run_demo(cfg: DemoConfig, out: Out = print) -> DemoResult:
    """The demo; Ctrl-C or SIGTERM at any point stops every server it started, in order."""
    services: list[Service] = []
    StopSignals(force=lambda: [s.kill() for s in services]).install()
    try:
        return _run(cfg, out, services)
    except KeyboardInterrupt:  # before the servers started (their own stop is in _run's finally)
        out("[demo] stopped")
        return DemoResult([], {}, 0, 0, [], [], {}, interrupted=True)


def _run(cfg: DemoConfig, out: Out, services: list[Service]) -> DemoResult:
    base = get_settings()
    home = base.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    settings = get_settings({"CREDITRISK_HOME": str(home)})
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    out(f"[demo] scenario {cfg.scenario} (magnitude {cfg.magnitude:g}"
        + (f", ramped over {cfg.ramp_weeks} weeks" if cfg.ramp_weeks else "") + f"), {cfg.weeks} weeks "
        f"from {cfg.start} (drift from week {cfg.drift_week}), {cfg.requests_per_week} requests/week, seed "
        f"{cfg.seed}; outcomes of approved applicants only, after {cfg.label_delay} days; state in {home}")
    raw, clean, _ = load_base_data(cfg.data, seed=cfg.seed)
    changes, source = wiring.make_changes(settings), cfg.data or f"synthetic:seed={cfg.seed}"
    first = train_and_register(changes.registry, raw, clean, run_name="bootstrap",
                               source=DataReference(source, policy=settings.log_training_data),
                               progress=lambda m: out(f"[bootstrap] {m}"))
    changes.bootstrap(first.version, actor="creditrisk demo", reason=f"bootstrap on {source}", forced=False)
    t0 = _phase(phases, "bootstrap", t0, out)

    token = secrets.token_urlsafe(16)
    interrupted = False
    traffic: Traffic | None = None
    rows: list[WeekRow] = []
    stored, post = 0, {}
    with AlertSink() as sink:
        try:
            child_env = {"CREDITRISK_HOME": str(home), "CREDITRISK_ALERT_WEBHOOK": sink.url,
                         **({"CREDITRISK_DATA": cfg.data} if cfg.data else {})}
            metrics_port = free_port()
            if observability.installed():  # the weekly figures need their gateway before Dagster starts
                gateway_log = home / "logs" / "pushgateway.log"
                services.append(observability.spawn_pushgateway(free_port(), gateway_log))
                child_env["CREDITRISK_PUSHGATEWAY"] = services[-1].url
            services += [
                spawn_serving(settings, cfg.ports["serve"], ["--allow-client-time", "--reload-interval",
                                                             str(cfg.reload_interval_s), "--metrics-port",
                                                             str(metrics_port)],
                              {"CREDITRISK_OUTCOMES_TOKEN": token}),
                spawn_dagster(settings, cfg.ports["dagster"], child_env),
                spawn_mlflow_ui(settings, cfg.ports["mlflow"]),
            ]
            if observability.installed():
                services.append(observability.spawn_prometheus(
                    home / "prometheus", cfg.ports.get("prometheus", 9090), [f"127.0.0.1:{metrics_port}"],
                    child_env["CREDITRISK_PUSHGATEWAY"]))
            for s in services:
                s.wait_ready(240)
            named = {s.name: s for s in services}
            serve, dagster, mlflow = named["serve"], named["dagster"], named["mlflow"]
            out(f"[demo] portal   {serve.url}/\n[demo] API docs {serve.url}/docs\n"
                f"[demo] Dagster  {dagster.url}\n[demo] MLflow   {mlflow.url}\n[demo] Prometheus "
                + (f"{named['prometheus'].url} (alerts: {named['prometheus'].url}/alerts)"
                   if "prometheus" in named else f"not installed: {observability.INSTALL_HINT}"))
            t0 = _phase(phases, "start services", t0, out)

            start = datetime.combine(cfg.start, datetime.min.time(), tzinfo=UTC)
            drift_start = None if cfg.scenario == "none" else start + timedelta(weeks=cfg.drift_week - 1)
            api = DagsterAPI(dagster.url)
            traffic = Traffic(serve.url, token, seed=cfg.seed, label_delay=LabelDelay.parse(cfg.label_delay))
            first_version = None
            for i in range(cfg.weeks):
                row, _ = run_week(i, start, api=api, traffic=traffic, serve_url=serve.url,
                                  n=cfg.requests_per_week, seed=cfg.seed * 1000, scenario=cfg.scenario,
                                  drift_start=drift_start, alerts=sink.alerts,
                                  reload_timeout=cfg.reload_interval_s * 3 + 15, out=out,
                                  magnitude=cfg.magnitude,
                                  ramp=timedelta(weeks=cfg.ramp_weeks) if cfg.ramp_weeks else None,
                                  review=_review(settings))
                first_version = first_version or row.served_version
                rows.append(row)
                if row.promoted:  # the cycle: drift check -> sensor -> retrain -> promote -> served
                    cycle = sum(v for k, v in row.steps.items() if k not in ("predict", "outcomes"))
                    phases.setdefault("first promotion cycle (check -> retrain -> promote -> served)",
                                      round(cycle, 1))
            t0 = _phase(phases, "simulate weeks", t0, out)
            time.sleep(2.5)  # the inference log flushes every second
            stored = wiring.make_store(settings).count()
            post = _post_drift_auc(settings, traffic.stats.answered, drift_start, first_version or "",
                                   rows[-1].served_version)
            for name, auc in post.items():
                out(f"[demo] realized AUC on post-drift labelled traffic, {name}: {auc:.3f}")
            out(f"[demo] requests sent {len(traffic.stats.answered)}, rows in the store {stored}, "
                f"client errors {len(traffic.stats.errors)}, alerts {len(sink.alerts)}")
            if not cfg.exit:
                out("[demo] the UIs stay up; press Ctrl-C to stop everything")
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            interrupted = True
            out("[demo] stopping: the service ships its request log, then Dagster and MLflow stop")
        finally:
            for s in reversed(services):
                s.stop()
    sent = traffic.stats.answered if traffic else []
    errors = _log_errors([s.log for s in services]) + (traffic.stats.errors if traffic else [])
    result = DemoResult(rows, phases, len(sent), stored, list(sink.alerts), errors, post, interrupted)
    (home / "timeline.json").write_text(json.dumps(asdict(result), indent=2, default=str))
    out(f"[demo] timeline written to {home / 'timeline.json'}; log errors: {len(errors)}")
    return result
