"""The settings the deployment files may use are the ones the code reads and the README documents."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.contract import SERVICE_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(
    r"""(?:environ|env)(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]+)["']"""  # os.environ.get("X"), env["X"]
    r'|_(?:int|at_least|timeout_ms|flag)\((?:\d+, )?env, "([A-Z0-9_]+)"'  # _int(env, "X"), _at_least(24, env, "X")
)
NOT_READ_BY_CODE = {"GLIBC_TUNABLES"}  # read by glibc itself, set by make run and the Dockerfile


def names_read_by_the_code() -> set[str]:
    found = set()
    for path in (ROOT / "src").rglob("*.py"):
        for match in READ.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def test_the_contract_lists_exactly_what_the_code_reads() -> None:
    assert names_read_by_the_code() == SERVICE_SETTINGS - NOT_READ_BY_CODE


def test_the_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()

    undocumented = sorted(name for name in SERVICE_SETTINGS if f"`{name}`" not in readme)

    assert undocumented == []
