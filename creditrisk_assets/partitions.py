"""Weekly partitions keyed by the week's last day (a Sunday), as `creditrisk.monitoring.windows` defines
weeks.

Dagster's weekly window for key K is [K, K+7d); ours is the Monday-to-Sunday week *ending* on K.
`end_offset=1` makes key K available as soon as its week is complete (Monday 00:00 UTC).
"""

import dagster as dg

WEEKS_START = "2025-01-05"  # first Sunday of 2025: the first week that can be evaluated
WEEKS = dg.WeeklyPartitionsDefinition(start_date=WEEKS_START, day_offset=0, end_offset=1, timezone="UTC")
