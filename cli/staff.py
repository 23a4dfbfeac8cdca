"""`tinkertank staff add|list|disable|enable|role|password`: staff accounts, through the
staff API with ADMIN_TOKEN (an admin's; docs/security.md, Staff sign-in). The password is
asked for twice on a terminal, or read from the first line of standard input (scripts,
tests); it never appears on the command line, where `ps` would show it."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from cli.errors import EXIT_CONFIG, CommandError
from client.staff_api import StaffApi

Print = Callable[[str], None]


def read_password(stdin: TextIO | None = None) -> str:
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ", EXIT_CONFIG)
    return first


def add(client: StaffApi, name: str, role: str, password: str, out: Print = print) -> None:
    out(client.add_staff(name, role, password)["message"])


def list_accounts(client: StaffApi, out: Print = print) -> None:
    accounts = client.staff_accounts()["staff"]
    if not accounts:
        out("no staff accounts yet: tinkertank staff add NAME --role staff")
    for account in accounts:
        state = f"disabled {account['disabled_at']}" if account["disabled_at"] else "active"
        out(f"{account['name']:<24} {account['role']:<8} {state}")


def disable(client: StaffApi, name: str, out: Print = print) -> None:
    out(client.disable_staff(name)["message"])


def password(client: StaffApi, name: str, secret: str, out: Print = print) -> None:
    out(client.set_staff_password(name, secret)["message"])


def enable(client: StaffApi, name: str, out: Print = print) -> None:
    out(client.enable_staff(name)["message"])


def role(client: StaffApi, name: str, new_role: str, out: Print = print) -> None:
    out(client.set_staff_role(name, new_role)["message"])
