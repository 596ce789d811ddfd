"""The Ray executor on real two-node Ray clusters, each in its own network namespace.

Two scenario processes (``tests/ray_scenarios.py``), one cluster each, run once per
module: ``results_nodes`` (same Results as the local executor; units spread over both
nodes) and ``kill_cancel`` (a worker SIGKILLed mid-task; ``cancel()`` from another
thread); a third (``hang``) never ends, to check that a timed-out scenario's cluster is
ended all the same. Each is launched with ``unshare -n`` (``tests/ray_cluster.py`` says
why, how the cluster authenticates and how it is ended by process id), so these tests
skip where Ray is missing or ``unshare -n`` is not permitted (it needs root). Two more
tests need neither: the install hint without Ray, and ``import landsim`` not importing
Ray.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ray_cluster import (
    REPO,
    ScenarioFailed,
    cluster_pids,
    end_cluster,
    netns_problem,
    ray_importable,
    run_in_netns,
    short_temp_dir,
)

from landsim.executors import make_executor
from landsim.results import load_result, save_result
from landsim.units import plan_units

SCENARIO_TIMEOUT_S = 150
HANG_TIMEOUT_S = 40  # the hang scenario's cluster is up in about 5 s on 2 cores


def _cluster_skip_reason() -> str | None:
    if not ray_importable():
        return 'Ray is not installed (pip install "landsim[ray]")'
    problem = netns_problem()
    if problem is not None:
        return f"Ray clusters run in their own network namespace: {problem}"
    return None


SKIP_REASON = _cluster_skip_reason()
needs_cluster = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def _run_scenario(name: str, out_dir) -> dict:
    temp_dir = short_temp_dir()
    try:
        data = run_in_netns([sys.executable, "-m", "tests.ray_scenarios", name, temp_dir,
                             str(out_dir)], temp_dir, SCENARIO_TIMEOUT_S)
    finally:
        end_cluster(temp_dir)  # by command line, should the scenario have failed early
        left = cluster_pids(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    data.update(_temp_dir=temp_dir, _left_at_teardown=left)
    return data


@pytest.fixture(scope="module")
def results_nodes(tmp_path_factory):
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    out = tmp_path_factory.mktemp("ray-results-nodes")
    return out, _run_scenario("results_nodes", out)


@pytest.fixture(scope="module")
def kill_cancel(tmp_path_factory):
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    out = tmp_path_factory.mktemp("ray-kill-cancel")
    return _run_scenario("kill_cancel", out)


def _comparable(result) -> str:
    """Everything of a Result but where and how long it ran, as canonical JSON."""
    data = result.to_json_dict()
    for key in ("timings", "machine", "node"):
        data.pop(key)
    return json.dumps(data, sort_keys=True)


@needs_cluster
def test_ray_and_local_results_are_bit_identical(results_nodes, tmp_path):
    out, data = results_nodes
    units = plan_units(["E1"], kind="toy", quick=True, replicates=4, seed=0)
    assert {u.arm for u in units} == {"claim", "control"}
    assert sorted(u["index"] for u in data["units"]) == list(range(len(units)))
    assert all(u["ok"] for u in data["units"]), [u["error"] for u in data["units"]]
    with make_executor("local", workers=2) as ex:
        for done in ex.submit(units):
            assert done.ok, done.error
            save_result(done.result, tmp_path / "local", stem=f"u{done.index}")
    for i, unit in enumerate(units):
        local = load_result(tmp_path / "local" / f"u{i}.json")
        ray = load_result(out / "ray" / f"u{i}.json")
        assert (ray.experiment, ray.arm, ray.seed, ray.replicate) == \
            (unit.claim, unit.arm, unit.seed, unit.replicate)
        assert ray.config == local.config
        assert ray.verdict.holds == local.verdict.holds
        assert ray.verdict.rule == local.verdict.rule
        assert _comparable(ray) == _comparable(local)  # metrics, verdict, config, ...
        assert ray.metrics.keys() == local.metrics.keys()
        for k, v in local.metrics.items():
            assert np.float64(ray.metrics[k]).tobytes() == np.float64(v).tobytes(), k
        assert ray.series.keys() == local.series.keys()
        for k, v in local.series.items():
            w = ray.series[k]
            assert (w.dtype, w.shape) == (v.dtype, v.shape), k
            assert np.array_equal(w, v, equal_nan=v.dtype.kind in "fc"), k
            assert w.tobytes() == v.tobytes(), k  # bit for bit (NaN payloads, -0.0)


@needs_cluster
def test_ray_units_run_on_both_nodes(results_nodes):
    _, data = results_nodes
    assert len(data["nodes"]) == 2 and data["node2"] in data["nodes"]
    units = data["units"]
    assert len(units) == 8 and all(u["ok"] for u in units)
    assert all(u["node"] == u["result_node"] for u in units)  # Finished.node == Result.node
    assert {u["node"] for u in units} == set(data["nodes"]), units
    assert data["disconnected"]  # close() ended the connection the executor opened


@needs_cluster
def test_ray_retries_a_unit_whose_worker_was_killed(kill_cancel):
    kill = kill_cancel["kill"]
    assert kill["killed"] is not None, f"no unit ran on node 2 to kill: {kill}"
    assert kill["killed"]["node"] == kill_cancel["node2"]
    assert not kill["killed_alive"]
    assert kill["ended"] == "finished", kill
    finished = kill["finished"]
    assert sorted(f["index"] for f in finished) == list(range(kill["n_units"]))
    assert all(f["ok"] for f in finished), [f["error"] for f in finished]
    # the killed unit started again, in another worker process
    again = [a for a in kill["attempts"] if a["index"] == kill["killed"]["index"]]
    assert len(again) >= 2 and again[-1]["pid"] != kill["killed"]["pid"], again


@needs_cluster
def test_ray_cancel_from_another_thread(kill_cancel):
    cancel = kill_cancel["cancel"]
    assert cancel["ended"] == "cancelled", cancel
    assert cancel["running_at_cancel"], "no unit was running when cancel() was called"
    assert cancel["finished_before"] < cancel["n_units"]
    assert cancel["raised_after_s"] is not None and cancel["raised_after_s"] < 5.0, cancel
    assert cancel["alive_after"] == [], "the cancelled tasks' workers kept running"


@needs_cluster
@pytest.mark.parametrize("scenario", ["results_nodes", "kill_cancel"])
def test_each_cluster_ends_with_its_scenario(scenario, request):
    data = request.getfixturevalue(scenario)
    data = data[1] if isinstance(data, tuple) else data
    assert data["ended_pids"], "the scenario found no process of its own cluster to end"
    assert data["_leftover"] == [], "cluster processes outlived their scenario"
    assert data["_remaining"] == [] and data["_left_at_teardown"] == []
    assert cluster_pids(data["_temp_dir"]) == []
    # _remaining also held every process left in the namespace, checked while held open
    assert data["_netns"] and data["_netns"] != os.readlink("/proc/self/ns/net")


@needs_cluster
def test_a_scenario_that_times_out_has_its_cluster_ended(tmp_path):
    temp_dir = short_temp_dir()
    try:
        with pytest.raises(ScenarioFailed) as failed:
            run_in_netns([sys.executable, "-m", "tests.ray_scenarios", "hang", temp_dir,
                          str(tmp_path)], temp_dir, timeout_s=HANG_TIMEOUT_S)
    finally:
        end_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert failed.value.timed_out, str(failed.value)
    assert (tmp_path / "ready").exists(), "the cluster was not up before the timeout"
    assert failed.value.leftover, "the timed-out scenario left no cluster to end?"
    assert failed.value.remaining == []  # nothing left in its namespace either


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_make_executor_ray_without_ray_says_how_to_install():
    done = _python(
        "import sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "from landsim.executors import make_executor\n"
        "try:\n"
        "    make_executor('ray')\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
        "else:\n"
        "    print('no error')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError:"), done.stdout
    assert 'pip install "landsim[ray]"' in done.stdout


def test_import_landsim_does_not_import_ray():
    done = _python(
        "import sys\n"
        "import landsim, landsim.executors, landsim.units\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
