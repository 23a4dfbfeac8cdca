"""Put on PYTHONPATH by `python -m tests.as_if`: every Python process of the run (pytest,
each sidecar and store process, the CLI, the dashboard) moves its system clock by the same
`AS_IF_SHIFT_SECONDS`, with time still flowing, so the suite runs as on another date."""

import os

_shift = os.environ.get("AS_IF_SHIFT_SECONDS")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
    # time-machine starts the ticking clock at its first reading, not at start(): read it now,
    # or a process that first asks the time seconds later runs that much behind the others.
    time.time()
