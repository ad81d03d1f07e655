"""The production rehearsal: every production part on loopback (`creditrisk rehearse`).

`run` (the parts and steps in order), `parts` (Postgres, the BigQuery emulator, Ray, Dagster),
`identities` (the MLflow server's users and grants), `steps` (PASS/FAIL lines, the CLI as a
person runs it, the four-eyes review).
"""
