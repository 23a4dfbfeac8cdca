"""How a `tinkertank` command fails: a message for the person and an exit status for cron."""

from __future__ import annotations

EXIT_CONFIG = 2  # settings or catalog invalid: fix the configuration, retrying won't help
EXIT_UNAVAILABLE = 3  # a resource (the database file) could not be used
EXIT_REFUSED = 4  # `db copy`: nothing was done (a target that is not empty, another version)
EXIT_MISMATCH = 5  # `db copy`: the copy's counts or sums differ; it was rolled back


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
