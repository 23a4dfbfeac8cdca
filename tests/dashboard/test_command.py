"""`tinkertank dashboard`: Streamlit on the given port, and never open to the network
without a login."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from cli.main import oidc_configured
from runtime.sidecar_process import free_port, inherited_env
from tests.conftest import ADMIN_TOKEN, CLOCK_SHIFT


def _dashboard(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dashboard", *args],
        # HOME and the working directory hold no Streamlit secrets: no OIDC login.
        env={
            **inherited_env(),
            "HOME": str(tmp_path),
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "CLOCK_SHIFT_SECONDS": str(CLOCK_SHIFT),
            **env,
        },
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_without_a_login_it_refuses_to_listen_beyond_this_machine(tmp_path: Path):
    process = _dashboard(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))

    output, _ = process.communicate(timeout=60)

    assert process.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a login" in output
    assert "DASHBOARD_PASSWORD" in output


def test_on_localhost_without_a_login_it_warns_and_serves(tmp_path: Path):
    port = free_port()
    process = _dashboard(tmp_path, "--port", str(port), SIDECAR_URL="http://127.0.0.1:9")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(0.2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "runs WITHOUT a login" in output
    assert f"dashboard on http://127.0.0.1:{port} against http://127.0.0.1:9" in output


def test_without_the_admin_token_staff_sign_in_with_their_own_accounts(tmp_path: Path):
    port = free_port()
    process = _dashboard(
        tmp_path, "--port", str(port), ADMIN_TOKEN="", SIDECAR_URL="http://127.0.0.1:9"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(0.2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "staff sign in with their own accounts" in output
    assert "WITHOUT a login" not in output


def test_an_auth_section_in_streamlits_secrets_counts_as_a_login(tmp_path: Path):
    (tmp_path / ".streamlit").mkdir()
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    assert not oidc_configured((tmp_path,))

    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    assert oidc_configured((tmp_path,))

    secrets.write_text("[auth\nbroken")
    assert not oidc_configured((tmp_path,))
