"""Ray executor scenarios, each on its own two-node cluster in its own network namespace.

Run by ``tests/test_ray_executor.py`` (never directly by pytest)::

    unshare -n sh -c 'ip link set lo up && exec python -m tests.ray_scenarios \\
        SCENARIO TEMP_DIR OUT_DIR'

The scenario starts a cluster (:func:`tests.ray_cluster.start_cluster`: a head with 1 CPU
and a second node with 1 CPU and the custom resource ``node2``, ``--temp-dir TEMP_DIR``),
connects (``ray.init``; in ``results_nodes`` the executor connects by itself), runs,
prints one JSON line of results on stdout and ends its own cluster by process id (also
when it fails). Scenarios:

``results_nodes``
    8 E1 quick units (4 replicates x claim and control) through the Ray executor; every
    Result is saved with ``save_result`` into ``OUT_DIR/ray`` as ``u<index>``; reports each
    unit's node and the cluster's node ids.
``hang``
    Starts its cluster, runs one task, then sleeps: the caller must time it out and end
    the cluster by process id itself.
``kill_cancel``
    (1) 4 E2 quick units; the first attempt of a unit seen on node 2 gets its worker
    SIGKILLed mid-task; the sweep must still finish (Ray retries). (2) 4 slower E2 units;
    ``cancel()`` from another thread once tasks run; reports how long until ``submit``
    raised ``Cancelled`` and whether the running tasks' workers ended.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from tests.ray_cluster import end_cluster, start_cluster

TWO_NODES = [{"num_cpus": 1, "resources": {"node2": 1}}]


def record_pid_task(pid_dir: str, index: int, unit, node: str, progress):
    """A ``task=`` for the Ray executor: note ``<index>-<pid>`` (holding the node id) in
    ``pid_dir``, then run the unit as usual."""
    from landsim.executors.base import run_one

    path = Path(pid_dir, f"{index}-{os.getpid()}")
    tmp = path.with_name("." + path.name)
    tmp.write_text(node)
    tmp.replace(path)
    return run_one(index, unit, node, progress)


def _pid_task(pid_dir: Path):
    """:func:`record_pid_task` for ``pid_dir``, from the importable module
    ``tests.ray_scenarios`` (not ``__main__``), so Ray's workers import it (the driver's
    working directory, the repository, is on their path) rather than get its code."""
    module = importlib.import_module("tests.ray_scenarios")
    return functools.partial(module.record_pid_task, str(pid_dir))


def _attempts(pid_dir: Path) -> list[dict]:
    """The task starts noted so far: ``[{"index", "pid", "node"}]``, oldest first."""
    out = []
    for path in pid_dir.iterdir():
        if not path.name.startswith("."):  # ".<name>": being written
            index, pid = path.name.split("-")
            out.append({"index": int(index), "pid": int(pid), "node": path.read_text(),
                        "at": path.stat().st_mtime_ns})
    return sorted(out, key=lambda a: a["at"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _node_ids(nodes: list[dict]) -> dict:
    """All node ids of ``ray.nodes()``, node 2's and the head's."""
    alive = [n for n in nodes if n.get("Alive")]
    node2 = [n["NodeID"] for n in alive if "node2" in n["Resources"]]
    return {"nodes": sorted(n["NodeID"] for n in alive),
            "node2": node2[0] if node2 else None,
            "head": next((n["NodeID"] for n in alive if "node2" not in n["Resources"]),
                         None)}


def _collect(executor, units, sink: list, outcome: dict) -> None:
    """Iterate ``executor.submit(units)`` (in a thread), noting how it ended."""
    from landsim.executors import Cancelled

    try:
        for done in executor.submit(units):
            sink.append(done)
        outcome["ended"] = "finished"
    except Cancelled as exc:
        outcome["ended"] = "cancelled"
        outcome["message"] = str(exc)
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        outcome["ended"] = f"{type(exc).__name__}: {exc}"
    outcome["at"] = time.monotonic()


def results_nodes(address: str, out_dir: Path) -> dict:
    """Here the executor connects to the cluster itself (``ray.init`` in the executor)."""
    import ray

    from landsim.executors import make_executor
    from landsim.results import save_result
    from landsim.units import plan_units

    assert not ray.is_initialized()
    units = plan_units(["E1"], kind="toy", quick=True, replicates=4, seed=0)
    done = []
    with make_executor("ray", address=address) as ex:
        nodes = [{"NodeID": n["node_id"], "Resources": n["resources"], "Alive": True}
                 for n in ex.nodes()]
        t0 = time.monotonic()
        for f in ex.submit(units):
            done.append({"index": f.index, "ok": f.ok, "error": f.error, "node": f.node,
                         "result_node": f.result.node if f.ok else None})
            if f.ok:
                save_result(f.result, out_dir / "ray", stem=f"u{f.index}")
        seconds = time.monotonic() - t0
    disconnected = not ray.is_initialized()  # the executor's close() ended its connection
    return {"units": done, "seconds": seconds, "disconnected": disconnected,
            **_node_ids(nodes)}


def kill_cancel(address: str, out_dir: Path) -> dict:
    import ray

    from landsim.executors.ray_executor import RayExecutor
    from landsim.units import experiment_module, plan_units

    ids = _node_ids(ray.nodes())
    report: dict = {**ids}

    # (1) a worker of node 2 is SIGKILLed mid-task; Ray runs its unit again
    pid_dir = out_dir / "pids-kill"
    pid_dir.mkdir(parents=True)
    units = plan_units(["E2"], kind="toy", quick=True, replicates=4, seed=1,
                       controls=False)
    sink: list = []
    outcome: dict = {}
    killed = None
    with RayExecutor(address=address, max_retries=3,
                     task=_pid_task(pid_dir)) as ex:
        t0 = time.monotonic()
        runner = threading.Thread(target=_collect, args=(ex, units, sink, outcome),
                                  daemon=True)
        runner.start()
        deadline = time.monotonic() + 60
        while killed is None and runner.is_alive() and time.monotonic() < deadline:
            for a in _attempts(pid_dir):
                if a["node"] == ids["node2"] and _alive(a["pid"]):
                    time.sleep(0.2)  # well inside the unit (it takes about 1 s or more)
                    os.kill(a["pid"], signal.SIGKILL)
                    killed = {**a, "after_s": time.monotonic() - t0}
                    break
            time.sleep(0.02)
        runner.join(timeout=120)
    report["kill"] = {
        "killed": killed, "ended": outcome.get("ended", "still running"),
        "finished": [{"index": f.index, "ok": f.ok, "error": f.error[:2000],
                      "node": f.node} for f in sink],
        "attempts": _attempts(pid_dir), "killed_alive": killed is not None
        and _alive(killed["pid"]), "n_units": len(units),
        "seconds": time.monotonic() - t0}

    # (2) cancel() from another thread while slow units run
    pid_dir = out_dir / "pids-cancel"
    pid_dir.mkdir(parents=True)
    module = experiment_module("E2", "toy")
    slow = dataclasses.replace(module.quick_config(), n_seeds=40)
    units = plan_units(["E2"], kind="toy", quick=True, replicates=4, seed=2,
                       controls=False, configure=lambda c: slow)
    sink, outcome = [], {}
    with RayExecutor(address=address,
                     task=_pid_task(pid_dir)) as ex:
        runner = threading.Thread(target=_collect, args=(ex, units, sink, outcome),
                                  daemon=True)
        t0 = time.monotonic()
        runner.start()
        deadline = t0 + 60
        while runner.is_alive() and time.monotonic() < deadline \
                and len(_attempts(pid_dir)) < 2:
            time.sleep(0.02)
        time.sleep(0.5)
        running = [a for a in _attempts(pid_dir) if _alive(a["pid"])]
        t_cancel = time.monotonic()
        canceller = threading.Thread(target=ex.cancel)
        canceller.start()
        canceller.join(timeout=10)
        runner.join(timeout=60)
        raised_after = outcome["at"] - t_cancel if "at" in outcome else None
        gone_deadline = time.monotonic() + 15
        while any(_alive(a["pid"]) for a in running) and time.monotonic() < gone_deadline:
            time.sleep(0.05)
    report["cancel"] = {
        "ended": outcome.get("ended", "still running"), "message": outcome.get("message"),
        "raised_after_s": raised_after, "cancel_after_s": t_cancel - t0,
        "finished_before": len(sink), "n_units": len(units),
        "running_at_cancel": running,
        "alive_after": [a["pid"] for a in running if _alive(a["pid"])],
        "workers_gone_after_s": time.monotonic() - t_cancel}
    return report


def hang(address: str, out_dir: Path) -> dict:
    """Never ends (the test of the caller's cleanup after a timeout): writes
    ``OUT_DIR/ready`` once the cluster is up and a task has run, then sleeps."""
    import ray

    @ray.remote(num_cpus=1)
    def where() -> int:
        return os.getpid()

    ray.get(where.remote(), timeout=60)
    (out_dir / "ready").write_text(address)
    time.sleep(3600)
    return {}


#: name: (function, whether main connects first with ray.init)
SCENARIOS = {"results_nodes": (results_nodes, False), "kill_cancel": (kill_cancel, True),
             "hang": (hang, True)}


def main(argv: list[str]) -> int:
    name, temp_dir, out_dir = argv
    scenario, connect = SCENARIOS[name]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.monotonic()
        address = start_cluster(temp_dir, head_cpus=1, nodes=TWO_NODES)
        started = time.monotonic() - t0
        import ray

        if connect:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        result = scenario(address, out)
        result["cluster_start_s"] = started
        ray.shutdown()
    finally:
        ended = end_cluster(temp_dir)
    result["ended_pids"] = ended
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
