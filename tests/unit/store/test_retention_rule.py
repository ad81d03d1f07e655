"""The retention rule: the cut-off 25 months back, legal holds and referenced windows -> what may go."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from creditrisk.settings import get_settings
from creditrisk.store.retention import EPOCH, KeepRange, hold_ranges, plan_retention, retention_cutoff

NOW = datetime(2026, 3, 31, 14, 30, tzinfo=UTC)


def _t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_the_cutoff_is_the_day_that_began_25_months_back() -> None:
    # 2026-03-31 minus 25 months is 2024-02-31, which does not exist: the month's last day, at 00:00.
    assert retention_cutoff(NOW, 25) == _t("2024-02-29")
    assert retention_cutoff(datetime(2026, 11, 15, 0, 0, tzinfo=UTC), 30) == _t("2024-05-15")


def test_fewer_than_25_months_is_refused() -> None:
    with pytest.raises(ValueError, match="25 months"):
        plan_retention(NOW, months=24)


def test_rows_before_the_cutoff_go_unless_a_keep_range_covers_them() -> None:
    plan = plan_retention(NOW, months=25,
                          holds=[KeepRange(_t("2023-05-01"), _t("2023-06-01"), "legal hold FTC-7")],
                          referenced=[KeepRange(_t("2023-09-01"), _t("2023-09-15"), "training data of v3")])
    ts = pd.Series(pd.to_datetime(["2023-04-30 23:59", "2023-05-01 00:00", "2023-05-31 23:59",
                                   "2023-06-01 00:00", "2023-09-10 00:00", "2023-09-15 00:00",
                                   "2024-02-28 23:59", "2024-02-29 00:00", "2026-03-30 00:00"], utc=True))
    assert plan.may_delete(ts).tolist() == [True, False, False, True, False, True, True, False, False]


def test_keep_ranges_are_clipped_to_the_cutoff_merged_and_keep_their_reasons() -> None:
    plan = plan_retention(NOW, months=25,
                          holds=[KeepRange(_t("2023-05-01"), _t("2023-07-01"), "legal hold A")],
                          referenced=[KeepRange(EPOCH, _t("2026-03-01"), "training data of v2"),
                                      KeepRange(_t("2027-01-01"), _t("2027-02-01"), "in the future")])
    # The referenced window reaches past the cut-off: only its part before the cut-off matters, and
    # a range wholly after the cut-off keeps nothing the rule could delete anyway.
    assert [(k.start, k.end, k.why) for k in plan.keep] == [
        (EPOCH, _t("2024-02-29"), "training data of v2"),
        (_t("2023-05-01"), _t("2023-07-01"), "legal hold A")]
    assert plan.ranges() == [(EPOCH, _t("2024-02-29"))]
    assert not plan.may_delete(pd.Series(pd.to_datetime(["2020-01-01", "2024-01-01"], utc=True))).any()


def test_a_hold_is_a_range_of_whole_days_with_its_label() -> None:
    (hold,) = hold_ranges([("FTC-7", date(2023, 5, 1), date(2023, 5, 31))])
    assert (hold.start, hold.end, hold.why) == (_t("2023-05-01"), _t("2023-06-01"), "legal hold FTC-7")


def test_the_settings_default_to_25_months_and_no_hold() -> None:
    s = get_settings({})
    assert (s.retention_months, s.legal_holds) == (25, ())


def test_the_settings_parse_holds_with_and_without_a_label() -> None:
    s = get_settings({"CREDITRISK_RETENTION_MONTHS": "36",
                      "CREDITRISK_LEGAL_HOLDS": "FTC-7=2023-05-01..2023-05-31, 2024-01-02..2024-01-02"})
    assert s.retention_months == 36
    assert s.legal_holds == (("FTC-7", date(2023, 5, 1), date(2023, 5, 31)),
                             ("2024-01-02..2024-01-02", date(2024, 1, 2), date(2024, 1, 2)))


@pytest.mark.parametrize(("name", "value"), [
    ("CREDITRISK_RETENTION_MONTHS", "24"), ("CREDITRISK_RETENTION_MONTHS", "two years"),
    ("CREDITRISK_LEGAL_HOLDS", "2023-05-01"), ("CREDITRISK_LEGAL_HOLDS", "2023-06-01..2023-05-01"),
    ("CREDITRISK_LEGAL_HOLDS", "x=2023-02-30..2023-03-01")])
def test_a_bad_setting_is_refused_in_one_line_naming_it(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name) as err:
        get_settings({name: value})
    assert "\n" not in str(err.value)
