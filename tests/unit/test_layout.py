"""The import arrows of docs/architecture.md hold: no package imports one above it, and no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "dli_admin"

# package -> the dli-admin packages it may import (docs/architecture.md).
ALLOWED = {
    "aksk": set(),
    "dli": {"aksk"},
    "simulator": {"aksk"},
    "accounts": set(),
    "projects": {"accounts", "dli", "simulator"},  # the embedded simulator is the default connection
    "audit": {"accounts", "projects"},
    # Changes of who may do what, each audited: grants, projects, user flags, single sign-on; demo_setup
    # registers the embedded simulator's projects.
    "access": {"audit", "projects", "accounts", "simulator"},
    "deletes": {"audit", "projects", "dli", "accounts"},
    "dashboard": {"deletes", "audit", "projects", "dli", "accounts"},
    # Cleanup policies make normal delete batches; deletes reaches them only through its batch_ended signal.
    "policies": {"deletes", "audit", "projects", "dli", "accounts"},
    # /metrics reads batches and the audit log; projects names its DLI observer in settings, not by import.
    "metrics": {"deletes", "audit", "projects", "dli", "accounts"},
}


def package_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0].removesuffix(".py")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("dli_admin.") and name.count(".") >= 1}


MODULES = sorted(
    path for path in ROOT.rglob("*.py") if package_of(path) in ALLOWED and "migrations" not in path.parts
)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_module_imports_only_the_packages_below_its_own(path):
    own = package_of(path)
    upward = imported_packages(path) - ALLOWED[own] - {own}
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}: see docs/architecture.md"


def test_the_allowed_imports_have_no_cycle():
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            step == goal or (step not in seen and reaches(step, goal, seen | {step}))
            for step in ALLOWED[start]
        )

    assert not [package for package in ALLOWED if reaches(package, package)]
