"""Packages import downward only: the base imports no other package of the project, and no component
imports the operator CLI (``deisctl``)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"deiscore", "controller", "builder", "scheduler", "router", "client", "deisctl"}


def imported_packages(package: str) -> dict[str, set[str]]:
    """{module path: project packages it imports}, for every module of ``package``."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names & PROJECT
    return found


def test_the_base_imports_no_other_package_of_the_project():
    offenders = {path: names - {"deiscore"} for path, names in imported_packages("deiscore").items()
                 if names - {"deiscore"}}
    assert offenders == {}


def test_no_component_imports_the_operator_cli():
    offenders = {path: names for package in ("controller", "builder", "scheduler", "router", "client")
                 for path, names in imported_packages(package).items() if "deisctl" in names}
    assert offenders == {}
