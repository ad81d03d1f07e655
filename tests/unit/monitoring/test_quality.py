"""A week's data quality: missing features, null rates and rule breaches."""
from __future__ import annotations

import numpy as np

from creditrisk.applicants.synth import generate
from creditrisk.monitoring.quality import QualityRule


def test_a_clean_week_passes() -> None:
    q = QualityRule().judge(generate(300, seed=1))
    assert q.passed and q.max_null_rate == 0.0 and q.out_of_range_rows == 0 and q.rules_broken == {}


def test_nulls_above_the_limit_fail_and_name_the_column() -> None:
    week = generate(300, seed=1)
    week.loc[week.index[:30], "loan_int_rate"] = np.nan  # 10%
    q = QualityRule(max_null_rate=0.05).judge(week)
    assert not q.passed and q.worst_null_column == "loan_int_rate" and q.max_null_rate == 0.1
    assert QualityRule(max_null_rate=0.10).judge(week).passed


def test_a_value_breaking_the_contract_fails_and_is_counted() -> None:
    week = generate(300, seed=1)
    week.loc[week.index[:3], "loan_int_rate"] = 0.162  # a fraction, not a percentage
    q = QualityRule().judge(week)
    assert not q.passed and q.out_of_range_rows == 3
    rule = "loan_int_rate: must be >= 1 and <= 40 (percent per year, e.g. 16.2, not 0.162)"
    assert q.rules_broken == {rule: 3}


def test_a_missing_feature_fails() -> None:
    q = QualityRule().judge(generate(50, seed=1).drop(columns=["loan_grade"]))
    assert not q.passed and q.missing_columns == ["loan_grade"]
