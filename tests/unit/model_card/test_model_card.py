"""The model card: rendered in a real headless Chromium, its figures equal to the run's, re-issued per
decision and never overwritten, found by `creditrisk card N`.

Chromium is Debian's (`bash tests/serving/setup_browser.sh`); never `playwright install`.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from model_changes import CLEAR_WIN, changes_for, crown

from creditrisk.applicants.data import load_base_data
from creditrisk.model.credit_model import TrainConfig
from creditrisk.model_card import card as model_card
from creditrisk.model_card.sections import SECTION_IDS
from creditrisk.training.run import train_and_register
from creditrisk_app.cli import main

CHROMIUM = Path("/usr/bin/chromium")
MUST_SHOW = ("roc_auc", "roc_auc_ci_low", "roc_auc_ci_high", "brier", "brier_ci_high", "recall_default",
             "threshold", "training_default_rate", "predicted_default_rate", "pricing_attribution_r2",
             "age_rule.holdout.violations", "age_rule.synthetic.profiles", "group.age.62_plus.approval_rate",
             "group.home.RENT.impact_ratio", "group.age.18-24.observed_default_rate")


def rendered(html_file: Path, tmp: Path) -> dict[str, Any]:
    """What Chromium shows: section ids and titles, every data-metric figure, the plot's pixel width."""
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium missing: run `bash tests/serving/setup_browser.sh` (`make test` does)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp), executable_path=str(CHROMIUM), headless=True,
                                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = ctx.new_page()
            page.goto(html_file.as_uri())
            return {"sections": page.eval_on_selector_all("section", "s => s.map(x => [x.id, "
                                                          "x.querySelector('h2').innerText])"),
                    "figures": page.eval_on_selector_all("[data-metric]", "e => e.map(x => "
                                                         "[x.dataset.metric, x.innerText])"),
                    "plot_width": page.eval_on_selector("#calibration img", "i => i.naturalWidth"),
                    "text": page.inner_text("body")}
        finally:
            ctx.close()


@pytest.mark.slow
def test_the_card_shows_every_section_and_the_runs_own_figures(registry, champion, tmp_path: Path) -> None:
    # The card issued when version 1 was crowned: later tests of the session may decide about it too.
    html = model_card.issues(registry, champion.run_id)[0]
    assert html.endswith("-bootstrap.html") and model_card.latest(registry, champion.version) is not None
    shown = rendered(model_card.local_path(registry, champion.run_id, html), tmp_path)
    assert [s[0] for s in shown["sections"]] == list(SECTION_IDS) and all(s[1] for s in shown["sections"])
    metrics = registry.client.get_run(champion.run_id).data.metrics
    figures = dict(shown["figures"])
    assert set(MUST_SHOW) <= set(figures)
    for key, text in shown["figures"]:
        if text != "n/a":
            tolerance = 0.5 if re.search(r"(rows|profiles|violations)$", key) else 5e-5
            assert float(text.replace(",", "")) == pytest.approx(metrics[key], abs=tolerance), key
    assert shown["plot_width"] > 100  # the calibration plot is embedded and decodes
    assert "the rule holds" in shown["text"] and "Put into service by tests (bootstrap" in shown["text"]
    markdown = model_card.local_path(registry, champion.run_id, html[:-5] + ".md").read_text()
    titles = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert titles == [s[1] for s in shown["sections"]]
    auc = ("roc_auc", "roc_auc_ci_low", "roc_auc_ci_high")
    assert "| " + " | ".join(figures[k] for k in auc) + " |" in markdown


def test_each_decision_issues_a_new_card_and_the_cli_says_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    raw, clean, _ = load_base_data(None, rows=2_000, seed=3)
    tiny = TrainConfig(num_rounds=5, max_depth=2)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    changes = changes_for(uri)
    v1, v2 = (train_and_register(changes.registry, raw, clean, run_name=n, source="t", config=tiny).version
              for n in ("v1", "v2"))
    crown(changes, v1)
    changes.register_candidate(v2, actor="dagster run 1", reason="retrained")
    first = model_card.latest(changes.registry, v2)
    first_file = model_card.local_path(changes.registry, first.run_id, first.html_path)
    before = hashlib.sha256(first_file.read_bytes()).hexdigest()
    changes.admit_challenger(v2, actor="dagster run 1", floor_metrics={"roc_auc": 0.95, "brier": 0.05},
                             age_rule=[])
    changes.promote(v2, expected_champion="1", actor="alice", reason="better on evidence",
                    evidence={**CLEAR_WIN, "auc_gain": 0.0234, "population": "labelled requests"})
    pages = model_card.issues(changes.registry, first.run_id)
    assert [p.rsplit("-", 1)[1] for p in pages] == ["candidate.html", "challenger.html", "promote.html"]
    assert hashlib.sha256(first_file.read_bytes()).hexdigest() == before  # never overwritten
    last = model_card.latest(changes.registry, v2)
    assert last.html_path == pages[-1] and last.html_path in changes.registry.version(v2).description
    text = model_card.local_path(changes.registry, last.run_id, last.markdown_path).read_text()
    assert "Put into service by alice (promote" in text and "auc_gain 0.0234" in text
    assert "## Whose decisions the change changes" in text and "swaps on 1000 applicants: 20 in" in text
    assert "| swap in | 20 | 2.0% |" in text and "| age band 18-24 | 300 | 76.0% | 75.0% |" in text
    assert "No guard" in text and "swaps {" not in text  # the analysis has its own section
    assert "state: champion" in text
    monkeypatch.setenv("CREDITRISK_MLFLOW_URI", uri)
    assert main(["card", v2]) == 0
    out = capsys.readouterr().out
    assert f"runs:/{last.run_id}/{last.html_path}" in out and "3 in runs:/" in out
    local = next(ln.split(maxsplit=2)[2] for ln in out.splitlines() if ln.strip().startswith("html file"))
    assert Path(local).read_text().startswith("<!doctype html>")
    assert main(["card", "99"]) == 2  # no such version: one line, exit 2
