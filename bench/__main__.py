"""`make bench`: every benchmark, each printing ratios measured in the same run."""

import sys

from bench import ingest

if __name__ == "__main__":
    sys.exit(ingest.main())
