"""`creditrisk` command line: the model commands (`model_cli`), the service, and the demo.

Errors a user can fix (a bad file, no champion yet) print one line and exit 2; no stack traces.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from mlflow.exceptions import MlflowException

from creditrisk import wiring
from creditrisk.applicants.data import DataFileError
from creditrisk.registry.client import RegistryError
from creditrisk.registry.locks import LockUnavailable
from creditrisk.registry.states import Alias
from creditrisk.settings import Settings, get_settings, redact
from creditrisk_app.demo.traffic import DEMO_LABEL_DELAY
from creditrisk_app.model_cli import add_parsers, progress_printer
from creditrisk_app.review_cli import add_parsers as add_review_parsers


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Ray Serve on 127.0.0.1 in the foreground; Ctrl-C or SIGTERM stops it and all it started."""
    import socket

    from creditrisk_app.processes import StopSignals
    from serving.config import PredictorConfig, RateLimit, ServiceArgs  # lazily: no Ray for other commands
    from serving.limits import describe
    from serving.runtime import LocalService

    if wiring.make_registry(settings).version_for(Alias.CHAMPION) is None:  # an outage raises
        raise RegistryError(f"no '{Alias.CHAMPION}' model in {redact(settings.mlflow_uri)}; "
                            "run `creditrisk bootstrap` first")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            raise ValueError(f"port {args.port} on 127.0.0.1 is already in use (choose another with --port)")
    service_args = ServiceArgs(mlflow_uri=settings.mlflow_uri,
                               store_dir=None if settings.is_production else str(settings.store_dir),
                               wal_dir=str(settings.wal_dir),
                               allow_client_time=args.allow_client_time,
                               min_replicas=args.min_replicas or (2 if settings.is_production else 1),
                               max_replicas=max(2, args.min_replicas or 0),
                               predictor=PredictorConfig(reload_interval_s=args.reload_interval),
                               rate_limit=RateLimit() if args.rate_limit is None
                               else RateLimit(enabled=False) if args.rate_limit == 0
                               else RateLimit(enabled=True, requests_per_minute=args.rate_limit))
    print(describe(service_args.rate_limit, production=settings.is_production), file=sys.stderr)
    if not os.environ.get(service_args.outcomes_token_env):
        print(f"note: {service_args.outcomes_token_env} is not set: POST /outcomes answers 503",
              file=sys.stderr)
    service = LocalService(service_args, port=args.port, metrics_port=args.metrics_port)
    StopSignals(force=service.kill_now).install()
    progress = progress_printer()
    try:
        progress("starting Ray and the service (about 20 s)")
        service.start()  # puts our SIGTERM handler back after ray.init() replaced it
        progress(f"serving {redact(settings.mlflow_uri)} @{Alias.CHAMPION} on {service.base_url}/ "
                 f"(portal /, API /docs, /readyz); Ctrl-C stops")
        if args.metrics_port:
            progress(f"Prometheus metrics (Ray's agent, every replica): http://127.0.0.1:{args.metrics_port}/metrics")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        progress("stopping (shipping the request log, then Ray and HAProxy)")
    finally:
        service.stop()
    if service.shipped_at_stop:
        progress(f"shipped {service.shipped_at_stop} request-log rows the replicas left on disk")
    progress("stopped")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole loop on this machine (see creditrisk_app/demo/run.py)."""
    from datetime import date

    from creditrisk.applicants.labels import LabelDelay
    from creditrisk.applicants.synth import SCENARIOS
    from creditrisk_app.demo.run import DemoConfig, run_demo

    if args.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}")
    if not 1 <= args.drift_week <= args.weeks:
        raise ValueError(f"--drift-week must be between 1 and --weeks ({args.weeks})")
    if args.magnitude < 0 or args.ramp_weeks < 0:
        raise ValueError("--magnitude and --ramp-weeks must not be negative")
    LabelDelay.parse(args.label_delay)  # a bad distribution is refused before any server starts
    cfg = DemoConfig(scenario=args.scenario, weeks=args.weeks, drift_week=args.drift_week,
                     magnitude=args.magnitude, ramp_weeks=args.ramp_weeks, label_delay=args.label_delay,
                     requests_per_week=args.requests_per_week, seed=args.seed,
                     start=date.fromisoformat(args.start), data=args.data, exit=args.exit,
                     ports={"serve": args.port, "dagster": args.dagster_port, "mlflow": args.mlflow_port,
                            "prometheus": args.prometheus_port})
    result = run_demo(cfg)
    return 0 if result.interrupted else 1 if result.log_errors else 0


def cmd_rehearse(args: argparse.Namespace, settings: Settings) -> int:
    """The production topology on loopback, one drifted week through it (creditrisk_app/rehearsal)."""
    from creditrisk_app.processes import StopSignals
    from creditrisk_app.rehearsal.run import rehearse

    StopSignals().install()  # Ctrl-C or SIGTERM: the rehearsal's finally stops every part
    try:
        return 0 if rehearse(data=args.data or settings.base_data, keep=args.keep) else 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="creditrisk", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    commands = {**add_parsers(sub), **add_review_parsers(sub)}
    s = sub.add_parser("serve", help="run the prediction service and portal on 127.0.0.1 (foreground)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--metrics-port", type=int, default=None,
                   help="port of Ray's metrics agent, where Prometheus scrapes every replica's series "
                        "(default: one Ray picks)")
    s.add_argument("--reload-interval", type=float, default=10.0,
                   help="seconds between champion alias checks")
    s.add_argument("--min-replicas", type=int, default=None,
                   help="replicas kept running (default 1 locally, 2 with CREDITRISK_ENV=production)")
    s.add_argument("--rate-limit", type=float, default=None, metavar="PER_MINUTE",
                   help="requests per minute per client on /predict, per replica (0: off; default: off "
                   "locally, on with CREDITRISK_ENV=production)")
    s.add_argument("--allow-client-time", action="store_true",
                   help="accept X-Request-Time as the logged time (simulated-time demos); refused otherwise")
    d = sub.add_parser("demo",
                       help="bootstrap, start every server, replay weeks of traffic with drift, narrate")
    d.add_argument("--scenario", default="recession",
                   help="none | income_shock | intent_mix | rate_hike | concept | recession (default)")
    d.add_argument("--weeks", type=int, default=10)
    d.add_argument("--drift-week", type=int, default=7, help="first drifted week (1-based)")
    d.add_argument("--magnitude", type=float, default=1.0,
                   help="size of the scenario's shift: 1 = as named (e.g. +4 rate points), 0.5 = half")
    d.add_argument("--ramp-weeks", type=int, default=0,
                   help="gradual variant: the shift grows to its magnitude over this many weeks (0 = sudden)")
    d.add_argument("--label-delay", default=DEMO_LABEL_DELAY,
                   help="days until an approved applicant's outcome is reported: uniform:LOW,HIGH or "
                        "lognormal:MEDIAN,SIGMA (a real performance window is about a year)")
    d.add_argument("--requests-per-week", type=int, default=1500)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--start", default="2026-01-05", help="simulated Monday the first week starts on")
    d.add_argument("--data", default=None, help="CSV of base training data (default: synthetic)")
    d.add_argument("--exit", action="store_true", help="stop everything at the end (scripts, CI)")
    d.add_argument("--port", type=int, default=8000, help="portal and API")
    d.add_argument("--dagster-port", type=int, default=3000)
    d.add_argument("--mlflow-port", type=int, default=5000)
    d.add_argument("--prometheus-port", type=int, default=9090, help="Prometheus, when it is installed")
    r = sub.add_parser("rehearse", help="start the production parts on loopback (Postgres, mlflow server, "
                       "a 2-node Ray cluster, the BigQuery emulator, Dagster) and run a drifted week through")
    r.add_argument("--data", default=None,
                   help="CSV of base training data (default: CREDITRISK_DATA or synthetic)")
    r.add_argument("--keep", action="store_true", help="keep the logs folder afterwards")
    p.set_defaults(_commands={**commands, "serve": cmd_serve, "demo": cmd_demo, "rehearse": cmd_rehearse})
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return int(args._commands[args.command](args, get_settings()))
    except (DataFileError, RegistryError, LockUnavailable, ValueError) as exc:
        print(f"creditrisk {args.command}: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except (MlflowException, OSError) as exc:  # an outage mid-command: one line, not a stack trace
        print(f"creditrisk {args.command}: error: {type(exc).__name__}: "
              f"{redact(str(exc)).splitlines()[0][:300]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
