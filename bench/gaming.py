"""Issue 22: how many decisions an applicant moves by how they state a field.

Usage: python bench/gaming.py [PATH] [--profiles N]   (default ../shared/data/credit_risk_dataset.csv,
else synthetic data; `--synthetic` forces it). Trains two champions on the same 70% split, as
`creditrisk bootstrap` does: before (the model read loan_percent_income as stated: trained on the
file's value, scored with the applicant's, which the contract took within 0.10 of loan_amnt /
person_income) and now (the server computes it; a stated value must agree within 0.01). Real holdout
profiles with loan_amnt / person_income in [0.12, 0.90] are then sent honestly and with one field
misstated; a decision "moved" when it differs from the honest body's, a probe "refused" is a 422.
The bank-supplied fields (grade, rate, previous default), still taken from the request, are
misstated by one step: a grade letter, one point of interest rate, the flag flipped.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from creditrisk.applicants.schema import CATEGORIES, FEATURES, LABEL, Applicant
from creditrisk.model.credit_model import CreditModel, metrics, split_holdout, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stated_ratio import base_with_stated, fit_stated  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "credit_risk_dataset.csv"
GRADES = CATEGORIES["loan_grade"]
Body = dict[str, Any]
Probe = Callable[[Body], Body | None]  # None: the probe does not apply to this profile


def _grade(step: int) -> Probe:
    def probe(b: Body) -> Body | None:
        i = GRADES.index(b["loan_grade"]) + step
        return {**b, "loan_grade": GRADES[i]} if 0 <= i < len(GRADES) else None
    return probe


def _rate(points: float) -> Probe:
    def probe(b: Body) -> Body | None:
        rate = b["loan_int_rate"] + points
        return {**b, "loan_int_rate": round(rate, 2)} if 1 <= rate <= 40 else None
    return probe


def _ratio(shift: float) -> Probe:
    def probe(b: Body) -> Body | None:
        return {**b, "loan_percent_income": round(b["loan_amnt"] / b["person_income"] + shift, 2)}
    return probe


def _flag(b: Body) -> Body | None:
    return {**b, "cb_person_default_on_file": "N" if b["cb_person_default_on_file"] == "Y" else "Y"}


PROBES: dict[str, Probe] = {
    "loan_percent_income stated 0.09 below": _ratio(-0.09),
    "loan_percent_income stated 0.09 above": _ratio(+0.09),
    "loan_grade one letter better": _grade(-1), "loan_grade one letter worse": _grade(+1),
    "loan_int_rate 1 point lower": _rate(-1.0), "loan_int_rate 1 point higher": _rate(+1.0),
    "cb_person_default_on_file flipped": _flag,
}


def decide_before(model: CreditModel, body: Body) -> int | None:
    """The old contract: a stated ratio within 0.10 of the real one was taken, and the model used it."""
    ratio = body["loan_amnt"] / body["person_income"]
    if not (0 < body["loan_percent_income"] <= 1 and abs(body["loan_percent_income"] - ratio) <= 0.10):
        return None
    return int(model.predict(model.score_rows([body]))[0])


def decide_now(model: CreditModel, body: Body) -> int | None:
    """Today's contract and model: `Applicant` (the server computes the ratio) then the score."""
    try:
        row = Applicant(**body).to_row()
    except ValidationError:
        return None
    return int(model.predict(model.score_rows([row]))[0])


def count(model: CreditModel, decide: Callable[[CreditModel, Body], int | None], profiles: list[Body],
          probe: Probe) -> dict[str, int]:
    """Profiles the probe applies to, decisions it moved each way, and probes refused (422)."""
    tally = {"tried": 0, "to_denied": 0, "to_approved": 0, "refused": 0}
    for body in profiles:
        honest, probed = decide(model, body), probe(body)
        if probed is None or honest is None:
            continue
        got = decide(model, probed)
        tally["tried"] += 1
        tally["refused"] += got is None
        tally["to_denied"] += got == 1 and honest == 0
        tally["to_approved"] += got == 0 and honest == 1
    return tally


def cell(t: dict[str, int]) -> str:
    moved = t["to_denied"] + t["to_approved"]
    return (f"{moved} of {t['tried']} moved ({t['to_denied']} to denied, {t['to_approved']} to pre-approved)"
            + (f", {t['refused']} refused (422)" if t["refused"] else ""))


def main(argv: list[str]) -> int:
    n = int(argv[argv.index("--profiles") + 1]) if "--profiles" in argv else 200
    paths = [a for a in argv if not a.startswith("--") and not a.isdigit()]
    path = Path(paths[0]) if paths else (DEFAULT if DEFAULT.is_file() else None)
    path = None if "--synthetic" in argv else path
    df, source = base_with_stated(path)
    print(f"data: {source}")
    fit, hold = split_holdout(df)
    t0 = time.perf_counter()
    models = {"before": (fit_stated(fit), decide_before), "now": (train(fit), decide_now)}
    print(f"two champions trained on the same {len(fit):,} rows in {time.perf_counter() - t0:.1f} s; "
          f"on the {len(hold):,}-row holdout:")
    for name, (model, _) in models.items():
        m = metrics(hold[LABEL].to_numpy(), model.score_frame(hold), model.threshold)
        print(f"  {name:<6} AUC {m['roc_auc']:.4f}, accuracy {m['accuracy']:.4f}, default recall "
              f"{m['recall_default']:.3f}, Brier {m['brier']:.4f}")
    hold = hold.dropna(subset=FEATURES)
    ratio = hold["loan_amnt"] / hold["person_income"]
    picked = hold[(ratio >= 0.12) & (ratio <= 0.9)].sample(n, random_state=22)
    # The honest body states the ratio as the portal computed it, to 2 decimals.
    profiles = [{**r, "person_age": int(r["person_age"]),
                 "loan_percent_income": round(r["loan_amnt"] / r["person_income"], 2)}
                for r in picked[FEATURES].to_dict("records")]
    for name, (model, decide) in models.items():
        denied = sum(decide(model, b) == 1 for b in profiles)
        print(f"profiles: {len(profiles)} holdout applicants with loan_amnt / person_income in [0.12, 0.90]; "
              f"{denied} denied by the {name} champion when stated honestly")
    print("\n| probe | before: the stated ratio used | now: the server computes it |\n|---|---|---|")
    moved_now = 0
    for name, probe in PROBES.items():
        tallies = {m: count(model, decide, profiles, probe) for m, (model, decide) in models.items()}
        print(f"| {name} | {cell(tallies['before'])} | {cell(tallies['now'])} |")
        if name.startswith("loan_percent_income"):
            moved_now += tallies["now"]["to_denied"] + tallies["now"]["to_approved"]
    print(f"\nloan_percent_income probes that moved a decision now: {moved_now} (must be 0)")
    return 0 if moved_now == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
