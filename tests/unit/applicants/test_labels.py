"""Outcomes as a bank has them: the approved only, after a delay drawn from a configurable distribution."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants.labels import LabelDelay, report_times

TS = pd.Series(pd.date_range(datetime(2026, 1, 5, tzinfo=UTC), periods=4_000, freq="1min"))


def test_denied_applicants_never_get_an_outcome_and_the_approved_get_theirs_late() -> None:
    approved = np.arange(len(TS)) % 4 != 0
    at = report_times(TS, approved, LabelDelay("uniform", 2, 12), np.random.default_rng(1))
    assert at[~approved].isna().all() and at[approved].notna().all()
    delay = (at[approved] - TS[approved]) / timedelta(days=1)
    assert delay.min() >= 2 and delay.max() <= 12 and abs(delay.mean() - 7) < 0.3


def test_report_rate_and_a_long_tailed_delay() -> None:
    approved = np.ones(len(TS), dtype=bool)
    rng = np.random.default_rng(2)
    at = report_times(TS, approved, LabelDelay("lognormal", 90, 0.5), rng, report_rate=0.5)
    assert abs(at.notna().mean() - 0.5) < 0.03
    delay = ((at - TS) / timedelta(days=1)).dropna()
    assert abs(delay.median() - 90) < 6 and delay.max() > 180  # months, with a tail


@pytest.mark.parametrize(("text", "expected"), [("uniform:2,12", LabelDelay("uniform", 2, 12)),
                                                ("lognormal:180,0.4", LabelDelay("lognormal", 180, 0.4))])
def test_parse_round_trips(text: str, expected: LabelDelay) -> None:
    assert LabelDelay.parse(text) == expected and LabelDelay.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["uniform:12,2", "uniform:-1,3", "gamma:1,2", "uniform:2", "lognormal:0,1",
                                  "uniform:a,b"])
def test_bad_delays_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="uniform:LOW,HIGH"):
        LabelDelay.parse(text)
