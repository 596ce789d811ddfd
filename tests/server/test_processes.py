"""Several server processes on one port: `python -m landsim_server --processes N`."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_server.__main__ import build_parser
from landsim_server.app import ServerOptions
from landsim_server.arrays import from_ndarray, to_ndarray
from landsim_server.errors import NotFound
from landsim_server.landscape_store import LandscapeStore
from landsim_server.processes import child_argv
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc, landscape_pb2_grpc
from landsim_wire.v1 import landscape_pb2 as pb

from landsim.spec import random_landscape

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="several processes on one port need Linux")

PREFIX = "landsim server listening on "
TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}
FRESH = [("grpc.use_local_subchannel_pool", 1)]  # a new TCP connection per channel


# ---------------------------------------------------------------------- helpers
class Server:
    """``python -m landsim_server --processes N`` on 127.0.0.1:0, its stdout read by a
    thread (so that the test can wait for a line with a timeout)."""

    def __init__(self, tmp_path, *args: str, env_extra: dict | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "LANDSIM_TOKEN"}
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "landsim_server", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", str(tmp_path / "data"), "--grace", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        self._err_reader = threading.Thread(target=self._pump, daemon=True, args=(
            self.proc.stderr, lambda line: line is not None and self.err.append(line)))
        self._err_reader.start()

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line)
        put(None)

    def line(self, timeout_s: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no line in {timeout_s} s; stderr: {''.join(self.err)}"
                                 ) from None

    def address(self, timeout_s: float = 300.0) -> tuple[str, int]:
        line = self.line(timeout_s)
        assert line is not None and line.startswith(PREFIX), (line, "".join(self.err))
        host, port = line[len(PREFIX):].strip().rsplit(":", 1)
        assert host == "127.0.0.1" and 0 < int(port) < 65536
        return f"{host}:{port}", int(port)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout_s)

    def stderr(self, timeout_s: float = 10.0) -> str:
        """All of stderr once the process has ended."""
        self._err_reader.join(timeout_s)
        return "".join(self.err)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in children_of(self.proc.pid):  # only if the parent died without them
            os.kill(pid, signal.SIGKILL)


def children_of(ppid: int) -> list[int]:
    """Pids whose parent is ``ppid`` (from /proc/<pid>/stat)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                pids.append(int(entry))
    return sorted(pids)


def process_index(pid: int) -> int:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    return int(argv[argv.index("--process-index") + 1])


def socket_inodes(port: int, state: str) -> set[int]:
    """Inodes of the TCP sockets with local port ``port`` in ``state`` ("0A" LISTEN,
    "01" ESTABLISHED)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == state:
                    inodes.add(int(cols[9]))
    return inodes


def owned_sockets(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.05)


# ---------------------------------------------------------------------- tests
def test_processes_share_port_landscapes_jobs_and_stop_on_sigterm(tmp_path):
    server = Server(tmp_path, "--processes", "2", "--workers", "1")
    channels: list[grpc.Channel] = []
    try:
        address, port = server.address()
        kids = children_of(server.proc.pid)
        assert len(kids) == 2 and sorted(map(process_index, kids)) == [0, 1]
        listening = socket_inodes(port, "0A")
        for pid in kids:  # each child listens on the port itself
            assert owned_sockets(pid) & listening, pid

        channels = [grpc.insecure_channel(address, options=FRESH) for _ in range(16)]
        for ch in channels:
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        established = socket_inodes(port, "01")
        serving = {pid for pid in kids if owned_sockets(pid) & established}
        assert serving == set(kids)  # 16 connections: both processes got some

        stubs = [landscape_pb2_grpc.LandscapeServiceStub(ch) for ch in channels]
        made = stubs[0].CreateLandscape(pb.CreateLandscapeRequest(
            random=pb.RandomLandscapeParams(dim=6, n_wedges=2, n_short=[2], seed=3)),
            timeout=30)
        x = np.linspace(-1.0, 1.0, 6).reshape(1, 6)
        losses = {float(from_ndarray(stub.Evaluate(pb.EvaluateRequest(
            landscape_id=made.id, points=to_ndarray(x)), timeout=30).losses, "losses")[0])
            for stub in stubs}  # created through one process, evaluated through both
        assert len(losses) == 1

        jobs = [jobs_pb2_grpc.JobServiceStub(ch) for ch in channels]
        job = jobs[1].CreateJob(jobs_pb2.CreateJobRequest(
            experiment_id="E1", quick=True, config_json=json.dumps(TINY_E1)), timeout=30)
        deadline = time.monotonic() + 120
        for stub in itertools.cycle(jobs):  # watched through every process
            if job.state in (jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED):
                break
            assert time.monotonic() < deadline, jobs_pb2.JobState.Name(job.state)
            time.sleep(0.1)
            job = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job.id), timeout=10)
        assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED and job.attempts == 1
        # only the supervising process (index 0) has worker processes
        workers = {process_index(pid): children_of(pid) for pid in kids}
        assert workers[0] and not workers[1], workers

        for ch in channels:
            ch.close()
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait(40) == 0, server.stderr()
        assert server.line(5) == "landsim server shutting down\n"
        wait_gone(kids + workers[0], 5.0)
    finally:
        for ch in channels:
            ch.close()
        server.close()


def test_child_dying_stops_the_server_with_an_error(tmp_path):
    server = Server(tmp_path, "--processes", "2", "--workers", "0")
    try:
        server.address()
        kids = children_of(server.proc.pid)
        victim = next(pid for pid in kids if process_index(pid) == 1)
        os.kill(victim, signal.SIGKILL)
        assert server.wait(40) == 1
        wait_gone(kids, 5.0)
        err = server.stderr()
        assert f"server process 1 (pid {victim}) was killed by signal SIGKILL while " \
               "serving; stopping the others" in err, err
    finally:
        server.close()


def test_children_die_with_a_killed_parent(tmp_path):
    server = Server(tmp_path, "--processes", "2", "--workers", "0")
    kids: list[int] = []
    try:
        server.address()
        kids = children_of(server.proc.pid)
        assert len(kids) == 2
        server.proc.kill()  # no chance to stop them: PR_SET_PDEATHSIG does
        server.proc.wait()
        wait_gone(kids, 30.0)
    finally:
        server.close()
        for pid in kids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_child_failing_at_start_is_an_error(tmp_path):
    missing = str(tmp_path / "missing.pem")
    server = Server(tmp_path, "--processes", "2", "--workers", "0", "--tls-cert", missing,
                    "--tls-key", missing)
    try:
        assert server.wait(120) != 0
        err = server.stderr()
        assert "before it was ready; stopping the others" in err, err
        assert "cannot read TLS files" in err, err
        assert server.line(5) is None  # never announced
    finally:
        server.close()


@pytest.mark.parametrize("args, text", [
    (["--processes", "65"], "processes must be an integer in [1, 64], got 65"),
    (["--processes", "2", "--port", "70000"], "port must be an integer in [0, 65535]"),
    (["--processes", "2", "--process-index", "2"],
     "--process-index must be in [0, 1] with --processes 2, got 2"),
])
def test_bad_option_is_a_usage_error(args, text, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "landsim_server", "--data-dir",
                           str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and text in proc.stderr, proc.stderr


def test_child_command_line_passes_every_option_but_the_token(tmp_path):
    parser = build_parser()
    options = ServerOptions(host="127.0.0.1", port=0, data_dir=str(tmp_path), n_workers=3,
                            torch_worker=True, token="s3cret", max_points=77,
                            queue_wait_s=0.25, max_memory=32 << 20, processes=4,
                            compute_threads=2, grace_s=1.5)
    argv = child_argv(parser, options, 4321, 2, "INFO")
    assert argv[1:3] == ["-m", "landsim_server"] and "s3cret" not in " ".join(argv)
    args = vars(parser.parse_args(argv[3:]))
    assert (args.pop("process_index"), args.pop("log_level")) == (2, "INFO")
    child = ServerOptions(**args)
    want = {**vars(options), "port": 4321, "token": None}
    assert vars(child) == want


def test_store_revalidate_drops_landscapes_deleted_by_another_process(tmp_path):
    spec = random_landscape(6, 2, 2, seed=1)
    first = LandscapeStore(tmp_path)
    checking = LandscapeStore(tmp_path, revalidate=True)
    trusting = LandscapeStore(tmp_path)
    try:
        record, _ = first.create(spec)
        for store in (checking, trusting):
            assert store.spec(record.id) is not None and store.cached(record.id) is not None
        first.delete(record.id)
        assert checking.cached(record.id) is None  # the hit checked the row
        assert trusting.cached(record.id) is not None  # the old behaviour, one process
        first.create(spec)  # the same content again: the same id, served again
        assert checking.spec(record.id) is not None
        first.delete(record.id)
        with pytest.raises(NotFound):
            checking.spec(record.id)  # a cache hit whose row is gone
        assert checking.cached(record.id) is None
    finally:
        for store in (first, checking, trusting):
            store.close()
