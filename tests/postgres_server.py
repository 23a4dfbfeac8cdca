"""A throwaway PostgreSQL server for the suite, started the way the tests start uvicorn.

`initdb` and `pg_ctl` from Debian's `postgresql` package (`make test` installs it) make a
cluster in a temporary directory, listening only on a unix socket in that directory (no TCP
port to collide with anything), with fsync off: nothing here needs to survive a power cut.
As root (a CI container), the cluster runs as the `postgres` user the package creates,
since PostgreSQL refuses to run as root. With TEST_DATABASE_URL set, the suite uses that
server instead (its user must be allowed to CREATE DATABASE).

Each test gets a database of its own (`create_database`), dropped afterwards.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from runtime.sidecar_process import free_port

SERVER_USER = "postgres"


def _binaries() -> Path | None:
    """Debian's versioned directory of the newest installed PostgreSQL (15 or newer)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A server to make test databases on: `url(name)` is a DATABASE_URL for one of them."""

    def __init__(
        self, admin_url: str, stop: list[str] | None = None, root: Path | None = None
    ) -> None:
        self.admin_url = admin_url
        self._stop = stop
        self._root = root

    @classmethod
    def start(cls) -> PostgresServer:
        """A new cluster in a new directory under the system's temporary directory (not
        pytest's, whose 0700 parents the `postgres` user could not enter)."""
        binaries = _binaries()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL tests need initdb and pg_ctl: apt-get install postgresql "
                "(make test does), or set TEST_DATABASE_URL"
            )
        root = Path(tempfile.mkdtemp(prefix="tinkertank-postgres-"))
        data, socket_dir = root / "data", root / "socket"
        socket_dir.mkdir(parents=True)
        as_user: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam(SERVER_USER)  # KeyError: no such user
            shutil.chown(root, SERVER_USER)
            shutil.chown(socket_dir, SERVER_USER)
            as_user = ["runuser", "-u", SERVER_USER, "--"]
        port = free_port()
        _run(
            [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]
        )  # fmt: skip
        options = (
            f"-p {port} -k {socket_dir} -c listen_addresses='' -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        _run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
             "-l", str(root / "server.log"), "-w", "-t", "60", "start"]
        )  # fmt: skip
        stop = [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        return cls(f"postgresql://postgres@/postgres?host={socket_dir}&port={port}", stop, root)

    def stop(self) -> None:
        if self._stop:
            subprocess.run(self._stop, check=False, capture_output=True)
        if self._root:
            shutil.rmtree(self._root, ignore_errors=True)

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return parts._replace(path=f"/{database}").geturl()

    def create_database(self) -> str:
        """A new empty database; its DATABASE_URL."""
        name = f"test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def database_for(self, key: str) -> str:
        """The database named after `key` (a test's directory), made on first use."""
        name = f"test_{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.strip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
