"""Each module imports one way only: service uses actors and schemas; actors use of schemas only the facts
about cameras (schemas/facts.py: what the request schemas need is given to them, as the state store is given
its reader); schemas use nothing of the project; and nothing outside actors takes an actor's private name."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("schemas", "actors", "service")
MODULES = sorted(p.relative_to(ROOT) for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def may_use(module: str, used: str) -> bool:
    folder, other = module.split(".")[0], used.split(".")[0]
    if other == folder or other not in FOLDERS:
        return True
    return {"schemas": False, "actors": used == "schemas.facts", "service": True}[folder]


def project_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import of the file, relative ones resolved."""
    package = ".".join(path.with_suffix("").parts[:-1] if path.name != "__init__.py" else path.parts[:-1])
    found = []
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


@pytest.mark.parametrize("path", MODULES, ids=str)
def test_a_module_imports_only_what_its_layer_may(path):
    module = ".".join(path.with_suffix("").parts)
    for used, names in project_imports(path):
        assert may_use(module, used), f"{module} imports {used}"
        if used.split(".")[0] == "actors" and module.split(".")[0] != "actors":
            assert not [n for n in names if n.startswith("_")], f"{module} takes {names} from {used}"
