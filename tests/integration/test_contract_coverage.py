"""The repository contract covers every method of every port: a method no contract test calls is a
method whose fake may drift from SQLite and PostgreSQL unnoticed (the fake's use_refresh ignored
expiry for months). Read from the ports themselves, so a new method fails here until tested."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import get_type_hints

from shop.application.ports.unit_of_work import UnitOfWork

CONTRACTS = sorted(Path(__file__).parent.glob("test_*_contract.py"))


def port_methods() -> set[tuple[str, str]]:
    """(repository, method) for every public method of every repository of the unit of work."""
    wanted = set()
    for name, member in inspect.getmembers(UnitOfWork):
        if isinstance(member, property):
            port = get_type_hints(member.fget)["return"]
            wanted |= {(name, method) for method in vars(port) if not method.startswith("_")}
    return wanted


def called_in_contract() -> set[tuple[str, str]]:
    """(repository, method) for every call shaped uow.<repository>.<method>(...) in the contracts."""
    called = set()
    for contract in CONTRACTS:
        for node in ast.walk(ast.parse(contract.read_text())):
            match node:
                case ast.Call(func=ast.Attribute(attr=method, value=ast.Attribute(attr=repository))):
                    called.add((repository, method))
    return called


def test_the_contracts_are_read_whole() -> None:
    assert {path.name for path in CONTRACTS} >= {"test_repository_contract.py", "test_console_queries_contract.py"}


def test_the_ports_are_read_whole() -> None:
    assert {"users", "products", "orders", "tokens", "idempotency", "outbox"} <= {r for r, _ in port_methods()}
    assert ("tokens", "use_refresh") in port_methods()


def test_every_method_of_every_port_is_called_by_the_contract() -> None:
    missing = port_methods() - called_in_contract()
    assert not missing, f"no contract test calls: {sorted(f'{r}.{m}' for r, m in missing)}"
