"""Loading a credit-risk CSV (the real data set or any file of its schema) and cleaning it.

Cleaning, in order, each step counted in the returned `CleaningReport`:
1. Parse: a value that is not a number in a numeric column, or an unknown category, is a *malformed*
   file: `DataFileError` names the file, the line and the column. Nothing is guessed.
2. loan_percent_income is recomputed from loan_amnt / person_income as the server computes it
   (`creditrisk.applicants.schema.loan_percent_income`), so training sees what serving sees: the real
   file states another value in 1,018 rows (off by 0.01 to 0.09, or 0 for a loan under 0.5% of income).
3. Duplicates: identical rows are dropped (the real file has 165).
4. Impossible values: rows breaking a schema rule (age 144, 123 years employed at 22, ...) are
   dropped; they are data-entry errors, and serving would refuse them anyway.
5. Missing values: `person_emp_length` and `loan_int_rate` may be empty (895 and 3,116 rows in the
   real file). They are *kept* as NaN: XGBoost learns a direction for missing values, and dropping
   them (as the original design did) throws away ~10% of the data. The original's IQR outlier
   removal is not applied: trees are insensitive to monotone scale and the extremes are real.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import (
    CATEGORIES,
    FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    invalid_rows,
    loan_percent_income,
)

COLUMNS = FEATURES + [LABEL]
NULLABLE = {"person_emp_length", "loan_int_rate"}


class DataFileError(ValueError):
    """A CSV cannot be used; the message names the file, and the line and column when known."""


@dataclass
class CleaningReport:
    path: str
    raw_rows: int
    loan_percent_income_recomputed: int = 0
    duplicates_dropped: int = 0
    impossible_dropped: int = 0
    impossible_by_rule: dict[str, int] = field(default_factory=dict)
    missing_kept: dict[str, int] = field(default_factory=dict)
    clean_rows: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _fail(path: Path, line: int, column: str, value: object, why: str) -> DataFileError:
    return DataFileError(f"{path}: line {line}, column {column!r}: {why} (got {value!r})")


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read and type-check a CSV of the credit-risk schema; raise DataFileError on a malformed file."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(f"{path}: not a readable CSV: {exc}") from exc
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataFileError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    df = pd.DataFrame(index=raw.index)
    for col in COLUMNS:
        text = raw[col].str.strip()
        empty = text.eq("") | text.str.upper().isin(["NA", "NAN", "NULL"])
        if empty.any() and col not in NULLABLE:
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise _fail(path, row + 2, col, raw[col].iloc[row], "empty value in a required column")
        if col in CATEGORIES:
            bad = ~text.isin(CATEGORIES[col])
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise _fail(path, row + 2, col, raw[col].iloc[row], f"must be one of {CATEGORIES[col]}")
            df[col] = text.astype(str)
            continue
        num = pd.to_numeric(text.mask(empty), errors="coerce")
        bad = num.isna() & ~empty
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise _fail(path, row + 2, col, raw[col].iloc[row], "not a number")
        df[col] = num.astype(float)
    if not df[LABEL].isin([0, 1]).all():
        row = int(np.flatnonzero(~df[LABEL].isin([0, 1]).to_numpy())[0])
        raise _fail(path, row + 2, LABEL, raw[LABEL].iloc[row], "must be 0 or 1")
    return df


def clean(df: pd.DataFrame, path: str = "<frame>") -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the documented cleaning; returns the clean frame and what was dropped or kept."""
    report = CleaningReport(path=path, raw_rows=len(df))
    served = loan_percent_income(df["loan_amnt"], df["person_income"])
    report.loan_percent_income_recomputed = int((df["loan_percent_income"] != served).sum())
    dedup = df.assign(loan_percent_income=served).drop_duplicates()
    report.duplicates_dropped = len(df) - len(dedup)
    broken = invalid_rows(dedup)
    report.impossible_by_rule = {k: int(v) for k, v in broken.sum().items() if v}
    keep = ~broken.any(axis=1)
    report.impossible_dropped = int((~keep).sum())
    out = dedup[keep].reset_index(drop=True)
    report.missing_kept = {c: int(out[c].isna().sum()) for c in NUMERIC_FEATURES if out[c].isna().any()}
    out["person_age"] = out["person_age"].astype(int)
    out[LABEL] = out[LABEL].astype(int)
    report.clean_rows = len(out)
    return out, report


def load_dataset(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, CleaningReport]:
    """Read and clean a CSV; returns (raw, clean, report)."""
    raw = read_csv(path)
    cleaned, report = clean(raw, str(path))
    return raw, cleaned, report


SYNTHETIC_ROWS = 32_581  # the real file's size, so both defaults train alike


def load_base_data(path: str | Path | None = None, *, rows: int = SYNTHETIC_ROWS,
                   seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame, CleaningReport]:
    """The base training data: the CSV at `path`, else the seeded synthetic generator (embedded default)."""
    if path:
        return load_dataset(path)
    from creditrisk.applicants.synth import generate  # local import: the generator loads its parameter file

    raw = generate(rows, seed=seed)[COLUMNS]
    cleaned, report = clean(raw, f"synthetic(rows={rows}, seed={seed})")
    return raw, cleaned, report
