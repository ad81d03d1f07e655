"""The request store: every answered request and every outcome reported later.

Modules: `base` (the `RequestStore` interface), `rows` (the row contract: columns, dtypes, coercion),
`request_ids` (UUIDv7 ids on the request's clock), `local` (Parquet read through DuckDB), `bigquery`
(production: reads and retention; `bigquery_client` its client, errors and tables, `bigquery_writes` its
appends), `durable` (fsync-then-publish), `quarantine` (unreadable files set aside), `compaction`,
`retention` (what a retention run may delete).
"""
