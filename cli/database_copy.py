"""`tinkertank db copy --from duckdb:///… --to postgresql://…`: moving a business from its
DuckDB file to PostgreSQL (store/database_copy.py; docs/postgresql.md, Moving up)."""

from __future__ import annotations

import argparse

from cli.errors import EXIT_CONFIG, EXIT_MISMATCH, EXIT_REFUSED, CommandError
from core import clock
from core.settings import parse_database_url
from store import database_copy, postgres


def db_copy(args: argparse.Namespace) -> None:
    try:
        source = parse_database_url(args.source)
        target = parse_database_url(args.target)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    if not source.is_file:
        raise CommandError("--from must be a DuckDB file: duckdb:///path/to/file", EXIT_CONFIG)
    if target.backend != "postgresql":
        raise CommandError("--to must be a PostgreSQL database: postgresql://…", EXIT_CONFIG)
    print(f"copying {source.path} into {target.shown}")
    try:
        copied = database_copy.copy_database(
            source.path, target.path, clock.utcnow(), say=lambda line: print(f"  {line}")
        )
    except database_copy.CopyRefused as exc:
        raise CommandError(f"nothing was copied: {exc}", EXIT_REFUSED) from None
    except database_copy.CopyMismatch as exc:
        raise CommandError(str(exc), EXIT_MISMATCH) from None
    except postgres.Error as exc:
        raise CommandError(f"the copy failed and was rolled back: {exc}", EXIT_REFUSED) from None
    print(
        f"copied {sum(copied.rows.values())} rows of {len(copied.rows)} tables (schema version"
        f" {copied.version}) in {copied.elapsed_seconds:.1f} s; row counts and sums checked"
    )
