"""``landsim serve --executor ray`` against a real Ray cluster, in a fresh network namespace.

The scenario itself (tests/ray_service_scenario.py) runs under ``unshare -n`` so that its
cluster talks over 127.0.0.1 only, and ends every process of that namespace by pid when it
is done; this test then checks that none of them is left (by the cluster's temp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]


def _netns_ok() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    done = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                          capture_output=True, timeout=30)
    return done.returncode == 0


pytestmark = pytest.mark.skipif(not _netns_ok(),
                                reason="needs `unshare -n` (root) for a loopback-only "
                                       "Ray cluster")


def _pids_naming(text: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_jobs_on_ray_keep_every_promise_of_the_job_service(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short: Ray's socket paths
    env = dict(os.environ, LANDSIM_OUTER_NETNS=os.readlink("/proc/self/ns/net"),
               PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c",
             f"ip link set lo up && exec {sys.executable} -m tests.ray_service_scenario "
             f"{temp_dir} {tmp_path / 'data'}"],
            capture_output=True, text=True, timeout=540, cwd=ROOT, env=env)
    finally:
        leftover = _pids_naming(temp_dir)  # the scenario should have ended them all
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-3000:]}"
    found = json.loads(lines[-1])
    log = (tmp_path / "server.log")
    assert "error" not in found, (found, log.read_text()[-3000:] if log.exists() else "")
    assert found["watched_states"] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert found["e1_state"] == "SUCCEEDED"
    assert isinstance(found["e1_node"], str) and len(found["e1_node"]) >= 16  # Ray node id
    assert found["cancelled_state"] == "CANCELLED"
    assert found["next_job_started_after_cancel_s"] < 1.5  # the slot was freed at once
    assert found["after_cancel_state"] == "SUCCEEDED"
    assert found["killed_workers"] >= 1
    assert found["after_kill_state"] == "SUCCEEDED", found["after_kill_error"]
    assert found["same_job_after_restart"] is True
    assert found["after_restart_state"] == "SUCCEEDED"
    assert found["after_restart_attempts"] == 2  # started, requeued by the stop, started
    assert found["sweep_state"] == "SUCCEEDED", found["sweep_error"]
    assert found["sweep_units"] == 4  # 2 grid points x 2 seeds
    assert len(found["sweep_nodes"]) == 1 and len(found["sweep_nodes"][0]) >= 16
    assert leftover == [], "cluster processes outlived the scenario"
