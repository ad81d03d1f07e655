"""Every threshold, name and alias of the product, in one place.

Changing a number here changes it for training, serving, the asset graph and the tests alike.
"""
from __future__ import annotations

from datetime import UTC, datetime

# Asset groups of the Dagster graph; the jobs select by group
MONITORING_GROUP = "monitoring"
RETRAINING_GROUP = "retraining"
SOURCES_GROUP = "sources"

# Store upkeep: the local store's day folders merged into one file each, daily at 01:00 UTC, once
# the previous day has closed and an hour before the weekly drift check (Monday 02:00) reads them.
COMPACTION_JOB = "store_compaction_job"
COMPACTION_CRON = "0 1 * * *"

# Model registry
MODEL_NAME = "credit-risk"
CHAMPION_ALIAS = "champion"  # the version that serves
CHALLENGER_ALIAS = "challenger"  # the candidate under evaluation, set only once it passed every gate
AWAITING_ALIAS = "awaiting"  # won its evaluation under the approval policy; waits for a person
PREVIOUS_ALIAS = "previous"  # the champion before the current one: the rollback target
# MLflow's tag limit on SQL backends (SQLite does not enforce it, Postgres does): an audit event fits
MAX_TAG_CHARS = 5000
EXPERIMENT_NAME = "credit-risk"

# Label and decision
LABEL = "loan_status"  # 1 = the loan defaulted
DECISION_THRESHOLD = 0.40  # probability of default at or above which we deny; see README "Decision threshold"
DECISION_APPROVED = "pre-approved"
DECISION_DENIED = "denied"

# Training
HOLDOUT_FRACTION = 0.30
RANDOM_SEED = 42

# Validation gate (creditrisk.registry.validation): a fixed synthetic canary set every version must score
# as recorded at training; the tolerance allows float32 input rounding, nothing more.
CANARY_SEED = 20261127
CANARY_ROWS = 64
CANARY_TOLERANCE = 1e-6
# A replica retries a version that failed to load or validate after this many reload intervals,
# doubling each time, at most MAX_RELOAD_BACKOFF_S apart (no re-download every interval).
MAX_RELOAD_BACKOFF_S = 300.0

# Quality floor a candidate must meet on its holdout before it may be compared with the champion
QUALITY_FLOOR = {"roc_auc": 0.90, "brier": 0.10}

# Drift monitoring (the original design: the last week against the previous 3 months)
REFERENCE_WEEKS = 13
MIN_WEEKLY_REQUESTS = 120
DRIFT_SHARE = 0.15  # dataset drift when >= 2 of the 11 columns drifted; see README "Monitoring"
MAX_NULL_RATE = 0.05
# One column flags drift on its own when Evidently says it drifted, its score clears the strong
# threshold of its test and it carries at least MIN_IMPORTANCE_SHARE of the champion's mean
# |contribution| on the week (creditrisk.monitoring.drift_rule). From bench/detection.py (1,500 requests/week,
# 13-week reference, 1,040 undrifted weeks of 20 seeds): the largest per-column score under `none`
# was 0.111 (Wasserstein, normed) and 0.047 (Jensen-Shannon). A threshold is 1.5x that (a reference
# of one week, just after a change, is ~1.4x noisier than 13), on a 0.05 grid, and never below
# Evidently's own 0.1: 0.20 and 0.10. No undrifted week flagged on one column; every named
# covariate scenario at full magnitude flagged in its first week (scores 0.21-1.24). Thresholds hold
# at DRIFT_CALIBRATION_ROWS current rows and scale by sqrt(DRIFT_CALIBRATION_ROWS / rows) below it.
# The columns the scenarios move carried >= 0.095 of the importance in their first drifted week, the
# five least used ones <= 0.040: MIN_IMPORTANCE_SHARE is half the smallest of the former, 0.05.
DRIFT_CALIBRATION_ROWS = 1_500
IMPORTANCE_ROWS = 500  # rows of the week whose contributions give the importance shares
STRONG_DRIFT_SCORES = {"Wasserstein distance (normed)": 0.20, "Jensen-Shannon distance": 0.10}
MIN_IMPORTANCE_SHARE = 0.05

# Promotion (the original design: compare on the last 10 days of labelled requests)
EVALUATION_DAYS = 10
MIN_EVALUATION_ROWS = 200
MIN_AUC_GAIN = 0.0  # the bootstrap lower bound of the AUC gain must exceed this
BOOTSTRAP_SAMPLES = 500
BOOTSTRAP_CONFIDENCE = 0.95
# Non-inferiority on what decides loans, judged on the same rows and resamples as the AUC gain:
# the Brier score may not get worse by more than 0.005 (a tenth of the champion's ~0.05 on the real
# data) at the 95% upper bound, and default recall at each model's served threshold may not drop
# by more than 3 points at the 95% lower bound (the bootstrap spread of recall at 1,300 rows is
# about +-2 points, so a smaller margin would refuse equal models).
MAX_BRIER_INCREASE = 0.005
MAX_RECALL_DROP = 0.03

# Retraining: a labelled production row counts this many base rows, so recent traffic weighs more
# than the older base data set without discarding it.
PRODUCTION_WEIGHT = 3.0

# Realized-performance alert: the served scores' AUC on the labelled rows of this many recent weeks.
# Labelled rows are approved applicants only, a population ranked far worse than the holdout
# (median 0.79 vs 0.91). Under `none`, in bench/detection.py's simulation (20-40 seeds): 0.751 at the
# lowest of 1,040 four-week windows (~3,600 labelled rows); 0.740 at the lowest with ~1,200 rows
# (2nd week of labels), but 0.666 with ~220 (1st week). In the demo on the real file (a champion
# trained on another population than it serves) an undrifted window of 1,232 rows read 0.719, and
# full windows >= 0.72: so the alert needs MIN_REALIZED_ROWS, about two weeks of the approved.
MIN_REALIZED_AUC = 0.72
MIN_REALIZED_ROWS = 2_500
PERFORMANCE_WEEKS = 4

# Concept drift (creditrisk.monitoring.concept): the champion's realized AUC on its labelled rows of the last
# CONCEPT_RECENT_WEEKS against its first CONCEPT_BASELINE_WEEKS in service, flagged when the
# CONCEPT_CONFIDENCE upper bound of the difference is below -CONCEPT_MARGIN, each side holding at
# least CONCEPT_MIN_ROWS labelled rows. Chosen on bench/detection.py's weeks (20 seeds, 1,500
# requests/week, outcomes of the approved 2-12 days late) among baselines of 2/3/4 weeks, confidence
# 0.99/0.995/0.999 and margins 0/0.01/0.02: under `none` 0.10 false alarms per 52 weeks (margin 0:
# 0.65, with up to 10 in one seed whose baseline came out high); `concept` at full magnitude found
# in all seeds, median 1 week after it began; at half magnitude in 80% within 8 weeks (median 3.5).
# A 2-week baseline lets a newly promoted champion be judged after 2 weeks in service. The full
# benchmark with these numbers: 0.30 false alarms per 52 weeks, concept found in 100% (median 1 week).
CONCEPT_BASELINE_WEEKS = 2
CONCEPT_RECENT_WEEKS = 2
CONCEPT_MIN_ROWS = 300
CONCEPT_CONFIDENCE = 0.99
CONCEPT_MARGIN = 0.01
# The label-free estimate recalibrates the champion (Platt) on its baseline rows only from this many:
# fitted on n approved applicants' outcomes (30 draws each), the estimated AUC of a 30,000-applicant
# week was off by sd 0.016 / at most 0.054 with n = 1,200, sd 0.010 / at most 0.026 with 2,400,
# where the raw scores are off by +0.017 (the champion is a little over-confident).
MIN_CALIBRATION_ROWS = 2_000

# Retraining waits until the changed world has labels to learn from: at least this many labelled
# rows since the change and older than the evaluation window (and MIN_EVALUATION_ROWS inside it).
# Only one retrain is spent per episode, so it must be able to win: in bench/detection.py's
# simulation a challenger with ~450-650 changed-world rows beat the champion under `concept` in 1
# of 2 seeds, with ~1,300-1,900 in 2 of 2 (recession: 0 and 1 of 2). At 1,500 requests/week this is
# the second week after the change (the 10-day evaluation window holds the rest back). With it,
# the benchmark promoted the episode's retrain in 95% of `concept` and 70% of `recession` seeds.
MIN_CHANGE_TRAIN_ROWS = 1_000
# Flagged weeks at most this far apart belong to one drift episode (one retrain): a change that is
# flagged only in some weeks, or still ramping in after its retrain, is not retrained for twice.
EPISODE_GAP_WEEKS = 4

# Labels as a bank has them (creditrisk.applicants.labels): the demo's back office reports the outcome of each
# approved applicant after a delay drawn from this distribution (days). A real performance window
# is about 12 months; the demo compresses it so a change is learned within its 10 weeks.
DEMO_LABEL_DELAY = "uniform:2,12"

# Request store: timestamps it keeps. BigQuery's TIMESTAMP reaches 9999, but a request from before
# 1970 or after 2200 is a client's mistake (a simulated X-Request-Time typo), refused at the door.
STORE_TIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))

# Fair lending (creditrisk.model.fairness). Reg B (12 CFR 1002.2(o)): "elderly" means aged 62 or older;
# such an applicant may never be assigned a negative factor or value for their age (1002.6(b)(2)).
ELDERLY_AGE = 62
AGE_RANGE = (18, 100)  # every age the schema accepts is checked, not a sample of them
# person_age may only lower the probability of default as it grows, for every profile: the rule then
# holds by construction. Chosen over an additive age with its 62+ part fixed: 5-fold AUC cost
# measured by bench/model_quality.py (README "Fair lending").
AGE_MONOTONE = -1
AGE_RULE_TOLERANCE = 1e-7  # float32 rounding of the score; an unconstrained model breaks it by up to 0.5
AGE_RULE_HOLDOUT_PROFILES = 500  # holdout rows checked at every age (~0.5 s for 800 trees)
AGE_RULE_SYNTHETIC_PROFILES = 256  # plus synthetic applicants, a grid the data may not cover
AGE_RULE_SEED = 1002  # the synthetic grid is fixed: a version is judged on the same profiles as another
# Group outcomes: age bands (the last is Reg B's elderly) and the four-fifths rule of thumb, reported
# as a warning (never a gate): a band approved at < 80% of the most approved band's rate.
AGE_BANDS = (("18-24", 18, 24), ("25-34", 25, 34), ("35-61", 35, 61), ("62+", 62, 100))
FOUR_FIFTHS = 0.8
MIN_GROUP_ROWS = 30  # below this a group's rates are shown but flagged: the real 62+ holdout band has 13
# Adverse-action reasons: at most four, as the Reg B commentary advises (Supp. I, 1002.9(b)(2)-1)
MAX_REASONS = 4
# The lender's own pricing of the risk: never a reason; its effect is credited to the characteristics
PRICING_FEATURES = ("loan_grade", "loan_int_rate")
# Confidence intervals of the holdout metrics on the model card: bootstrap resamples of the holdout
# (200, 0.2 s: the ends move by <= 0.001 AUC and <= 0.005 recall between seeds on the real holdout)
CARD_CI_SAMPLES = 200
CARD_FOLDER = "model_card"  # in the version's MLflow run; one file pair per issue, never overwritten
PRICING_FIT_ROWS = 10_000  # training rows the pricing attribution is fitted on (0.4 s on 800 trees)
