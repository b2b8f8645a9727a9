"""The layering of docs/architecture.md that tests check: only ``storage/`` names a storage
backend (everything else speaks to the protocols in ``storage/protocols.py``); no two modules
import each other in a circle; the import-linter contracts of ``.importlinter`` hold, and
fail on a planted violation (so the CI step that runs them can fail)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import tastemaker

SRC = Path(tastemaker.__file__).parent
REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tastemaker.storage.sqlite", "tastemaker.storage.local", "tastemaker.storage.postgres")  # redis, nats join them


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


# -- import cycles ---------------------------------------------------------------------------


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules of ``package`` that import each other in a circle (the strongly
    connected components of more than one module), each sorted, in sorted order.

    grimp reads every import statement, function-level (lazy) and ``TYPE_CHECKING`` ones
    included: a lazy import still ties the two modules together. Tarjan's algorithm, with
    an explicit stack so a long import chain cannot hit the recursion limit.
    """
    graph = grimp.build_graph(package, cache_dir=None)
    imports = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(imports[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(imports[child])))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def test_no_module_of_tastemaker_is_part_of_an_import_cycle():
    assert import_cycles("tastemaker") == []


def test_the_cycle_check_sees_a_planted_cycle_through_a_lazy_import(tmp_path: Path, monkeypatch):
    package = tmp_path / "planted_cycle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from planted_cycle import b\n")
    (package / "b.py").write_text("def f():\n    from planted_cycle import c\n    return c\n")
    (package / "c.py").write_text("import planted_cycle.a\n")
    (package / "d.py").write_text("from planted_cycle import a\n")  # imports into the cycle, not part of it
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("planted_cycle") == [["planted_cycle.a", "planted_cycle.b", "planted_cycle.c"]]


# -- the import-linter contracts (.importlinter) -----------------------------------------------


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the contracts of ``root/.importlinter`` over the package in ``root/src``."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache",
                           "--config", str(root / ".importlinter")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "planted", "message"), [
    # a lower layer importing a higher one, lazily inside a function
    ("storage/protocols.py", "def planted():\n    from tastemaker.serving import request\n",
     "tastemaker.storage is not allowed to import tastemaker.serving"),
    # independent siblings
    ("rules/margin.py", "from tastemaker.models import topk\n",
     "tastemaker.rules is not allowed to import tastemaker.models"),
    # a leaf utility reaching into a layer
    ("heap.py", "import tastemaker.features.weights\n", "tastemaker.heap is not allowed to import tastemaker.features"),
])
def test_lint_imports_fails_on_a_planted_violation(tmp_path: Path, module: str, planted: str, message: str):
    shutil.copytree(SRC, tmp_path / "src" / "tastemaker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    assert lint_imports(tmp_path).returncode == 0  # the copy itself is clean
    target = tmp_path / "src" / "tastemaker" / module
    target.write_text(target.read_text() + "\n\n" + planted)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert message in result.stdout
