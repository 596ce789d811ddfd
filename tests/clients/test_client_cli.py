"""``landsim-client`` run in-process through main(argv) against the live test server."""

from __future__ import annotations

import io
import json
import socket
import sys

import numpy as np
import pytest
from landsim_client.cli import main

from landsim import geometry
from landsim.results import load_result
from landsim.spec import random_landscape

TOKEN = "test-token"  # the token of the conftest servers
TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cli(server, capsys, monkeypatch):
    """cli(*args) -> (exit status, stdout, stderr), with --target and --token from the
    environment (LANDSIM_TARGET, LANDSIM_TOKEN), as a user would set them."""
    monkeypatch.setenv("LANDSIM_TARGET", server.target)
    monkeypatch.setenv("LANDSIM_TOKEN", TOKEN)

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def landscape_id(server):
    from landsim_client import Client

    with Client(server.target, token=TOKEN) as c:
        return c.create_landscape(dim=10, n_wedges=2, n_short=3, eps1=0.1, seed=7)


def test_create_list_show_delete(cli, tmp_path):
    code, out, err = cli("create", "--dim", 10, "--n-wedges", 2, "--n-short", 3,
                         "--eps1", 0.1, "--seed", 7)
    assert code == 0 and err == ""
    lid = out.strip()
    assert len(lid) == 32
    spec = random_landscape(10, 2, 3, eps1=0.1, seed=7)
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert cli("create", "--spec", path)[1].strip() == lid  # same content, same id
    spec.replace(tau=3.0).save_npz(tmp_path / "other.npz")
    code, out, _ = cli("create", "--spec", tmp_path / "other.npz")
    other = out.strip()
    assert code == 0 and other != lid
    code, out, _ = cli("list")
    assert code == 0 and lid in out and other in out
    code, out, _ = cli("show", lid, "--save-spec", tmp_path / "back.json")
    assert code == 0 and "n_short   [3, 3]" in out
    assert (tmp_path / "back.json").read_text() == spec.to_json()
    assert cli("delete", other)[0] == 0
    code, _, err = cli("show", other)
    assert code == 1 and "NOT_FOUND" in err and "Traceback" not in err
    code, _, err = cli("create", "--dim", 10)
    assert code == 2 and "--n-wedges" in err


def test_eval_writes_the_library_values(cli, landscape_id, tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 10))
    np.save(tmp_path / "x.npy", X)
    code, out, _ = cli("eval", landscape_id, "--points", tmp_path / "x.npy", "--gradient",
                       "--out", tmp_path / "ev.npz")
    assert code == 0 and "20 point(s)" in out
    ref = geometry.evaluate(random_landscape(10, 2, 3, eps1=0.1, seed=7), X, grad=True)
    with np.load(tmp_path / "ev.npz") as z:
        assert np.array_equal(z["loss"], ref.loss) and np.array_equal(z["grad"], ref.grad)
        assert "wedge_losses" not in z


def test_eval_invalid_argument_exits_2_with_the_field(cli, landscape_id, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((4, 3)))
    code, out, err = cli("eval", landscape_id, "--points", tmp_path / "bad.npy")
    assert code == 2 and out == ""
    assert "INVALID_ARGUMENT" in err and "field points.shape" in err and "D=10" in err
    assert "Traceback" not in err
    assert cli("eval", landscape_id, "--points", tmp_path / "missing.npy")[0] == 2
    assert cli("no-such-command")[0] == 2  # usage error
    assert cli("section", landscape_id, "line", "--b", "1,2")[0] == 2  # wrong length


def test_section_line_plane_radial_with_plot_and_out(cli, landscape_id, tmp_path):
    code, out, _ = cli("section", landscape_id, "line", "--a", "random:1", "--b", "e3",
                       "--num-t", 21, "--out", tmp_path / "line.npz", "--plot",
                       tmp_path / "line.png")
    assert code == 0 and "barrier" in out
    with np.load(tmp_path / "line.npz") as z:
        assert z["t"].shape == (21,) and z["loss"].shape == (21,)
    assert (tmp_path / "line.png").read_bytes().startswith(PNG_MAGIC)
    code, out, _ = cli("section", landscape_id, "plane", "--d1", "e0", "--d2", "e1",
                       "--extent", 2, "--resolution", 11, "--plot", tmp_path / "plane.png")
    assert code == 0 and "plane grid 11 x 11" in out
    assert (tmp_path / "plane.png").read_bytes().startswith(PNG_MAGIC)
    code, out, _ = cli("section", landscape_id, "radial", "--d1", "random:2", "--d2",
                       "random:3", "--radii", "0:2:5", "--angles", 8, "--out",
                       tmp_path / "radial.npz", "--plot", tmp_path / "radial.png")
    assert code == 0 and "radial grid 5 x 8" in out
    assert (tmp_path / "radial.png").read_bytes().startswith(PNG_MAGIC)


def test_submit_watch_jobs_result_cancel(cli, tmp_path):
    code, out, err = cli("submit", "E1", "--quick", "--seed", 3, "--config",
                         json.dumps(TINY_E1), "--watch")
    assert code == 0, err
    lines = out.splitlines()
    job_id = lines[0].split()[1]
    assert lines[0].startswith("job ") and any(ln.startswith("RUNNING") for ln in lines)
    assert any(ln.startswith("SUCCEEDED") for ln in lines)  # plain lines: not a TTY
    assert "\r" not in out and "succeeded" in lines[-1]
    code, out, _ = cli("jobs", "--state", "succeeded")
    assert code == 0 and job_id in out
    code, out, _ = cli("job", job_id)
    assert code == 0 and '"dim": 200' in out
    assert "replicate 0\n" in out and "arm       claim\n" in out
    code, out, _ = cli("result", job_id, "--out", tmp_path / "res", "--plot",
                       tmp_path / "res.png")
    assert code == 0 and "E1 (toy, claim arm, seed 3, replicate 0): claim" in out
    stored = load_result(tmp_path / "res" / "E1-toy-claim-seed3-r0.json")
    assert stored.seed == 3 and set(stored.series) >= {"t", "line_loss"}
    assert (stored.arm, stored.replicate) == ("claim", 0)
    assert (tmp_path / "res.png").read_bytes().startswith(PNG_MAGIC)
    code, _, err = cli("cancel", job_id)  # a SUCCEEDED job cannot be cancelled
    assert code == 1 and "FAILED_PRECONDITION" in err and "precondition JOB_STATE" in err
    code, _, err = cli("submit", "E1", "--config", "[1]")
    assert code == 2 and "JSON object" in err
    code, _, err = cli("submit", "E1", "--quick", "--config", '{"n_starts": 0}')
    assert code == 2 and "field config.n_starts" in err
    assert cli("delete-job", job_id)[0] == 0
    assert job_id not in cli("jobs")[1]


def test_submit_replicate_and_control(cli, tmp_path):
    code, out, err = cli("submit", "E1", "--quick", "--seed", 3, "--replicate", 2,
                         "--control", "--config", json.dumps(TINY_E1), "--watch")
    assert code == 0, err
    job_id = out.splitlines()[0].split()[1]
    code, out, _ = cli("jobs", "--state", "succeeded")
    line = next(ln for ln in out.splitlines() if ln.startswith(job_id))
    assert line.split()[1:5] == ["E1", "toy", "control", "r2"]
    code, out, _ = cli("job", job_id)
    assert code == 0 and "replicate 2\n" in out and "arm       control\n" in out
    assert '"line_start": "init"' in out  # the claim arm's config; the worker derives the rest
    code, out, _ = cli("result", job_id, "--out", tmp_path / "res")
    assert code == 0 and "E1 (toy, control arm, seed 3, replicate 2): claim" in out
    stored = load_result(tmp_path / "res" / "E1-toy-control-seed3-r2.json")
    assert (stored.arm, stored.replicate, stored.seed) == ("control", 2, 3)
    assert stored.config["line_start"] == "other_optimum"
    code, _, err = cli("submit", "E1", "--quick", "--replicate", -1)
    assert code == 2 and "field replicate" in err and "[0, 9999], got -1" in err
    code, _, err = cli("submit", "E1", "--quick", "--replicate", "two")
    assert code == 2 and "--replicate" in err


def test_submit_a_sweep_job(cli, tmp_path):
    code, out, err = cli("submit", "E1", "--quick", "--seed", 2, "--config",
                         json.dumps(TINY_E1), "--grid", "steps=40,60", "--seeds", 2,
                         "--watch")
    assert code == 0, err
    job_id = out.splitlines()[0].split()[1]
    code, out, _ = cli("job", job_id)
    assert code == 0 and "sweep     steps = 40, 60; 2 seed(s)\n" in out
    code, out, _ = cli("result", job_id, "--out", tmp_path / "res")
    assert code == 0 and "units_holding" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("  unit ")]
    assert [ln.split(":")[0] for ln in lines] == [
        "  unit claim steps=40 r0", "  unit claim steps=40 r1", "  unit claim steps=60 r0",
        "  unit claim steps=60 r1"]
    stored = load_result(tmp_path / "res" / "E1-toy-claim-seed2-r0.json")
    assert len(stored.config["units"]) == 4 and stored.series["unit_holds"].shape == (4,)
    code, _, err = cli("submit", "E1", "--quick", "--grid", "steps")
    assert code == 2 and "--grid must be FIELD=V1,V2" in err
    code, _, err = cli("submit", "E1", "--quick", "--grid", "no_field=1")
    assert code == 2 and "sweep.axes[0]" in err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_watch_draws_a_progress_bar_on_a_terminal(cli, monkeypatch):
    code, out, _ = cli("submit", "E1", "--quick", "--seed", 4, "--config",
                       json.dumps(TINY_E1))
    job_id = out.split()[1]
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["watch", job_id]) == 0
    text = terminal.getvalue()
    assert text.startswith("\r[") and "#" * 30 in text and "SUCCEEDED" in text
    assert text.rstrip().endswith(f"landsim-client result {job_id}")


def test_connection_and_auth_errors_exit_1_without_traceback(cli, server, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = cli("--target", f"127.0.0.1:{port}", "--timeout", 2, "list")
    assert code == 1 and "UNAVAILABLE" in err and "Traceback" not in err
    monkeypatch.delenv("LANDSIM_TOKEN")
    code, _, err = cli("list")
    assert code == 1 and "UNAUTHENTICATED" in err
    assert cli("--token", TOKEN, "list")[0] == 0


def test_plugins_without_a_torch_worker_says_so(cli):
    code, out, err = cli("plugins")
    assert code == 0, err
    assert "no plug-ins: this server runs no torch worker" in out
    code, out, _ = cli("plugins", "--json")
    assert code == 0 and json.loads(out) == []
