"""The sections of the model card, from the facts the registry holds about one version.

Every number is a `Figure` named after the run metric it shows (the card prints the run's own
figures, never a recomputation); the words say what the numbers mean and where they come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditrisk.applicants.schema import CATEGORIES, FEATURES, NUMERIC_RULES
from creditrisk.model.explain import MAX_REASONS
from creditrisk.model.fairness import ELDERLY_AGE, FOUR_FIFTHS, GROUP_FIGURES, MIN_GROUP_ROWS
from creditrisk.model_card.render import Cell, Figure, Image, Section, Table
from creditrisk.model_card.swap_section import swap_section
from creditrisk.registry.audit import MADE_CHAMPION
from creditrisk.training.holdout import CARD_CI_SAMPLES

SECTION_IDS = ("intended-use", "training-data", "features", "threshold", "performance", "calibration",
               "groups", "age-rule", "reasons", "swaps", "promotion-record")
NOTES = {"person_age": f"monotone: a higher age never raises the probability of default (Reg B, "
                       f"{ELDERLY_AGE}+)",
         "loan_grade": "the lender's pricing: never a reason, credited to the characteristics",
         "loan_int_rate": "the lender's pricing: never a reason, credited to the characteristics"}


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states, read from the registry."""

    model: str
    version: str
    run_id: str
    experiment_id: str
    state: str
    params: dict[str, str]
    metrics: dict[str, float]
    age_rule: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    calibration_png: bytes | None
    events: list[dict[str, Any]]  # the audit events about this version, whole, oldest first

    def fig(self, key: str) -> Figure:
        return Figure(key, self.metrics.get(key))


def intended_use() -> Section:
    return Section("intended-use", "Intended use", [
        "Pre-approval of consumer loan applications sent through the creditrisk portal or POST /predict: "
        "the probability that the applicant defaults, a decision at the threshold below (pre-approved or "
        f"denied) and, for a denial, up to {MAX_REASONS} reasons in the applicant's own terms. A "
        "pre-approval is not a loan offer: the lender's underwriting follows.",
        "Out of scope:",
        ["a final credit decision without underwriting review", "setting the grade or the interest rate "
         "(they are inputs: the lender's pricing)", "applicants outside the schema's ranges (refused)",
         "other products (mortgages, business or secured loans)", "populations unlike the training data "
         "(the weekly drift check watches for them)", "any use of a characteristic Regulation B protects, "
         "other than age as 12 CFR 1002.6(b)(2) allows"]])


def training_data(f: CardFacts) -> Section:
    p = f.params
    policy = p.get("training_data.policy", "copy")
    copies = ": Parquet copies in the run" if policy == "copy" else ""
    return Section("training-data", "Training data", [Table(["what", "value"], [
        ["source", p.get("data_source", "not recorded")],
        ["rows (training split + holdout)", p.get("training_data.rows", "not recorded")],
        ["holdout rows (30%, stratified on the label)", f.fig("n_rows")],
        ["production rows' time window", p.get("training_data.window", "none")],
        ["outcomes reported before", p.get("training_data.outcome_cutoff", "none")],
        ["label rate (share of defaults), training split", f.fig("training_default_rate")],
        ["label rate, holdout", f.fig("default_rate")],
        ["SHA-256 of every training row", p.get("training_data.sha256", "not recorded")]]),
        f"Recorded by reference ({policy} policy{copies}); "
        "this card holds aggregates only, no applicant row."])


def features() -> Section:
    rows: list[list[Cell]] = []
    for name in FEATURES:
        unit = NUMERIC_RULES[name].unit if name in NUMERIC_RULES else "one of " + ", ".join(CATEGORIES[name])
        rows.append([name, unit, NOTES.get(name, "")])
    rows.append(["loan_to_income (derived)", "loan_amnt / person_income, unrounded", "reasons count it as "
                 "loan_percent_income"])
    return Section("features", "Features and their units", [Table(["field", "unit or values", "note"], rows)])


def threshold(f: CardFacts) -> Section:
    return Section("threshold", "Decision threshold", [
        Table(["deny when the probability of default is at or above"], [[f.fig("threshold")]]),
        "The model is calibrated (see below), so the threshold is a probability of default. A missed "
        "default costs the bank far more than a declined good applicant, so it sits below 0.5: on the real "
        "data 0.40 lifts default recall from 0.738 to 0.759 for 0.1 point of accuracy. It is stored in the "
        "model artifact: a change is a new version, reviewed like any other."])


def performance(f: CardFacts) -> Section:
    names = {"roc_auc": "ROC AUC (ranking)", "pr_auc": "PR AUC", "brier": "Brier score (calibration)",
             "accuracy": "accuracy", "recall_default": "default recall",
             "precision_default": "default precision"}
    rows: list[list[Cell]] = [[label, f.fig(k), f.fig(f"{k}_ci_low") if k != "pr_auc" else "",
                               f.fig(f"{k}_ci_high") if k != "pr_auc" else ""] for k, label in names.items()]
    return Section("performance", "Performance on the holdout", [
        Table(["metric", "holdout", "95% CI low", "95% CI high"], rows),
        f"Percentile bootstrap intervals over {CARD_CI_SAMPLES} resamples of the holdout rows; recall and "
        "precision at the decision threshold."])


def calibration(f: CardFacts) -> Section:
    return Section("calibration", "Calibration", [
        Image("calibration plot, holdout", "../plots/calibration.png", f.calibration_png),
        Table(["holdout", "value"], [
            ["mean predicted probability of default", f.fig("predicted_default_rate")],
            ["observed default rate", f.fig("default_rate")], ["Brier score", f.fig("brier")]])])


def groups(f: CardFacts) -> Section:
    head = ["attribute", "group", "rows", "approval rate", "ratio to most approved", "labelled rows",
            "observed default rate", "predicted default rate", "default recall", "default precision"]
    rows: list[list[Cell]] = []
    warnings = []
    for g in f.groups:
        figs = {k: f.fig(f"group.{g['key']}.{k}") for k in ("rows", "labelled_rows", *GROUP_FIGURES)}
        rows.append([g["attribute"], g["group"], figs["rows"], figs["approval_rate"], figs["impact_ratio"],
                     figs["labelled_rows"], figs["observed_default_rate"], figs["predicted_default_rate"],
                     figs["recall_default"], figs["precision_default"]])
        if g.get("four_fifths_warning"):
            warnings.append(f"{g['attribute']} {g['group']}: approved at {g['impact_ratio']:.2f} of the most "
                            f"approved group's rate (four-fifths rule: below {FOUR_FIFTHS})")
        if g.get("small"):
            warnings.append(f"{g['attribute']} {g['group']}: {g['rows']} rows, under {MIN_GROUP_ROWS}: its "
                            "rates are too uncertain to judge")
    blocks: list[Any] = [Table(head, rows) if rows else "Not recorded for this version.",
                         "Holdout rows, every one labelled. Approval at the decision threshold; the ratio is "
                         "against the attribute's most approved group of at least "
                         f"{MIN_GROUP_ROWS} rows. A warning, never a gate."]
    blocks += ["Warnings:", warnings] if warnings else ["No four-fifths warning."]
    return Section("groups", "Outcomes by group", blocks)


def age_rule(f: CardFacts) -> Section:
    rows: list[list[Cell]] = []
    for r in f.age_rule:
        kind = r["population"].split()[0]
        rows.append([r["population"], *(f.fig(f"age_rule.{kind}.{k}")
                                         for k in ("profiles", "violations", "worst_gap"))])
    held = bool(rows) and all(r.get("passed") for r in f.age_rule)
    return Section("age-rule", "Age rule (Regulation B)", [
        f"12 CFR 1002.6(b)(2): an applicant aged {ELDERLY_AGE} or older may not be assigned a negative "
        "factor for their age, i.e. be treated less favourably than the most favoured younger age "
        "(1002.2(v)). "
        "Enforced in training: person_age is a monotone decreasing feature. Verified by scoring each "
        "profile at every age 18-100: its worst score at 62+ must not exceed its best at a valid age "
        "under 62 (gap <= 0). Age is never a reason given to an applicant aged 62 or older.",
        Table(["profiles", "checked", "breaking the rule", "worst gap"], rows) if rows else
        "Not recorded for this version.",
        f"Result: {'the rule holds' if held else 'NOT SHOWN TO HOLD: this version may not serve'}."])


def reasons(f: CardFacts) -> Section:
    return Section("reasons", "Reasons given for a denial", [
        f"Up to {MAX_REASONS} applicant characteristics whose contribution raised the probability of "
        "default, largest first, in the applicant's own terms (\"Loan amount is 59% of your income\"). "
        "Contributions are XGBoost's per-feature log-odds (Saabas). The loan grade and interest rate are "
        "the lender's own pricing, never a reason: their effect is credited to the characteristics by a "
        "least-squares fit on the training rows; the part they do not explain is credited to nobody.",
        Table(["share of the pricing effect the characteristics explain (R², training rows)"],
              [[f.fig("pricing_attribution_r2")]])])


def promotion_record(f: CardFacts) -> Section:
    rows: list[list[Cell]] = [[str(e.get("seq")), str(e.get("at", ""))[:19], str(e.get("action")),
                               str(e.get("actor", "")), str(e.get("reason", e.get("reason_head", "")))]
                              for e in f.events]
    evidence = [f"event {e['seq']} ({e['action']}): " + "; ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in e["evidence"].items()
        if k != "swaps")  # the swap analysis has its own section
        for e in f.events if isinstance(e.get("evidence"), dict)]
    served = [e for e in f.events if e.get("action") in MADE_CHAMPION]
    who = (f"Put into service by {served[-1].get('actor')} ({served[-1]['action']}, "
           f"{str(served[-1].get('at', ''))[:19]})." if served else
           f"Not put into service (state: {f.state}).")
    return Section("promotion-record", "Promotion record", [
        Table(["event", "time (UTC)", "decision", "by", "reason"], rows) if rows else "No decision yet.",
        *(["Evidence:", evidence] if evidence else []), who])


def sections(f: CardFacts) -> list[Section]:
    return [intended_use(), training_data(f), features(), threshold(f), performance(f), calibration(f),
            groups(f), age_rule(f), reasons(f), swap_section(f.events), promotion_record(f)]
