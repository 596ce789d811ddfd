"""The light client distribution (``clients/pyproject.toml``): what importing it loads,
and the README's client example run from a fresh virtual environment that has only
``pip install ./clients`` in it, against a server of the full install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from landsim_client import Client

TOKEN = "test-token"  # the token of the conftest servers
ROOT = Path(__file__).resolve().parents[2]
README_HEADING = "#### Light client example"
HEAVY = ("numba", "scipy", "torch", "landsim", "llvmlite", "landsim_server")


def readme_example() -> str:
    """The first ```python block under the README's light-client heading, verbatim."""
    text = (ROOT / "README.md").read_text()
    assert README_HEADING in text, f"README.md lost its {README_HEADING!r} section"
    after = text.split(README_HEADING, 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match is not None, "no python block under the light-client heading"
    return match.group(1)


def test_importing_the_client_loads_no_simulator_modules():
    script = textwrap.dedent(f"""
        import sys
        import landsim_wire, landsim_wire.arrays, landsim_wire.chunks
        from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc, landscape_pb2
        from landsim_wire.v1 import landscape_pb2_grpc, ndarray_pb2
        import landsim_client, landsim_client.cli
        from landsim_client import errors, rpc_protos
        rpc_protos.status_classes(), rpc_protos.health_messages()
        print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout, out.stdout


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def test_readme_example_runs_with_only_the_light_client_installed(server, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300,
                   capture_output=True)
    python = _venv_python(venv)
    # a copy of clients/, so that the build leaves nothing in the working tree
    source = tmp_path / "clients"
    shutil.copytree(ROOT / "clients", source, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info"))
    t0 = time.monotonic()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         str(source)], capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - t0
    assert install.returncode == 0, install.stdout + install.stderr
    print(f"pip install ./clients took {seconds:.1f} s")

    check = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print([m for m in "
         "('numba', 'scipy', 'torch', 'landsim', 'landsim_server') if u.find_spec(m)])"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 0 and check.stdout.strip() == "[]", check.stdout + check.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(LANDSIM_TARGET=server.target, LANDSIM_TOKEN=TOKEN)
    example = tmp_path / "example.py"
    example.write_text(readme_example())
    run = subprocess.run([str(python), str(example)], capture_output=True, text=True,
                         timeout=120, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    match = re.fullmatch(r"landscape ([0-9a-f]{32}) loss \(5,\) grad \(5, 20\)\n", run.stdout)
    assert match is not None, run.stdout
    with Client(server.target, token=TOKEN) as full:  # content-derived: the same id
        assert full.create_landscape(dim=20, n_wedges=3, n_short=4, eps1=0.1,
                                     seed=0) == match.group(1)

    script = venv / ("Scripts/landsim-client.exe" if os.name == "nt" else "bin/landsim-client")
    listing = subprocess.run([str(script), "list"], capture_output=True, text=True,
                             timeout=120, env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert match.group(1) in listing.stdout


@pytest.mark.parametrize("name", ["landsim_client", "landsim_wire"])
def test_light_distribution_ships_the_package(name):
    text = (ROOT / "clients" / "pyproject.toml").read_text()
    assert f'"{name}"' in text and 'name = "landsim-client"' in text
    deps = re.search(r"dependencies = \[(.*?)\]", text, re.S).group(1)
    names = sorted(re.findall(r'"([A-Za-z0-9_-]+)', deps))
    assert names == ["grpcio", "numpy", "protobuf"]
