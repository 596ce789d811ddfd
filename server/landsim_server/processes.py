"""Several server processes on one port (``landsim serve --processes N``).

Small gRPC calls are bound by the Python interpreter, so one server process keeps one core
busy at most. :func:`serve_processes` runs N ordinary single-process servers
(:func:`landsim_server.app.serve`) behind one port, as gRPC's own multiprocessing example
does: the parent reserves the port with a socket that has ``SO_REUSEPORT`` set (bound, never
listening, kept open for the server's life), then starts N children with
``python -m landsim_server ... --port PORT --process-index K``. Each child binds the same
port (gRPC core sets ``SO_REUSEPORT`` on Linux) and the kernel spreads new connections over
them. A connection, and so every call on one channel, stays with one process.

- The children share the data directory (SQLite in WAL mode). Child 0 is the job
  supervisor: it runs the job workers and the supervisor; the others only store and serve
  jobs (``job_supervisor=False``), so every job runs once.
- The parent prints ``landsim server listening on HOST:PORT`` once every child is SERVING.
- SIGTERM or SIGINT: the parent forwards SIGTERM to every child, waits for them (twice the
  grace period plus a margin), kills what is left and returns 0.
- Failure policy: if a child exits before it is ready, or while serving, the parent says so
  on stderr, stops the others and returns non-zero (the child's exit status, else 1), so
  that a process manager restarts the whole server, with one job supervisor again.
- Children die with the parent: each asks the kernel for SIGTERM when its parent goes
  (``prctl(PR_SET_PDEATHSIG)``, :func:`die_with_parent`), even if the parent is killed.

The token reaches the children through ``LANDSIM_TOKEN`` (never on their command line, so
``ps`` does not show it). Linux only (``SO_REUSEPORT`` with gRPC's load spreading).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from .app import TOKEN_ENV, ServerOptions

__all__ = ["serve_processes", "reserve_port", "child_argv", "die_with_parent", "PARENT_ENV",
           "LISTENING"]

#: Environment variable giving a child its parent's pid (checked by :func:`die_with_parent`).
PARENT_ENV = "LANDSIM_PARENT_PID"
#: First words of the line a server prints once SERVING.
LISTENING = "landsim server listening on "
#: Options the parent sets itself on a child's command line (or in its environment).
_OWN = frozenset({"port", "processes", "token", "job_supervisor", "process_index", "help",
                  "log_level"})
_PR_SET_PDEATHSIG = 1


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``(host, port)`` with ``SO_REUSEPORT``, not listening.

    While it stays open no other program (without ``SO_REUSEPORT`` and the same user) can
    take the port, and servers that set ``SO_REUSEPORT`` can bind it too. It never
    listens, so the kernel routes no connection to it.

    Parameters
    ----------
    host : str
        Host name or address; an IPv6 address may be in brackets (``[::1]``).
    port : int
        Port in [0, 65535]; 0 picks a free one (read it with ``getsockname()[1]``).

    Raises
    ------
    RuntimeError
        ``SO_REUSEPORT`` is missing (not Linux) or the address cannot be bound.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("several server processes need SO_REUSEPORT (Linux); "
                           "use --processes 1")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise RuntimeError(f"cannot bind {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot bind {host}:{port}: {exc}") from exc
    return sock


def child_argv(parser: argparse.ArgumentParser, options: ServerOptions, port: int,
               index: int, log_level: str = "WARNING") -> list[str]:
    """The command line of child ``index``: every option of ``options`` the parser knows,
    with ``port`` fixed, ``--processes`` and ``--process-index`` (the token excluded).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The server's parser (:func:`landsim_server.__main__.build_parser`); its actions
        map option names to ServerOptions fields, so options added later pass through.
    options : ServerOptions
    port : int
        The reserved port.
    index : int
        The child's index in [0, options.processes).
    log_level : str
    """
    argv = [sys.executable, "-m", "landsim_server"]
    for action in parser._actions:  # noqa: SLF001 - the parser's own option table
        if action.dest in _OWN or not action.option_strings:
            continue
        value = getattr(options, action.dest, None)
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):  # noqa: SLF001
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    return argv + ["--port", str(port), "--processes", str(options.processes),
                   "--process-index", str(index), "--log-level", log_level]


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Ask for SIGTERM when the parent process ends (Linux ``PR_SET_PDEATHSIG``).

    If the parent has gone already (``os.getppid()`` differs from ``parent_pid``, by
    default read from :data:`PARENT_ENV`), SIGTERM is sent at once. Returns whether the
    request was made (False elsewhere than Linux).
    """
    if sys.platform != "linux":
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if parent_pid is None and os.environ.get(PARENT_ENV, "").isdigit():
        parent_pid = int(os.environ[PARENT_ENV])
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)  # orphaned before the request took effect
    return True


class _Child:
    """One child process and the thread that reads its stdout."""

    def __init__(self, index: int, argv: list[str], env: dict[str, str]) -> None:
        self.index = index
        self.ready = threading.Event()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=None, env=env, text=True, bufsize=1,
                                     start_new_session=True)  # only the parent gets ^C
        self.reader = threading.Thread(target=self._read, daemon=True,
                                       name=f"landsim-child-{index}")
        self.reader.start()

    def _read(self) -> None:
        """Note the listening line; drain the rest so a full pipe never blocks the child
        (unexpected lines go to stderr)."""
        for line in self.proc.stdout:
            if line.startswith(LISTENING):
                self.ready.set()
            elif not line.startswith("landsim server shutting down"):
                sys.stderr.write(f"[process {self.index}] {line}")

    def describe(self) -> str:
        code = self.proc.returncode
        how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None
               and code < 0 and -code in signal.valid_signals() else f"exited with status {code}")
        return f"server process {self.index} (pid {self.proc.pid}) {how}"


def _stop(children: Sequence[_Child], wait_s: float) -> None:
    """SIGTERM every live child, wait up to ``wait_s`` in all, then SIGKILL the rest."""
    for child in children:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            sys.stderr.write(f"landsim server: process {child.index} (pid {child.proc.pid}) "
                             f"did not stop in {wait_s:g} s; killing it\n")
            child.proc.kill()
            child.proc.wait()
    for child in children:
        child.reader.join(5.0)


def serve_processes(options: ServerOptions, out=None, log_level: str = "WARNING",
                    poll_s: float = 0.05) -> int:
    """Run ``options.processes`` server processes on one port until SIGTERM or SIGINT.

    Must run in the main thread (it installs signal handlers). Prints
    ``landsim server listening on HOST:PORT`` (flushed) once every child is SERVING and
    ``landsim server shutting down`` when a signal stops them.

    Parameters
    ----------
    options : ServerOptions
        The server's settings; ``processes`` >= 1 children are started.
    out : file, optional
        Where the two lines go (default ``sys.stdout``).
    log_level : str
        Logging level of the children.
    poll_s : float
        Seconds between two checks of the children and the signals.

    Returns
    -------
    int
        0 after a signal; non-zero (a child's exit status, else 1) when a child ended on
        its own, before or after it was ready: the others are stopped then. 2 when the
        port cannot be reserved.
    """
    from .__main__ import build_parser  # the parser maps ServerOptions fields to options

    out = sys.stdout if out is None else out
    try:
        reserved = reserve_port(options.host, options.port)
    except RuntimeError as exc:
        sys.stderr.write(f"landsim server: error: {exc}\n")
        return 2
    port = reserved.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env.update({PARENT_ENV: str(os.getpid()), **({TOKEN_ENV: options.token}
                                                  if options.token else {})})
    signalled: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: signalled.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[_Child] = []
    wait_s = 2 * options.grace_s + 15.0  # the calls' grace, then the job workers'
    try:
        parser = build_parser()
        for index in range(options.processes):
            if signalled:
                break
            children.append(_Child(index, child_argv(parser, options, port, index, log_level),
                                   env))
        announced = False
        while not signalled:
            dead = next((c for c in children if c.proc.poll() is not None), None)
            if dead is not None:
                when = "while serving" if announced else "before it was ready"
                sys.stderr.write(f"landsim server: error: {dead.describe()} {when}; "
                                 "stopping the others\n")
                sys.stderr.flush()
                _stop(children, wait_s)
                return dead.proc.returncode if dead.proc.returncode > 0 else 1
            if not announced and all(c.ready.is_set() for c in children):
                out.write(f"{LISTENING}{options.host}:{port}\n")
                out.flush()
                announced = True
            time.sleep(poll_s)
        out.write("landsim server shutting down\n")
        out.flush()
        _stop(children, wait_s)
        return 0
    finally:
        if any(c.proc.poll() is None for c in children):  # an exception: leave no orphan
            _stop(children, wait_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()
