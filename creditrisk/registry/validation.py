"""The validation gate: what must hold of a version before it may decide loans.

Checked before a version becomes challenger, before it becomes champion (promotion, rollback,
bootstrap) and again by every serving replica before it swaps to it: the artifact loads; its
feature spec is the one the serving schema encodes (same columns, codes and types); its threshold
is a probability strictly between 0 and 1; a fixed canary set of applicants scores finite
probabilities in [0, 1], with reasons for every denial, and never worse at an age of 62 or more
than at their most favoured age under 62 (Regulation B's age rule, `creditrisk.model.fairness`); and
those scores equal the ones recorded in the artifact at training, a record whose digest the
registered version carries as a tag (so the bytes that serve are the model that was evaluated,
and the artifact cannot vouch for itself). The verdict carries the digest of the files it checked
(`artifact_digest`), which change control records in every event that moves `@champion` and every
replica compares with its own download.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import FEATURES
from creditrisk.model.credit_model import CreditModel
from creditrisk.model.explain import reason_codes
from creditrisk.model.fairness import age_rule
from creditrisk.model.features import FeatureSpec

# The gate's fixed synthetic canary set every version must score as recorded at training; the
# tolerance allows float32 input rounding, nothing more.
CANARY_SEED = 20261127
CANARY_ROWS = 64
CANARY_TOLERANCE = 1e-6

CANARY_FILE = "canary.json"
CANARY_TAG = "canary_sha256"


def artifact_digest(folder: Path) -> str:
    """SHA-256 over the folder's files: each relative path (sorted) and its bytes, length-prefixed, so
    a renamed, moved, added or altered file changes it and nothing else (no time stamps) does."""
    h = hashlib.sha256()
    root = Path(folder)
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    for relative in sorted(files):
        name, data = relative.encode(), files[relative].read_bytes()
        h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


@dataclass(frozen=True)
class Validation:
    """The gate's verdict on one version: passed, or every problem found; and its files' digest."""

    version: str
    problems: list[str] = field(default_factory=list)
    digest: str | None = None  # `artifact_digest` of the files checked (None: they could not be read)

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return "passed" if self.passed else "; ".join(self.problems)


def canary_applicants() -> list[dict[str, Any]]:
    """A fixed, seeded set of synthetic applicants (no real person's data)."""
    from creditrisk.applicants.synth import generate

    frame = generate(CANARY_ROWS, seed=CANARY_SEED)[FEATURES]
    rows = frame.to_dict("records")
    for r in rows:
        r["person_age"] = int(r["person_age"])
    return rows


def record_canary(model: CreditModel, folder: Path) -> str:
    """Write the canary scores of `model` into its artifact folder (at training); returns the file's
    SHA-256, which the version carries as its tag `canary_sha256` (so the artifact cannot vouch
    for itself)."""
    scores = model.score_rows(canary_applicants())
    text = json.dumps({"seed": CANARY_SEED, "rows": CANARY_ROWS, "scores": scores.tolist()})
    (Path(folder) / CANARY_FILE).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def validate(version: str, model: CreditModel, folder: Path, tags: Mapping[str, str]) -> Validation:
    """Every check of the module docstring on a loaded artifact (`folder` holds its files; `tags`
    are the registered version's, holding the canary record's digest)."""
    return Validation(version, _problems(model, folder, tags), artifact_digest(folder))


def _problems(model: CreditModel, folder: Path, tags: Mapping[str, str]) -> list[str]:
    """What `validate` finds wrong, in the order checked."""
    problems: list[str] = []
    if model.spec != FeatureSpec.default():
        problems.append("its feature spec differs from the serving schema's (columns, codes or types)")
    if not (math.isfinite(model.threshold) and 0.0 < model.threshold < 1.0):
        problems.append(f"threshold {model.threshold!r} is not a probability strictly between 0 and 1")
    if problems:  # scoring with a foreign encoding or threshold says nothing more
        return problems
    rows = canary_applicants()
    try:
        scores = model.score_rows(rows)
    except Exception as exc:  # noqa: BLE001 - any failure to score is the finding
        return [f"the canary applicants could not be scored: {exc}"]
    if not (np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()):
        problems.append("a canary score is not a finite probability in [0, 1]")
    denied = np.flatnonzero(model.predict(scores))
    if len(denied) and not all(reason_codes(model, model.spec.encode_rows([rows[i] for i in denied]))):
        problems.append("a denied canary applicant got no reasons")
    try:
        problems += age_rule(model, pd.DataFrame(rows), "canary profiles").problems()
    except Exception as exc:  # noqa: BLE001 - a rule that cannot be checked does not pass (fail closed)
        problems.append(f"the age rule could not be checked: {type(exc).__name__}: {exc}")
    recorded_path = Path(folder) / CANARY_FILE
    if not recorded_path.is_file():
        problems.append(f"the artifact has no {CANARY_FILE} (scores recorded at training) to compare with")
    elif hashlib.sha256(recorded_path.read_bytes()).hexdigest() != tags.get(CANARY_TAG):
        problems.append(f"its {CANARY_FILE} is not the one registered with the version ({CANARY_TAG})")
    else:
        recorded = np.asarray(json.loads(recorded_path.read_text())["scores"], dtype=float)
        if recorded.shape != scores.shape or not np.allclose(scores, recorded, rtol=0, atol=CANARY_TOLERANCE):
            problems.append("its canary scores differ from those recorded at training")
    return problems
