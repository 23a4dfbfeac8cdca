"""Run the suite as if today were another date: `python -m tests.as_if 2028-02-01 [pytest
arguments]` (`make test-as-if DATE=2028-02-01`).

The suite must pass whatever the date (its sidecars run on the suite's own clock, see
`SUITE_NOW` in tests/conftest.py). This proves it: every Python process the run starts
reads a system clock moved to 10:00 in Sydney on that date (time-machine, loaded by the
`sitecustomize` beside this file). libfaketime does not serve here: with Python 3.11 it
either stalls every timed thread wait or fails `time.sleep` with EINVAL.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
SYDNEY = ZoneInfo("Australia/Sydney")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests.as_if YYYY-MM-DD [pytest arguments]", file=sys.stderr)
        return 2
    try:
        day = date.fromisoformat(argv[0])
    except ValueError:
        print(f"{argv[0]!r} is not a date YYYY-MM-DD", file=sys.stderr)
        return 2
    moment = datetime(day.year, day.month, day.day, 10, 0, tzinfo=SYDNEY)
    env = dict(os.environ)
    env["AS_IF_SHIFT_SECONDS"] = str(moment.timestamp() - time.time())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    print(f"running the suite as if it were {moment:%Y-%m-%d %H:%M %Z}", flush=True)
    # time-machine is already loaded (by sitecustomize): not as a pytest plugin as well.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:time_machine",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *argv[1:],
    ]
    os.execve(sys.executable, command, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
