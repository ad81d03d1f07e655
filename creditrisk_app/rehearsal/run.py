"""`creditrisk rehearse`: the production topology on loopback, and one drifted week through it.

Parts and what each stands in for: a Debian PostgreSQL cluster (Cloud SQL) holds Dagster's run,
event and schedule storage (`deploy/dagster.yaml`), MLflow's backend store and its users;
`mlflow server --app-name basic-auth` with proxied artifacts is reached only by `http://`; a
two-node Ray cluster (`ray start` on 127.0.0.2 and 127.0.0.3; KubeRay's head and worker pods)
receives `deploy/serve_config.yaml` through `serve deploy`; bqemulator (BigQuery) is the request
store; `dagster-webserver` and `dagster-daemon` run the code location with
`CREDITRISK_ENV=production`. Each part and command is its own MLflow user (`identities`): Dagster
the trainer, the replicas the read-only serving user, every CLI step a reviewer. The traffic is
the demo's (recession from the second week), over HTTP with simulated time; the approval policy
is on, so the loop's winner waits until a reviewer, not its trainer, approves it. Every
part is stopped at the end.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]

from creditrisk_app import observability
from creditrisk_app.demo.dagster_api import DagsterAPI
from creditrisk_app.demo.loop import sensor_verdict
from creditrisk_app.demo.traffic import Traffic
from creditrisk_app.processes import BIN, REPO, Service, spawn_mlflow_server
from creditrisk_app.rehearsal import identities, observe
from creditrisk_app.rehearsal.drill import node_death
from creditrisk_app.rehearsal.identities import Identities
from creditrisk_app.rehearsal.parts import PgCluster, RayCluster, start_bigquery_emulator, start_dagster
from creditrisk_app.rehearsal.steps import Out, Steps, cli, four_eyes
from serving.runtime import fast_path_env, free_port

# A normal week, then three recession weeks (seeded). Outcomes come as a bank gets them (approved
# applicants, 2-12 days late), and the sensor retrains a drift episode once the changed world has
# MIN_CHANGE_TRAIN_ROWS labelled rows older than the evaluation window (EVALUATION_DAYS): the
# drifted weeks before that are skipped with the count, and the fourth week's retrain wins.
WEEKS, DRIFT_WEEK, REQUESTS_PER_WEEK = 4, 2, 1500
START = datetime(2026, 1, 5, tzinfo=UTC)
# Whoever runs the rehearsal must not lend it an identity: every part and command gets its own.
NOT_INHERITED = (*identities.USER_VARS, "CREDITRISK_ACTOR")


def serve_config(folder: Path, port: int) -> Path:
    """deploy/serve_config.yaml with the rehearsal's five changes, written beside its logs."""
    cfg = yaml.safe_load((REPO / "deploy" / "serve_config.yaml").read_text())
    cfg["http_options"]["port"] = port
    cfg["proxy_location"] = "HeadOnly"  # one HTTP entry, as the KubeRay serve Service is
    (app,) = cfg["applications"]
    app["args"]["allow_client_time"] = True  # weeks in minutes
    # The log's root is each node's mount of the shared volume (CREDITRISK_WAL_DIR, RayCluster)
    app["args"].pop("wal_dir", None)
    # Every simulated applicant comes from 127.0.0.1: exempt, as a bank's own systems would be; the
    # per-client limit stays on for any other address.
    app["args"]["rate_limit"]["exempt"] = ["127.0.0.1/32"]
    (dep,) = app["deployments"]
    dep["ray_actor_options"]["num_cpus"] = 1  # one replica per one-CPU node: both nodes serve
    path = folder / "serve_config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def replica_nodes(ray: RayCluster) -> list[str]:
    """The node IP of each running replica, from Ray's state API."""
    nodes = json.loads(ray.run(str(BIN / "ray"), "list", "nodes", "--format", "json").stdout or "[]")
    ip = {n["node_id"]: n["node_ip"] for n in nodes}
    actors = json.loads(ray.run(str(BIN / "ray"), "list", "actors", "--format", "json", "--filter",
                                "state=ALIVE", "--limit", "1000").stdout or "[]")
    return sorted(ip.get(a["node_id"], "?") for a in actors
                  if a.get("class_name", "").startswith("ServeReplica:creditrisk"))


def served_versions(url: str, tries: int = 40) -> set[str]:
    """Versions answered by the replicas /readyz reached (several calls to reach both)."""
    return {str(httpx.get(f"{url}/readyz", timeout=10).json()["model"]["version"]) for _ in range(tries)}


def _env(folder: Path, pg: PgCluster, bq: Service, mlflow: Service, token: str,
         data: str | None) -> dict[str, str]:
    """The production environment every part and command of the rehearsal runs with, without an
    identity: each adds its own MLflow user (`Identity.env`)."""
    home = folder / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return {**inherited, **fast_path_env(folder),
            "CREDITRISK_ENV": "production", "CREDITRISK_HOME": str(folder / "home"),
            "CREDITRISK_MLFLOW_URI": mlflow.url, "CREDITRISK_LOCK_URI": pg.dsn(),
            "CREDITRISK_PROMOTION": "approval",
            "CREDITRISK_BQ_PROJECT": "rehearsal", "CREDITRISK_BQ_DATASET": "creditrisk",
            "BIGQUERY_EMULATOR_HOST": bq.url, "NO_GCE_CHECK": "true",
            "CREDITRISK_OUTCOMES_TOKEN": token, **({"CREDITRISK_DATA": data} if data else {}),
            "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": "postgres", "DAGSTER_PG_PASSWORD": "trust-auth-ignores-it",
            "DAGSTER_PG_DB": "dagster", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def _week(i: int, api: DagsterAPI, traffic: Traffic, prometheus: str, steps: Steps,
          drift_start: datetime) -> dict[str, Any]:
    """One simulated week as production runs it; returns what the champion_model decided (or {})."""
    from creditrisk.applicants.synth import generate
    from creditrisk.monitoring.windows import week_windows

    ws = START + timedelta(weeks=i)
    key = (ws + timedelta(days=6)).date().isoformat()
    w = week_windows(key)
    answered = traffic.send_week(generate(REQUESTS_PER_WEEK, seed=42_000 + i, start=ws,
                                          end=ws + timedelta(days=7), scenario="recession",
                                          drift_start=drift_start))
    traffic.report_due(w.as_of)
    status = api.wait(api.launch("weekly_drift_job", key, {"creditrisk/trigger": "rehearsal"}), 600)
    md = api.metadata("drift_report", key) or {}
    steps.check(f"week {key}: {len(answered)} requests over HTTP, weekly_drift_job", status == "SUCCESS",
                f"{status}, dataset_drift={md.get('dataset_drift')}")
    drifted = bool(md.get("dataset_drift"))
    steps.check(f"week {key}: Prometheus's CreditriskDrift {'fires' if drifted else 'is quiet'}",
                *observe.drift_alert(prometheus, w.label, drifted))
    decision: dict[str, Any] = {}
    runs, skipped = sensor_verdict(api, w.label, key, 180)
    if skipped:
        steps.out(f"         drift_sensor skipped week {key}: {skipped}")
    for run_id in runs:
        run_status = api.wait(run_id, 900)
        decision = api.metadata("champion_model", key) or {}
        steps.check(f"week {key}: the sensor's retrain_job", run_status == "SUCCESS",
                    f"{run_status}: {decision.get('outcome')}: {str(decision.get('reason'))[:120]}")
    return decision


def rehearse(out: Out = print, *, data: str | None = None, keep: bool = False) -> bool:
    """Start every part, run the weeks, check each step, stop everything; True when all passed."""
    from creditrisk import wiring
    from creditrisk.settings import get_settings

    folder = Path(tempfile.mkdtemp(prefix="creditrisk-rehearsal-"))
    steps, stops = Steps(out), []
    token, port = secrets.token_urlsafe(16), free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        pg = PgCluster().start()
        stops.append(pg.stop)
        mlflow_db = pg.create_database("mlflow").replace("postgresql://", "postgresql+psycopg://")
        auth_db = pg.create_database("mlflow_auth").replace("postgresql://", "postgresql+psycopg://")
        pg.create_database("dagster")
        steps.check("postgres (stands for Cloud SQL)", True, pg.dsn())
        bq = start_bigquery_emulator(folder)
        stops.append(bq.stop)
        steps.check("bigquery emulator (stands for BigQuery)", True, bq.url)
        ids = Identities.generate()
        auth_env = identities.server_env(ids, identities.write_auth_config(folder / "auth.ini", auth_db))
        mlflow = spawn_mlflow_server(mlflow_db, folder / "artifacts", free_port(), folder / "mlflow.log",
                                     auth_env)
        stops.append(mlflow.stop)
        mlflow.wait_ready(120)
        steps.check("mlflow server, Postgres backend, proxied artifacts, basic-auth", True, mlflow.url)
        steps.check("mlflow users, the model and its grants (by the admin)", True,
                    identities.provision(mlflow.url, ids))
        if not observability.installed():
            steps.check("prometheus and its pushgateway installed", False, observability.INSTALL_HINT)
            return False
        gateway = observability.spawn_pushgateway(free_port(), folder / "pushgateway.log")
        stops.append(gateway.stop)
        gateway.wait_ready(30)
        env = {**_env(folder, pg, bq, mlflow, token, data), "CREDITRISK_PUSHGATEWAY": gateway.url}
        ok, line = cli({**env, **ids.reviewers[0].env()}, "bootstrap", *(["--data", data] if data else []))
        if not steps.check(f"bootstrap by {ids.reviewers[0].name}: champion v1 in the remote registry",
                           ok, line):
            return False
        wiring.make_store(get_settings(env)).ensure_tables()  # type: ignore[attr-defined]
        # The replicas read the registry as the serving user, from their nodes' environment (the
        # pods' env from a Secret in deploy/rayservice.yaml); the serve config, which anyone with
        # the Ray token can read back, holds no password.
        ray = RayCluster(folder, {**env, **ids.serving.env()})
        stops.append(ray.stop)  # before start: a node that started must stop even if the next fails
        ray.start()
        steps.check("ray cluster, token auth (stands for KubeRay)", len(ray.alive_nodes()) == 2,
                    f"nodes {sorted(ray.alive_nodes())}, dashboard {ray.dashboard}")
        prometheus = observability.spawn_prometheus(folder / "prometheus", free_port(), ray.metrics_targets(),
                                                    gateway.url)
        stops.append(prometheus.stop)
        prometheus.wait_ready(60)
        steps.check("prometheus scraping both Ray nodes and the pushgateway (Debian's)", True,
                    f"{prometheus.url}, targets {ray.metrics_targets()}")
        deployed = ray.run(str(BIN / "serve"), "deploy", str(serve_config(folder, port)), "--address",
                           ray.dashboard)
        if not steps.check("serve deploy deploy/serve_config.yaml", deployed.returncode == 0,
                           (deployed.stderr or deployed.stdout).strip()[-300:]):
            return False
        deadline = time.monotonic() + 240
        while len(set(replica_nodes(ray))) < 2 and time.monotonic() < deadline:
            time.sleep(2)
        from serving.runtime import wait_ready

        wait_ready(url, max(10.0, deadline - time.monotonic()))
        steps.check("replicas on both nodes", len(set(replica_nodes(ray))) == 2,
                    f"{replica_nodes(ray)}; portal {url}/")
        dagster = start_dagster(folder, {**env, **ids.trainer.env()}, free_port())
        stops.extend(s.stop for s in dagster)
        steps.check(f"dagster-webserver + dagster-daemon (production, Postgres storage) as "
                    f"{ids.trainer.name}", True, dagster[0].url)
        api, traffic = DagsterAPI(dagster[0].url), Traffic(url, token, seed=42)
        drift_start, decision = START + timedelta(weeks=DRIFT_WEEK - 1), {}
        for i in range(WEEKS):
            decision = _week(i, api, traffic, prometheus.url, steps, drift_start) or decision
        steps.check("promotion decision in the remote registry: awaiting approval",
                    bool(decision.get("awaiting_approval")), str(decision.get("reason"))[:160])
        waiting = str(decision.get("challenger_version", ""))
        steps.check("the serving user cannot move an alias (the server refuses)",
                    *identities.serving_cannot_move_alias(mlflow.url, ids, waiting))
        steps.check("an anonymous client cannot read the registry",
                    *identities.anonymous_cannot_read(mlflow.url))
        version = four_eyes(env, ids, waiting, steps) if waiting else ""
        deadline = time.monotonic() + (60 if version else 0)  # nothing to wait for when nothing was approved
        while served_versions(url, 10) != {version} and time.monotonic() < deadline:
            time.sleep(1)
        steps.check("replicas on both nodes serve the new version", served_versions(url) == {version},
                    f"v{version} on {replica_nodes(ray)}")
        steps.check("Prometheus: every replica's served-version gauge moved to it",
                    *observe.served_version(prometheus.url, version, len(replica_nodes(ray))))
        # Before the drill: a killed node's series vanish with it.
        steps.check("Prometheus: the replicas' decision counters sum to the requests answered",
                    *observe.decisions_counted(prometheus.url, len(traffic.stats.answered)))
        steps.check("Prometheus: every query of the Grafana dashboard returns data",
                    *observe.dead_panels(prometheus.url))
        store = wiring.make_store(get_settings(env))
        passed, figures = node_death(url, token, START + timedelta(weeks=WEEKS + 1), ray.worker_endpoints(),
                                     ray.kill_worker, store, ray.node_logs("worker"))
        steps.check("the worker node killed under load: every answer stored", passed, figures)
        time.sleep(3)  # replicas ship their logs every second
        stored = store.count(START, START + timedelta(weeks=WEEKS))
        sent = len(traffic.stats.answered)
        steps.check("every answered request is in BigQuery", stored == sent, f"{stored} rows, {sent} answers")
    except Exception as exc:  # noqa: BLE001 - a rehearsal reports a failure, then still stops everything
        where = traceback.extract_tb(exc.__traceback__)[-1]
        steps.check("rehearsal", False, f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:"
                    f"{where.lineno})")
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                out(f"stop failed: {exc}")
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
        out(f"rehearsal {'passed' if steps.ok else 'FAILED'}; every part stopped"
            + (f"; logs in {folder}" if keep else ""))
    return steps.ok
