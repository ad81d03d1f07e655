"""`creditrisk` command line: bootstrap the first champion, inspect and move registry aliases, serve, demo.

Errors a user can fix (a bad file, no champion yet) print one line and exit 2; no stack traces.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

from creditrisk import wiring
from creditrisk.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS
from creditrisk.data import DataFileError
from creditrisk.registry import RegistryError
from creditrisk.settings import Settings, get_settings


class _Progress:
    """Timestamped progress lines for long steps (training, logging, registering)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.1f}s] {msg}", flush=True)


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from creditrisk.data import load_base_data
    from creditrisk.training import train_and_register

    progress = _Progress()
    registry = wiring.make_registry(settings)
    current = registry.version_for(CHAMPION_ALIAS)
    if current is not None and not args.force:
        print(f"{registry.model_name}@{CHAMPION_ALIAS} is already version {current.version} "
              "(use --force to train a new one)")
        return 0
    progress(f"loading base data from {args.data or 'the synthetic generator'}")
    raw, clean, report = load_base_data(args.data, rows=args.rows, seed=args.seed)
    progress(f"{report.clean_rows:,} clean rows ({report.duplicates_dropped} duplicates and "
             f"{report.impossible_dropped} impossible rows dropped; missing kept: {report.missing_kept})")
    source = str(args.data) if args.data else f"synthetic:seed={args.seed}"
    result = train_and_register(registry, raw, clean, alias=CHAMPION_ALIAS, run_name="bootstrap",
                                source=source, progress=progress)
    registry.client.set_registered_model_tag(registry.model_name, "base_data", source)
    m = result.metrics
    progress(f"champion = version {result.version}: ROC AUC {m['roc_auc']:.4f}, "
             f"accuracy {m['accuracy']:.4f}, default recall {m['recall_default']:.4f}, "
             f"Brier {m['brier']:.4f} (run {result.run_id})")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    registry = wiring.make_registry(settings)
    out = {}
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        mv = registry.version_for(alias)
        out[alias] = None if mv is None else {"version": mv.version, "run_id": mv.run_id, "tags": mv.tags}
    print(json.dumps({"model": registry.model_name, "tracking_uri": settings.mlflow_uri, **out}, indent=2))
    return 0


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    move = wiring.make_registry(settings).promote(reason=args.reason, actor=args.actor)
    print(f"promoted version {move.champion} to {CHAMPION_ALIAS}; "
          f"{move.challenger} is now {CHALLENGER_ALIAS}")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    move = wiring.make_registry(settings).rollback(reason=args.reason, actor=args.actor, to_version=args.to)
    print(f"rolled back: version {move.champion} is {CHAMPION_ALIAS} again "
          f"({move.challenger} -> {CHALLENGER_ALIAS})")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Ray Serve on 127.0.0.1 in the foreground; Ctrl-C (or SIGTERM) stops it and all it started."""
    import socket

    from creditrisk_app.processes import interrupt_on_sigterm
    from serving.config import PredictorConfig, ServiceArgs  # lazily: the other commands never import Ray
    from serving.runtime import LocalService

    if wiring.make_registry(settings).version_for(CHAMPION_ALIAS) is None:
        raise RegistryError(f"no {CHAMPION_ALIAS!r} model in {settings.mlflow_uri}; "
                            "run `creditrisk bootstrap` first")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            raise ValueError(f"port {args.port} on 127.0.0.1 is already in use (choose another with --port)")
    service_args = ServiceArgs(mlflow_uri=settings.mlflow_uri,
                               store_dir=None if settings.is_production else str(settings.store_dir),
                               allow_client_time=args.allow_client_time,
                               predictor=PredictorConfig(reload_interval_s=args.reload_interval))
    if not os.environ.get(service_args.outcomes_token_env):
        print(f"note: {service_args.outcomes_token_env} is not set: POST /outcomes answers 503",
              file=sys.stderr)
    interrupt_on_sigterm()
    service = LocalService(service_args, port=args.port)
    progress = _Progress()
    try:
        progress("starting Ray and the service (about 20 s)")
        service.start()
        progress(f"serving {settings.mlflow_uri} @{CHAMPION_ALIAS} on {service.base_url}/ "
                 f"(portal /, API /docs, /readyz); Ctrl-C stops")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        progress("stopping (flushing the request log)")
    finally:
        service.stop()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole loop on this machine (see creditrisk_app/demo/run.py)."""
    from datetime import date

    from creditrisk.synth import SCENARIOS
    from creditrisk_app.demo.run import DemoConfig, run_demo

    if args.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}")
    if not 1 <= args.drift_week <= args.weeks:
        raise ValueError(f"--drift-week must be between 1 and --weeks ({args.weeks})")
    cfg = DemoConfig(scenario=args.scenario, weeks=args.weeks, drift_week=args.drift_week,
                     requests_per_week=args.requests_per_week, seed=args.seed,
                     start=date.fromisoformat(args.start), data=args.data, exit=args.exit,
                     ports={"serve": args.port, "dagster": args.dagster_port, "mlflow": args.mlflow_port})
    result = run_demo(cfg)
    return 1 if result.log_errors else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="creditrisk", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bootstrap", help="train the first model and make it champion")
    b.add_argument("--data", help="CSV of the credit-risk schema (default: synthetic data)")
    b.add_argument("--rows", type=int, default=32_581, help="synthetic rows when --data is not given")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--force", action="store_true", help="train and crown a new champion even if one exists")
    sub.add_parser("status", help="show the champion and challenger versions")
    for name, helptext in (("promote", "challenger -> champion (old champion -> challenger)"),
                           ("rollback", "put the previous champion back")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("--reason", required=True, help="recorded in the registry")
        c.add_argument("--actor", default=None, help="who decided (default: $CREDITRISK_ACTOR or the user)")
        if name == "rollback":
            c.add_argument("--to", default=None, help="version to restore (default: the challenger)")
    s = sub.add_parser("serve", help="run the prediction service and portal on 127.0.0.1 (foreground)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--reload-interval", type=float, default=10.0,
                   help="seconds between champion alias checks")
    s.add_argument("--allow-client-time", action="store_true",
                   help="accept X-Request-Time as the logged time (simulated-time demos); refused otherwise")
    d = sub.add_parser("demo",
                       help="bootstrap, start every server, replay weeks of traffic with drift, narrate")
    d.add_argument("--scenario", default="recession",
                   help="none | income_shock | intent_mix | rate_hike | concept | recession (default)")
    d.add_argument("--weeks", type=int, default=10)
    d.add_argument("--drift-week", type=int, default=7, help="first drifted week (1-based)")
    d.add_argument("--requests-per-week", type=int, default=1500)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--start", default="2026-01-05", help="simulated Monday the first week starts on")
    d.add_argument("--data", default=None, help="CSV of base training data (default: synthetic)")
    d.add_argument("--exit", action="store_true", help="stop everything at the end (scripts, CI)")
    d.add_argument("--port", type=int, default=8000, help="portal and API")
    d.add_argument("--dagster-port", type=int, default=3000)
    d.add_argument("--mlflow-port", type=int, default=5000)
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "bootstrap": cmd_bootstrap, "status": cmd_status, "promote": cmd_promote, "rollback": cmd_rollback,
    "serve": cmd_serve, "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return COMMANDS[args.command](args, get_settings())
    except (DataFileError, RegistryError, ValueError) as exc:
        print(f"creditrisk {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
