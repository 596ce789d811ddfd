"""The job service on a Ray cluster, end to end: run inside a fresh network namespace.

``python -m tests.ray_service_scenario TEMP_DIR DATA_DIR`` (started by
``tests/server/test_ray_service.py`` under ``unshare -n``, with ``LANDSIM_OUTER_NETNS`` set
to the launcher's ``/proc/self/ns/net`` link, so that it refuses to run outside a fresh
namespace) starts a one-node Ray cluster
whose files live in TEMP_DIR, then ``landsim serve --executor ray --workers 1`` against it,
and checks what the JobService promises with worker processes:

1. a job is created, watched and finishes, and its result says which Ray node ran it;
2. a cancel takes effect within a second: the job is CANCELLED and its slot is free for
   the next queued job, which starts within a second and a half;
3. a Ray worker killed with SIGKILL mid-job: Ray reruns the task and the job SUCCEEDS;
4. a server restarted mid-job (SIGTERM, then a new server on the same data directory):
   the job is requeued, resubmitted and SUCCEEDS; the same request id returns the same job;
5. a sweep job runs its units as Ray tasks, and its result lists each with its Ray node.

It prints one JSON object of findings as its last line and ends its own cluster and
server by process id (the processes in this network namespace), never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from landsim_client import Client

RAY_PORT = 6391
SLOW = {"n_seeds": 40}  # E2 quick with more seeds: ~10-20 s of one core


def _my_namespace_pids() -> list[int]:
    """Processes in this network namespace, but this one (all of them started here)."""
    mine = os.readlink("/proc/self/ns/net")
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/net") == mine:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def _task_workers() -> list[int]:
    """Pids of Ray workers in this namespace that run a landsim task now."""
    found = []
    for pid in _my_namespace_pids():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::_task_body"):
            found.append(pid)
    return found


def _start_server(data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "landsim_server", "--port", "0", "--data-dir", data_dir,
         "--executor", "ray", "--ray-address", f"127.0.0.1:{RAY_PORT}", "--workers", "1",
         "--log-level", "INFO"],
        stdout=subprocess.PIPE, stderr=open(Path(data_dir).parent / "server.log", "a"),
        text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _wait_state(client: Client, job_id: str, states: set, timeout: float,
                min_progress: float = -1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get_job(job_id)
        if job.state in states and job.progress > min_progress:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} not in {states} after {timeout} s: {job.state} "
                       f"{job.progress:.2f} {job.message!r} {job.error!r}")


def scenario(temp_dir: str, data_dir: str) -> dict:
    found: dict = {}
    env = dict(os.environ, RAY_AUTH_MODE="disabled")  # loopback-only namespace
    os.environ.update(env)
    subprocess.run(["ray", "start", "--head", f"--port={RAY_PORT}", f"--temp-dir={temp_dir}",
                    "--num-cpus=2", "--disable-usage-stats", "--include-dashboard=false"],
                   check=True, capture_output=True, env=env, timeout=120)
    server, address = _start_server(data_dir)
    try:
        with Client(address) as client:
            # 1. create, watch, finish; the node is recorded
            job = client.submit("E1", quick=True, seed=3)
            events = [e.job.state for e in client.watch(job.id, timeout=120)]
            found["watched_states"] = sorted(set(events))
            found["e1_state"] = client.get_job(job.id).state
            stored = list((Path(data_dir) / "results" / job.id).rglob("*.json"))
            found["e1_node"] = json.loads(stored[0].read_text()).get("node") if stored \
                else None

            # 2. cancel within a second; the freed slot takes the next job
            slow = client.submit("E2", quick=True, config=SLOW, seed=1)
            _wait_state(client, slow.id, {"RUNNING"}, 60, min_progress=0.0)
            queued = client.submit("E1", quick=True, seed=4)
            t0 = time.monotonic()
            client.cancel(slow.id)
            _wait_state(client, queued.id, {"RUNNING", "SUCCEEDED"}, 10)
            found["next_job_started_after_cancel_s"] = time.monotonic() - t0
            found["cancelled_state"] = client.get_job(slow.id).state
            found["after_cancel_state"] = client.wait(queued.id, timeout=120).state

            # 3. SIGKILL the Ray worker mid-job: Ray reruns the task, the job finishes
            slow = client.submit("E2", quick=True, config=SLOW, seed=2)
            _wait_state(client, slow.id, {"RUNNING"}, 60, min_progress=0.05)
            workers = _task_workers()
            found["killed_workers"] = len(workers)
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            done = client.wait(slow.id, timeout=240)
            found["after_kill_state"] = done.state
            found["after_kill_error"] = done.error

            # 4. restart the server mid-job: nothing is lost
            slow = client.submit("E2", quick=True, config=SLOW, seed=5,
                                 request_id="restart-me")
            _wait_state(client, slow.id, {"RUNNING"}, 60, min_progress=0.0)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        server, address = _start_server(data_dir)
        with Client(address) as client:
            again = client.submit("E2", quick=True, config=SLOW, seed=5,
                                  request_id="restart-me")
            found["same_job_after_restart"] = again.id == slow.id
            done = client.wait(slow.id, timeout=240)
            found["after_restart_state"] = done.state
            found["after_restart_attempts"] = done.attempts

            # 5. a sweep job: its units run as Ray tasks, its result lists them
            sweep = client.submit("E1", quick=True, seed=1, grid={"n_starts": [2, 3]},
                                  seeds=2)
            done = client.wait(sweep.id, timeout=240)
            found["sweep_state"] = done.state
            found["sweep_error"] = done.error
            if done.state == "SUCCEEDED":
                units = client.result(sweep.id).config["units"]
                found["sweep_units"] = len(units)
                found["sweep_nodes"] = sorted({u["node"] for u in units})
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return found


def end_everything() -> None:
    """SIGTERM, then SIGKILL, every other process of this namespace (our cluster)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _my_namespace_pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(1.0)


def main() -> int:
    temp_dir, data_dir = sys.argv[1], sys.argv[2]
    outer = os.environ.get("LANDSIM_OUTER_NETNS")  # the launcher's namespace
    if not outer or os.readlink("/proc/self/ns/net") == outer:
        # end_everything() ends every process of this namespace: only in a fresh one
        print(json.dumps({"error": "not in a fresh network namespace (run under unshare -n)"}))
        return 2
    try:
        found = scenario(temp_dir, data_dir)
    except Exception as exc:  # the test prints it
        found = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        end_everything()
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
