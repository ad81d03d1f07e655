"""The model card of a version: what a validator reads (EU AI Act Annex IV; SR 11-7 documentation).

Built only from what the registry holds about the version: its MLflow run (parameters, metrics,
the calibration plot, the fairness tables) and the audit events about it. Issued after every
decision about the version (`issue`, called by `creditrisk.registry.changes`) as a new Markdown source and
HTML page in the run's `model_card/` folder, named after the audit event, so an earlier issue is
never overwritten; the version's tag `model_card` and its description name the latest.
"""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow

from creditrisk.model_card.render import Document, to_html, to_markdown
from creditrisk.model_card.sections import CardFacts, sections
from creditrisk.registry.client import Registry
from creditrisk.training.holdout import AGE_RULE_FILE, GROUPS_FILE

CARD_FOLDER = "model_card"  # in the version's MLflow run; one file pair per issue, never overwritten

CARD_TAG = "model_card"
log = logging.getLogger("creditrisk.model_card.card")


def _artifact(registry: Registry, run_id: str, path: str, tmp: Path) -> Path | None:
    """A run artifact on local disk, or None when the run has none (a run older than the card)."""
    names = {a.path for a in registry.client.list_artifacts(run_id, str(Path(path).parent))}
    if path not in names:
        return None
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{run_id}/{path}", dst_path=str(tmp),
                                                    tracking_uri=registry.tracking_uri))


def gather(registry: Registry, version: str, events: list[dict[str, Any]]) -> CardFacts:
    """The facts of `version` from its run; `events` are the trail's (whole) events, any version."""
    mv = registry.version(version)
    run = registry.client.get_run(mv.run_id)
    with tempfile.TemporaryDirectory(prefix="creditrisk-card-") as tmp:
        found = {p: _artifact(registry, mv.run_id, p, Path(tmp))
                 for p in (AGE_RULE_FILE, GROUPS_FILE, "plots/calibration.png")}
        tables = {p: json.loads(f.read_text()) if f else [] for p, f in found.items() if p.endswith(".json")}
        png = found["plots/calibration.png"].read_bytes() if found["plots/calibration.png"] else None
    return CardFacts(registry.model_name, str(version), mv.run_id, run.info.experiment_id,
                     mv.tags.get("state", "registered"), dict(run.data.params), dict(run.data.metrics),
                     tables[AGE_RULE_FILE], tables[GROUPS_FILE], png,
                     [e for e in events if str(e.get("version")) == str(version)])


def document(facts: CardFacts) -> Document:
    last = facts.events[-1] if facts.events else {}
    lead = [f"Version {facts.version} of the registered model {facts.model}, MLflow run {facts.run_id}; "
            f"state: {facts.state}.",
            f"Issued {last.get('at', 'before any decision')} after audit event {last.get('seq', '-')} "
            f"({last.get('action', 'registered')} by {last.get('actor', '-')}). Every earlier issue stays in "
            f"the run's {CARD_FOLDER}/ folder; `creditrisk audit` verifies the events quoted here."]
    return Document(f"Model card: {facts.model} version {facts.version}", lead, sections(facts))


@dataclass(frozen=True)
class IssuedCard:
    html_path: str  # artifact path in the run
    markdown_path: str
    run_id: str
    uri: str  # runs:/<run>/<html path>


def issue(registry: Registry, version: str, events: list[dict[str, Any]]) -> IssuedCard:
    """Render the card after the last event about `version`, log both files, point the version at them."""
    facts = gather(registry, version, events)
    last = facts.events[-1] if facts.events else {"seq": 0, "action": "registered"}
    stem = f"{CARD_FOLDER}/v{facts.version}-e{int(last['seq']):06d}-{last['action']}"
    doc = document(facts)
    registry.client.log_text(facts.run_id, to_markdown(doc), f"{stem}.md")
    registry.client.log_text(facts.run_id, to_html(doc), f"{stem}.html")
    card = IssuedCard(f"{stem}.html", f"{stem}.md", facts.run_id, f"runs:/{facts.run_id}/{stem}.html")
    registry.set_version_tags(version, {CARD_TAG: card.html_path, f"{CARD_TAG}.markdown": card.markdown_path})
    link = f"#/experiments/{facts.experiment_id}/runs/{facts.run_id}/artifactPath/{card.html_path}"
    registry.client.update_model_version(
        registry.model_name, version,
        description=f"Model card (issued after audit event {last['seq']}, {last['action']}): "
                    f"[{card.html_path}]({link}) · `{card.uri}` · source `{card.uri[:-5]}.md`. "
                    "`creditrisk card " + facts.version + "` prints where it is.")
    return card


def issue_quietly(registry: Registry, versions: list[str],
                  read_events: Callable[[], list[dict[str, Any]]]) -> list[IssuedCard]:
    """`issue` for each version; a card that cannot be issued is logged, never fails the recorded move."""
    issued = []
    try:
        events = read_events()
        for version in versions:
            issued.append(issue(registry, version, events))
    except Exception as exc:  # noqa: BLE001 - documentation must not undo or fail a recorded move
        log.warning("model card of version(s) %s not issued: %s: %s", ", ".join(versions),
                    type(exc).__name__, exc)
    return issued


def issues(registry: Registry, run_id: str) -> list[str]:
    """Every card page issued in a run, oldest first (the names sort by audit event)."""
    found = registry.client.list_artifacts(run_id, CARD_FOLDER)
    return sorted(a.path for a in found if a.path.endswith(".html"))


def local_path(registry: Registry, run_id: str, path: str) -> Path | None:
    """Where an artifact lies on this machine's disk, for a file artifact store (else None)."""
    root = registry.client.get_run(run_id).info.artifact_uri
    if root.startswith("file://") or "://" not in root:
        return Path(root.removeprefix("file://")) / path
    return None


def latest(registry: Registry, version: str) -> IssuedCard | None:
    """Where the version's latest card is (None if none was issued)."""
    mv = registry.version(version)
    path = mv.tags.get(CARD_TAG)
    if not path:
        return None
    return IssuedCard(path, mv.tags.get(f"{CARD_TAG}.markdown", path[:-5] + ".md"), mv.run_id,
                      f"runs:/{mv.run_id}/{path}")
