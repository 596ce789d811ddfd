"""The repository's shape: module sizes, the import rules of docs/architecture.md, and no
pointer outside the repository."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def layout():
    spec = importlib.util.spec_from_file_location("layout", ROOT / "docs" / "_tools" / "layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_hand_written_module_over_500_lines(layout):
    files = layout.source_files()
    assert len(files) > 100
    big = {str(p.relative_to(ROOT)): n for p in files
           if (n := len(p.read_text().splitlines())) > 500}
    assert big == {}


def test_the_import_rules_hold(layout):
    graph = layout.graph()
    assert graph["landsim_client"] == {"landsim_wire"}
    assert "landsim_wire" not in graph  # it imports nothing of ours
    assert "landsim_client" not in graph["landsim_server"]
    # the core reaches the server never, the client only in the record converter
    assert "landsim_server" not in graph["landsim (core)"]
    core_to_client = {str(p.relative_to(ROOT)) for p in layout.source_files()
                      if layout.package_of(layout.module_name(p)) == "landsim (core)"
                      and any(n.startswith("landsim_client") for n in layout.imports_of(p))}
    assert core_to_client == {"landsim/client_records.py"}


def test_real_experiments_never_import_a_toy_experiment_module(layout):
    for path in sorted((ROOT / "landsim" / "real").rglob("*.py")):
        names = layout.imports_of(path)
        toy = {n for n in names if re.match(r"landsim\.experiments\.(e\d|_)", n)}
        assert toy == set(), path


def test_the_layout_tool_sees_a_forbidden_edge(layout, tmp_path, monkeypatch):
    # the control: a core module importing the server shows up in the graph
    fake = tmp_path / "landsim"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("import landsim_server.app\n")
    monkeypatch.setattr(layout, "ROOT", tmp_path)
    assert "landsim_server" in layout.graph()["landsim (core)"]


def test_nothing_tracked_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    team = "shared"  # the team's notes beside the repository, which no file may cite
    outside = (f"../{team}", f"{team}/MODEL.md", f"{team}/ARCHITECTURE.md", f"{team}/seeds")
    hits = [f for f in files if (ROOT / f).is_file()
            and any(s in (ROOT / f).read_text(errors="replace") for s in outside)]
    assert hits == []
