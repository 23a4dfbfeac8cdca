"""`make bench`: every benchmark, each printing ratios measured in the same run."""

import sys

from bench import analyst, db_copy, fulfilment, ingest, million, postgres_ingest

if __name__ == "__main__":
    only = sys.argv[1:]
    code = 0
    if not only or "ingest" in only:
        code |= ingest.main()
    if not only or "fulfilment" in only:
        code |= fulfilment.main()
    if not only or "postgres" in only:
        code |= postgres_ingest.main()
    if not only or "analyst" in only:
        code |= analyst.main()
    if not only or "million" in only:
        code |= million.main()
    if "db_copy" in only:  # not in every run: it needs a PostgreSQL server
        code |= db_copy.main()
    sys.exit(code)
