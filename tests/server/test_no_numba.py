"""The server controls the kernels' threads through landsim.threads: no module of the
server imports numba itself."""

from __future__ import annotations

import ast
from pathlib import Path

import landsim_server

SERVER_DIR = Path(landsim_server.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def test_no_server_module_imports_numba():
    modules = sorted(SERVER_DIR.glob("*.py"))
    assert len(modules) > 5
    offenders = {p.name: sorted(n for n in _imports(p) if n.split(".")[0] == "numba")
                 for p in modules}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_check_sees_every_kind_of_import(tmp_path):
    for i, line in enumerate(["import numba", "import numba.core as c", "from numba import njit",
                              "import importlib\nimportlib.import_module('numba')"]):
        path = tmp_path / f"m{i}.py"
        path.write_text(line + "\n")
        assert any(n.split(".")[0] == "numba" for n in _imports(path)), line
