"""Ray clusters for tests and benchmarks, each inside its own network namespace.

Ray maps 127.0.0.1 to the machine's interface address, so a cluster started on the host's
loopback is reachable from (and may collide with) the outside. Every cluster here runs in a
fresh network namespace that holds only a loopback interface: the caller launches a
process with :func:`netns_command` (``unshare -n``), and that process starts the cluster
(:func:`start_cluster`), uses it and ends it (:func:`end_cluster`).

Authentication. Ray 2.60 turns token authentication on by default: ``ray start --head``
then writes a token to ``~/.ray/auth_token`` (if none is there) and every node and driver
must present it. The namespace is loopback-only and nothing outside it can reach the
cluster, so the clusters here run with ``RAY_AUTH_MODE=disabled`` (:data:`RAY_ENV`, set
for the namespaced process and so inherited by every Ray process it starts): nothing is
written to ``~/.ray``, and a second node and the driver join with just the address.

Ending a cluster. A cluster is ended by process id, never by ``ray stop`` or by name: its
processes are those whose command line names the cluster's own ``--temp-dir`` (GCS,
raylets, monitors) or that live in the cluster's network namespace. The second rule
catches what the first misses: Ray renames its agents and workers
(``ray::DashboardAgent``, ``ray::IDLE``) and its client server's command line does not
name the temp dir. A namespace id is only trusted while the namespace is provably held:
inside it (the scenario ends its own cluster; :func:`start_cluster` records the id in
``<temp_dir>/netns``), or from outside through an open descriptor of it, which
:func:`run_in_netns` takes as soon as its process has unshared and keeps until the
cleanup after it is done (a freed namespace's id is soon reused: another session's
cluster could have it). Each process gets SIGTERM, then SIGKILL after a grace period.
The calling process and its ancestors are never ended.

``--temp-dir`` must be short (Ray's unix socket paths live under it, and a socket path has
at most 107 bytes): :func:`short_temp_dir` makes ``/tmp/rt-XXXXXXXX``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["RAY_ENV", "REPO", "ray_importable", "netns_problem", "short_temp_dir",
           "netns_command", "cluster_pids", "netns_members", "end_cluster",
           "start_cluster", "ray_cli", "run_in_netns", "ScenarioFailed"]

REPO = Path(__file__).resolve().parent.parent
#: Environment of every namespaced process (and so of the Ray processes it starts).
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",  # isolated loopback-only namespace: see the module doc
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONUNBUFFERED": "1",
}
NETNS_FILE = "netns"
HEAD_PORT = 6379
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # small: the units pass configs, not arrays


def ray_importable() -> bool:
    """Whether ``import ray`` would find Ray (without importing it)."""
    if "ray" in sys.modules:
        return sys.modules["ray"] is not None  # None: marked as not importable
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def netns_problem() -> str | None:
    """Why a cluster cannot run in its own network namespace here, or None if it can."""
    for tool in ("unshare", "ip", "sh"):
        if shutil.which(tool) is None:
            return f"{tool!r} is not installed"
    try:
        done = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'unshare -n' failed: {exc}"
    if done.returncode != 0:
        return (f"'unshare -n' is not permitted (rc {done.returncode}: "
                f"{done.stderr.strip()[:200]}); it needs root or CAP_SYS_ADMIN")
    return None


def short_temp_dir() -> str:
    """A new, empty ``/tmp/rt-XXXXXXXX`` (short enough for Ray's socket paths)."""
    return tempfile.mkdtemp(prefix="rt-", dir="/tmp")


def netns_command(argv: list[str]) -> list[str]:
    """``argv`` run in a fresh network namespace whose loopback is up."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *argv]


def _netns_of(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _isolated() -> bool:
    """Whether this process's network namespace has no interface but the loopback."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _ancestors() -> set[int]:
    """This process and its ancestors (never ended)."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cluster_pids(temp_dir: str, netns: str | None = None) -> list[int]:
    """Live processes of the cluster whose ``--temp-dir`` is ``temp_dir``: those whose
    command line names it, and those in its network namespace, where that namespace is
    known to be the cluster's: ``netns`` given by a caller that holds it open
    (:func:`run_in_netns` does), or the namespace recorded in ``<temp_dir>/netns`` when
    it is this process's own (the scenario's side). A namespace id of a namespace that
    nobody holds may be reused by another one, so a recorded id is not trusted from
    outside. Never the machine's namespace, this process or its ancestors."""
    temp_dir = os.path.abspath(temp_dir).rstrip("/")
    named = re.compile(re.escape(temp_dir.encode()) + rb"(?![\w.-])")
    own = _netns_of("self")
    if netns is None:
        try:
            recorded = Path(temp_dir, NETNS_FILE).read_text().strip() or None
        except OSError:
            recorded = None
        if recorded is not None and recorded == own and _isolated():
            netns = recorded
    if netns is not None and (netns == _netns_of(1) or (netns == own and not _isolated())):
        netns = None  # never match every process of the machine
    mine = _ancestors()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        inside = netns is not None and _netns_of(pid) == netns
        if (inside or named.search(cmdline)) and _alive(pid):
            pids.append(pid)
    return sorted(pids)


def netns_members(netns: str) -> list[str]:
    """``"pid cmdline"`` of every live process in namespace ``netns`` (hold it open while
    asking: see :func:`cluster_pids`), but this process and its ancestors."""
    mine = _ancestors()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine and _netns_of(entry) == netns \
                and _alive(int(entry)):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ")[:200].decode(errors="replace")
            except OSError:
                cmd = "?"
            out.append(f"{entry} {cmd}")
    return out


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    left = [p for p in pids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    return left


def end_cluster(temp_dir: str, grace_s: float = 3.0, netns: str | None = None
                ) -> list[int]:
    """End every process of the cluster of ``temp_dir`` (:func:`cluster_pids`; SIGTERM,
    then SIGKILL after ``grace_s``); returns the pids it found. Looks again after each
    round (a dying raylet may have started a worker meanwhile), at most 5 rounds."""
    found: list[int] = []
    for _ in range(5):
        pids = cluster_pids(temp_dir, netns)
        if not pids:
            break
        found += [p for p in pids if p not in found]
        _signal_all(pids, signal.SIGTERM)
        left = _wait_gone(pids, grace_s)
        _signal_all(left, signal.SIGKILL)
        _wait_gone(left, 5.0)
    return found


# --- inside the namespace -------------------------------------------------------------

def ray_cli() -> list[str]:
    """The ``ray`` command of this interpreter's environment."""
    exe = Path(sys.executable).with_name("ray")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ray")
    if found is None:
        raise RuntimeError("the 'ray' command is not installed beside this Python")
    return [found]


def _ray_start(args: list[str], temp_dir: str, log_name: str, timeout_s: float) -> None:
    log = Path(temp_dir, log_name)
    with open(log, "wb") as out:  # a file, not a pipe: daemons may keep it open
        try:
            rc = subprocess.run([*ray_cli(), "start", *args], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                timeout=timeout_s, env={**os.environ, **RAY_ENV}).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ray start {' '.join(args)} failed ({rc}):\n{tail}")


def start_cluster(temp_dir: str, head_cpus: int = 1, nodes: list[dict] | None = None,
                  port: int = HEAD_PORT, timeout_s: float = 90.0) -> str:
    """Start a head with ``head_cpus`` CPUs and one more node per entry of ``nodes``
    (``{"num_cpus": 1, "resources": {"node2": 1}}``), all on 127.0.0.1; return the
    address. Call it inside a fresh network namespace; it records that namespace in
    ``<temp_dir>/netns`` so that :func:`end_cluster` finds every process of the cluster."""
    here = _netns_of("self")
    if here is None or not _isolated():
        raise RuntimeError("start_cluster must run inside its own network namespace, "
                           "with only a loopback (launch the process with netns_command)")
    Path(temp_dir, NETNS_FILE).write_text(here)
    os.environ.update(RAY_ENV)  # the driver of this process joins without a token too
    common = [f"--temp-dir={temp_dir}", "--disable-usage-stats",
              "--node-ip-address=127.0.0.1", f"--object-store-memory={OBJECT_STORE_BYTES}"]
    _ray_start(["--head", f"--port={port}", f"--num-cpus={head_cpus}",
                "--include-dashboard=false", *common], temp_dir, "ray-start-head.log",
               timeout_s)
    address = f"127.0.0.1:{port}"
    for k, node in enumerate(nodes or []):
        args = [f"--address={address}", f"--num-cpus={node.get('num_cpus', 1)}", *common]
        if node.get("resources"):
            args.append(f"--resources={json.dumps(node['resources'])}")
        _ray_start(args, temp_dir, f"ray-start-node{k + 2}.log", timeout_s)
    return address


# --- outside the namespace ------------------------------------------------------------

class ScenarioFailed(AssertionError):
    """A namespaced process failed, timed out or printed no JSON line.

    ``timed_out``, ``leftover`` (pids of its cluster found and ended after it) and
    ``remaining`` (those still alive after that) say how it ended."""

    def __init__(self, message: str, timed_out: bool = False,
                 leftover: list[int] | None = None, remaining: list[int] | None = None):
        super().__init__(message)
        self.timed_out = timed_out
        self.leftover = leftover or []
        self.remaining = remaining or []


def _hold_netns(proc: subprocess.Popen) -> tuple[int | None, str | None]:
    """Open ``proc``'s network namespace once it has left ours, so that the namespace (and
    its id) lives on until we close the descriptor, whatever ends meanwhile; ``(None,
    None)`` if the process ended first."""
    ours = _netns_of("self")
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            fd = os.open(f"/proc/{proc.pid}/ns/net", os.O_RDONLY)
        except OSError:
            return None, None
        netns = f"net:[{os.fstat(fd).st_ino}]"
        if netns != ours and proc.poll() is None:
            return fd, netns
        os.close(fd)
        time.sleep(0.005)
    return None, None


def run_in_netns(argv: list[str], temp_dir: str, timeout_s: float,
                 cwd: str | os.PathLike = REPO) -> dict:
    """Run ``argv`` in a fresh network namespace, wait at most ``timeout_s`` and return the
    JSON object of the last stdout line that holds one, plus ``"_leftover"``: the pids of
    the cluster of ``temp_dir`` still alive after the process ended (ended here, by pid)
    and ``"_remaining"``: those still alive after that, or anything else still in its
    namespace (should be none), and ``"_netns"``: the namespace's id (None if it could
    not be held: then only command lines were matched). The namespace is held open (a
    descriptor) from just after the start until that cleanup is done, so its id stays
    the cluster's.

    The process gets its own session; on timeout that session is killed (SIGKILL) and
    :class:`ScenarioFailed` raised. Its output goes to files in ``temp_dir``, not to pipes
    (a Ray daemon that kept a pipe open would hold the wait up)."""
    out_path, err_path = Path(temp_dir, "scenario.out"), Path(temp_dir, "scenario.err")
    env = {**os.environ, **RAY_ENV}
    timed_out = False
    ns_fd, netns = None, None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(netns_command(argv), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                start_new_session=True)
        try:
            ns_fd, netns = _hold_netns(proc)
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rc = proc.wait(timeout=30)
        finally:
            try:
                if proc.poll() is None:  # interrupted (^C): it must not outlive us
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                leftover = end_cluster(temp_dir, netns=netns)
                remaining = set(cluster_pids(temp_dir, netns))
                if netns is not None:
                    remaining |= {int(m.split()[0]) for m in netns_members(netns)}
                remaining = sorted(remaining)
            finally:
                if ns_fd is not None:
                    os.close(ns_fd)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    if timed_out or rc != 0:
        what = f"timed out after {timeout_s} s" if timed_out else f"exited {rc}"
        raise ScenarioFailed(f"{' '.join(argv)} {what}\n--- stdout ---\n{stdout[-3000:]}"
                             f"\n--- stderr ---\n{stderr[-6000:]}", timed_out, leftover,
                             remaining)
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            data.update(_leftover=leftover, _remaining=remaining, _netns=netns)
            return data
    raise ScenarioFailed(f"{' '.join(argv)} printed no JSON line\n--- stdout ---\n"
                         f"{stdout[-3000:]}\n--- stderr ---\n{stderr[-6000:]}", False,
                         leftover, remaining)
