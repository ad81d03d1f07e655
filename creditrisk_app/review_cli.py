"""On-call and review commands: train a candidate by hand, evaluate the challenger, approve or reject it.

They run the same core calls as the Dagster assets (`creditrisk.training.retraining`) and write to the same
audit trail. Windows end at `--as-of` (a date, default now, UTC): a candidate trains on labelled
requests older than the last EVALUATION_DAYS before it, and the evaluation judges on those days.
"""
from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from creditrisk import wiring
from creditrisk.monitoring.windows import EVALUATION_DAYS
from creditrisk.registry.client import RegistryError
from creditrisk.registry.states import Alias, Outcome
from creditrisk.settings import Settings
from creditrisk.training.lineage import DataReference
from creditrisk.training.retraining import PRODUCTION_WEIGHT, evaluate, train_candidate
from creditrisk_app.model_cli import Command, actor_of, progress_printer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_of(args: argparse.Namespace) -> datetime:
    if args.as_of is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(args.as_of).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--as-of must be a date like 2026-11-23, got {args.as_of!r}") from None


def cmd_candidate(args: argparse.Namespace, settings: Settings) -> int:
    from creditrisk.applicants.data import load_base_data

    progress = progress_printer()
    actor = actor_of(args, settings)
    changes, store = wiring.make_changes(settings), wiring.make_store(settings)
    as_of = _as_of(args)
    cutoff = as_of - timedelta(days=EVALUATION_DAYS)
    production = store.read_window(EPOCH, cutoff, labelled_only=True, reported_before=as_of)
    data = args.data or settings.base_data
    raw, clean, _ = load_base_data(data)
    progress(f"training on {len(clean):,} base rows and {len(production):,} labelled requests "
             f"before {cutoff:%Y-%m-%d}")
    candidate = train_candidate(
        changes, (raw, clean), production, production_weight=PRODUCTION_WEIGHT, run_name="manual-candidate",
        data=DataReference(f"{data or 'synthetic'} + request log", window=f"..{cutoff:%Y-%m-%d}",
                           outcome_cutoff=as_of.isoformat(), policy=settings.log_training_data),
        actor=actor, reason=args.reason,
        tags={"started_by": actor}, progress=progress)
    if candidate.passed:
        print(f"version {candidate.version} is the challenger (gates passed); "
              f"`creditrisk evaluate` judges it against the champion")
        return 0
    problems = "; ".join(f"{g}: {'; '.join(p)}" for g, p in candidate.gates.items() if p)
    print(f"version {candidate.version} was rejected: {problems}")
    return 1


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    actor = actor_of(args, settings)
    changes, store = wiring.make_changes(settings), wiring.make_store(settings)
    challenger = changes.challenger()
    if challenger is None:
        raise RegistryError(f"there is no @{Alias.CHALLENGER} to evaluate "
                            "(`creditrisk candidate` makes one)")
    end = _as_of(args)
    start = end - timedelta(days=EVALUATION_DAYS)
    rows = store.read_window(start, end, labelled_only=True)
    applicants = store.read_window(*changes.policy.swaps.window(start, end), reported_before=end)
    ev = evaluate(changes, challenger, rows, actor=actor,
                  context={"evaluation_window": f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}", "started_by": "cli"},
                  applicants=applicants)
    print(f"{ev.outcome}: version {challenger} vs champion {ev.champion_before}: {ev.reason}")
    if ev.swaps is not None:
        print(ev.swaps.line())
        print(ev.swaps.markdown().rstrip())
    elif ev.decision is not None:
        print("no swap analysis: no logged applicant in the swap window")
    if ev.outcome is Outcome.AWAITING_APPROVAL:
        print(f"waiting for a second person: `creditrisk approve {challenger} --reason ...` "
              f"or `creditrisk reject {challenger} --reason ...`")
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    actor = actor_of(args, settings)
    move = wiring.make_changes(settings).approve(args.version, actor=actor, reason=args.reason)
    print(f"approved: version {move.version} is {Alias.CHAMPION} (version {move.champion_before} is "
          f"{Alias.PREVIOUS})")
    return 0


def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    actor = actor_of(args, settings)
    wiring.make_changes(settings).reject(args.version, actor=actor, reason=args.reason)
    print(f"rejected: version {args.version} will not serve; the champion is unchanged")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> dict[str, Command]:  # type: ignore[type-arg]
    """Register the commands' arguments; returns name -> handler."""
    c = sub.add_parser("candidate", help="train a candidate on base data + labelled requests (no promotion)")
    c.add_argument("--data", help="CSV of base training data (default: CREDITRISK_DATA or synthetic)")
    c.add_argument("--reason", required=True, help="why a candidate is trained by hand (recorded)")
    e = sub.add_parser("evaluate", help="judge the challenger against the champion on the last labelled days")
    for name in ("approve", "reject"):
        p = sub.add_parser(name, help=f"{name} a version waiting for approval: a winner, or a forced "
                           "bootstrap or rollback (as a second person)")
        p.add_argument("version", help="the challenger's version number")
        p.add_argument("--reason", required=True, help="recorded in the audit trail")
    for p in (c, e):
        p.add_argument("--as-of", default=None, help="end of the windows, a UTC date (default: now)")
    for name in ("candidate", "evaluate", "approve", "reject"):
        sub.choices[name].add_argument("--actor", default=None,
                                       help="who acts, locally only (default: $CREDITRISK_ACTOR or the OS "
                                       "user; production: the MLflow identity)")
    return {"candidate": cmd_candidate, "evaluate": cmd_evaluate, "approve": cmd_approve,
            "reject": cmd_reject}
