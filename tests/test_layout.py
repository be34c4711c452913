"""The folders import each other one way only: service uses actors and schemas, actors uses schemas, schemas
uses nothing of the project."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAY_USE = {"schemas": set(), "actors": {"schemas"}, "service": {"actors", "schemas"}}


@pytest.mark.parametrize("folder", sorted(MAY_USE))
def test_no_folder_imports_one_that_imports_it(folder):
    used = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                used.update(alias.name.split(".")[0] for alias in node.names)
    project = used & set(MAY_USE) - {folder}
    assert project <= MAY_USE[folder], f"{folder} imports {sorted(project - MAY_USE[folder])}"
