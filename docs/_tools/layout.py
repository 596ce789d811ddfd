"""Print the repository's layout facts that docs/architecture.md records.

``python docs/_tools/layout.py lines`` prints the lines per Python module (generated code
excluded), largest first; ``python docs/_tools/layout.py graph`` prints which package imports
which (static ``import`` statements, module level and inside functions).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("landsim", "server", "clients", "wire")
GENERATED = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")


def source_files() -> list[Path]:
    """Every hand-written ``.py`` file of the distributions, sorted by path."""
    files = []
    for top in SOURCE_DIRS:
        base = ROOT / top
        if base.is_dir():
            files += [p for p in base.rglob("*.py")
                      if not p.name.endswith(GENERATED) and ".venv" not in p.parts
                      and "build" not in p.parts]
    return sorted(files)


def module_name(path: Path) -> str:
    """Dotted module name of ``path`` (the distribution's source folder dropped)."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in ("server", "clients", "wire"):
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str) -> str:
    """The package a module is counted under in the graph."""
    parts = module.split(".")
    if parts[0] == "landsim" and len(parts) > 1 and parts[1] in (
            "kernels", "experiments", "real", "report", "v1"):
        return ".".join(parts[:2])
    return parts[0] if parts[0] != "landsim" else "landsim (core)"


def imports_of(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = module_name(path)
    pkg = own if path.name == "__init__.py" else own.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


OURS = ("landsim", "landsim_server", "landsim_client", "landsim_wire")


def graph() -> dict[str, set[str]]:
    """{package: packages of ours it imports}."""
    edges: dict[str, set[str]] = defaultdict(set)
    known = {module_name(p) for p in source_files()}
    for path in source_files():
        src = package_of(module_name(path))
        for name in imports_of(path):
            if name.split(".")[0] not in OURS:
                continue
            while name not in known and "." in name:
                name = name.rpartition(".")[0]
            dst = package_of(name)
            if dst != src:
                edges[src].add(dst)
    return edges


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "lines"
    if what == "lines":
        rows = sorted(((len(p.read_text().splitlines()), p.relative_to(ROOT))
                       for p in source_files()), reverse=True)
        for n, rel in rows:
            print(f"{n:6d}  {rel}")
    elif what == "graph":
        for src, dsts in sorted(graph().items()):
            print(f"{src} -> {', '.join(sorted(dsts))}")
    else:
        print(f"unknown command {what!r}; use 'lines' or 'graph'", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
