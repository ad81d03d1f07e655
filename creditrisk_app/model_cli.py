"""The model change-control commands: bootstrap, status, rollback, audit, card.

Every move goes through `creditrisk.registry.changes` (the lock, the policy, the preconditions, the
audit trail). A promotion is only ever `creditrisk evaluate`'s (the evidence decides), so there is no
promote command. The actor is `actor_of`'s. A registry that cannot answer is an error (one line naming
the URI, non-zero exit), never read as "no model yet".
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from creditrisk import wiring
from creditrisk.registry.audit import AuditTrail
from creditrisk.registry.client import RegistryError
from creditrisk.registry.states import Alias
from creditrisk.settings import UNAUTHENTICATED, Settings, redact
from creditrisk.training import swap_table
from creditrisk.training.lineage import DataReference

Command = Callable[[argparse.Namespace, Settings], int]


def actor_of(args: argparse.Namespace, settings: Settings) -> str:
    """Who acts: locally `--actor`, else the settings' actor; in production only the identity the MLflow
    server authenticates (a typed name would make four eyes compare what people type)."""
    if not settings.is_production:
        return args.actor or settings.actor
    if args.actor:
        raise RegistryError("--actor is refused in production: the actor is the identity the MLflow server "
                            "authenticates (MLFLOW_TRACKING_USERNAME)")
    if settings.actor == UNAUTHENTICATED:
        raise RegistryError("a move in production needs MLFLOW_TRACKING_USERNAME and its password: the "
                            "actor is the identity the MLflow server authenticates")
    return settings.actor


def progress_printer() -> Callable[[str], None]:
    """Timestamped progress lines for long steps (training, logging, registering)."""
    t0 = time.perf_counter()
    return lambda msg: print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from creditrisk.applicants.data import load_base_data
    from creditrisk.training.run import train_and_register

    progress = progress_printer()
    actor = actor_of(args, settings)
    changes = wiring.make_changes(settings)
    current = changes.champion()  # raises when the registry cannot answer: never retrain on an outage
    if current is not None and not args.force:
        print(f"{changes.registry.model_name}@{Alias.CHAMPION} is already version {current} "
              "(use --force to train a new one)")
        return 0
    progress(f"loading base data from {args.data or 'the synthetic generator'}")
    raw, clean, report = load_base_data(args.data, rows=args.rows, seed=args.seed)
    progress(f"{report.clean_rows:,} clean rows ({report.duplicates_dropped} duplicates and "
             f"{report.impossible_dropped} impossible rows dropped; missing kept: {report.missing_kept})")
    source = str(args.data) if args.data else f"synthetic:seed={args.seed}"
    result = train_and_register(changes.registry, raw, clean, run_name="bootstrap", progress=progress,
                                source=DataReference(source, policy=settings.log_training_data))
    reason = f"bootstrap on {source}" + (f" (forced, replacing version {current})" if current else "")
    move = changes.bootstrap(result.version, actor=actor, reason=reason, forced=args.force)
    m = result.metrics
    if move.action == "await_approval":
        progress(f"version {result.version} waits for a second person (approval policy): `creditrisk approve "
                 f"{result.version} --reason ...` by someone else crowns it")
        return 0
    changes.registry.set_model_tag("base_data", source)
    progress(f"champion = version {result.version}: ROC AUC {m['roc_auc']:.4f}, "
             f"accuracy {m['accuracy']:.4f}, default recall {m['recall_default']:.4f}, "
             f"Brier {m['brier']:.4f} (run {result.run_id})")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    registry = wiring.make_registry(settings)  # reads only: no lock needed
    out: dict[str, Any] = {"model": registry.model_name, "tracking_uri": redact(settings.mlflow_uri)}
    for alias in (Alias.CHAMPION, Alias.CHALLENGER, Alias.AWAITING, Alias.PREVIOUS):
        mv = registry.version_for(alias)
        out[alias] = None if mv is None else {"version": str(mv.version), "run_id": mv.run_id,
                                              "state": mv.tags.get("state")}
    trail = AuditTrail(registry)
    events = trail.events()
    out["last_event"] = events[-1] if events else None
    if out[Alias.AWAITING] is not None:
        out["waiting"] = _waiting(trail, events, out[Alias.AWAITING]["version"])
    print(json.dumps(out, indent=2, default=str))
    return 0


def _waiting(trail: AuditTrail, events: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """Why the version in @awaiting waits for a person: its event's reason, the guards change control
    judged, and the swap line of its evaluation."""
    event = next((e for e in reversed(events) if e.get("action") == "await_approval"
                  and str(e.get("version")) == version), None)
    if event is None:
        return {"version": version, "reason": "no await_approval event names it (`creditrisk audit`)"}
    whole = trail.detail(event)
    swaps = (whole.get("evidence") or {}).get("swaps")
    return {"version": version, "since": whole.get("at"), "requested_by": whole.get("actor"),
            "reason": whole.get("reason"), "guards": whole.get("guards", []),
            "swaps": swap_table.line(swaps) if isinstance(swaps, dict) else "no swap analysis recorded",
            "swap_table": swap_table.markdown(swaps).splitlines() if isinstance(swaps, dict) else [],
            "decide": f"creditrisk approve {version} --reason ... | creditrisk reject {version} --reason ..."}


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    actor = actor_of(args, settings)  # before any connection: a refused identity touches nothing
    changes = wiring.make_changes(settings)
    move = changes.rollback(actor=actor, reason=args.reason, to=args.to, force=args.force)
    if move.action == "await_approval":
        print(f"requested: version {move.version} waits for a second person (approval policy): "
              f"`creditrisk approve {move.version} --reason ...` by someone else puts it into service")
        return 0
    print(f"rolled back: version {move.version} is {Alias.CHAMPION} again (version {move.champion_before} "
          "is retired)")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    trail = AuditTrail(wiring.make_registry(settings))  # reads only: no lock needed
    print(f"{'seq':>4}  {'time (UTC)':19}  {'action':10} {'version':>7} {'champion':>8}  {'actor':20} reason")
    for e in trail.events():
        reason = str(e.get("reason", e.get("reason_head", "")))
        champion, actor = str(e.get("champion") or ""), str(e.get("actor", ""))[:20]
        print(f"{e.get('seq', '?'):>4}  {str(e.get('at', ''))[:19]:19}  {e.get('action', '?'):10} "
              f"{e.get('version', ''):>7} {champion:>8}  {actor:20} {reason[:args.width]}")
    problems = trail.verify() + trail.verify_aliases()
    for p in problems:
        print(f"BROKEN: {p}")
    print("audit trail verified: every event present and unaltered, the aliases as it says"
          if not problems else
          f"audit trail BROKEN: {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_card(args: argparse.Namespace, settings: Settings) -> int:
    """Where version N's latest model card is; it opens nothing."""
    from creditrisk.model_card import card as model_card

    registry = wiring.make_registry(settings)  # reads only: no lock needed
    card = model_card.latest(registry, args.version)
    if card is None:
        raise RegistryError(f"version {args.version} has no model card yet (one is issued at its first "
                            "decision)")
    print(f"model card of {registry.model_name} version {args.version} (latest issue):")
    print(f"  html      {card.uri}")
    print(f"  markdown  runs:/{card.run_id}/{card.markdown_path}")
    for label, path in (("html file", card.html_path), ("md file", card.markdown_path)):
        local = model_card.local_path(registry, card.run_id, path)
        if local is not None:
            print(f"  {label:9} {local}")
    if settings.mlflow_uri.startswith(("http://", "https://")):
        ui = redact(settings.mlflow_uri).rstrip("/")
        print(f"  in MLflow {ui}/#/models/{registry.model_name}/versions/{args.version} (the description "
              "links it)")
    print(f"  issues    {len(model_card.issues(registry, card.run_id))} in runs:/{card.run_id}/model_card/ "
          "(one per decision, none overwritten)")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> dict[str, Command]:  # type: ignore[type-arg]
    """Register the commands' arguments; returns name -> handler."""
    b = sub.add_parser("bootstrap", help="train the first model and make it champion")
    b.add_argument("--data", help="CSV of the credit-risk schema (default: synthetic data)")
    b.add_argument("--rows", type=int, default=32_581, help="synthetic rows when --data is not given")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--force", action="store_true", help="train and crown a new champion even if one exists "
                   "(under the approval policy: a request that another person approves)")
    sub.add_parser("status", help="the champion, challenger, awaiting and previous versions, the last event")
    c = sub.add_parser("rollback", help="put the previous champion back")
    c.add_argument("--reason", required=True, help="recorded in the audit trail")
    c.add_argument("--to", default=None, help="a version that served (default: @previous)")
    c.add_argument("--force", action="store_true", help="allow --to a version that never served (under the "
                   "approval policy: a request that another person approves)")
    k = sub.add_parser("card", help="print where a version's latest model card is (opens nothing)")
    k.add_argument("version", help="the version number")
    a = sub.add_parser("audit", help="print the audit trail and verify that it is whole")
    a.add_argument("--width", type=int, default=80, help="characters of each reason shown")
    for name in ("bootstrap", "rollback"):
        sub.choices[name].add_argument("--actor", default=None, help="who decided, locally only (default: "
                                       "$CREDITRISK_ACTOR or the OS user; production: the MLflow identity)")
    return {"bootstrap": cmd_bootstrap, "status": cmd_status, "rollback": cmd_rollback, "audit": cmd_audit,
            "card": cmd_card}
