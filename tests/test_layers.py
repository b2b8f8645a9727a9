"""The layering of ../shared/DESIGN.md that a test can check: only ``storage/`` names a
storage backend; everything else speaks to the protocols in ``storage/protocols.py``."""

from __future__ import annotations

import ast
from pathlib import Path

import tastemaker

SRC = Path(tastemaker.__file__).parent
BACKENDS = ("tastemaker.storage.sqlite", "tastemaker.storage.local")  # postgres, redis, nats join them


def backend_imports(path: Path) -> list[str]:
    """The backend modules a source file imports (docstrings and comments are not imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found += [n for n in names if n.startswith(BACKENDS)]
    return found


def test_nothing_outside_storage_imports_a_backend_module():
    offenders = {
        str(path.relative_to(SRC)): imports
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] != "storage" and (imports := backend_imports(path))
    }
    assert offenders == {}


def test_the_check_sees_a_planted_violation(tmp_path: Path):
    planted = tmp_path / "planted.py"
    planted.write_text('"""from tastemaker.storage.sqlite import Database (a docstring, not an import)"""\n'
                       "import os\nfrom tastemaker.storage.sqlite.models import SQLiteModelStore\n")
    assert backend_imports(planted) == ["tastemaker.storage.sqlite.models",
                                        "tastemaker.storage.sqlite.models.SQLiteModelStore"]
