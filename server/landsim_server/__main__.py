"""``python -m landsim_server`` (also ``landsim serve``): run the landsim gRPC server.

Prints ``landsim server listening on HOST:PORT`` once health is SERVING; SIGTERM or SIGINT
stop it gracefully (exit status 0). The token may come from ``--token`` or ``LANDSIM_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from collections.abc import Sequence

from .app import TOKEN_ENV, ServerOptions, serve


def _byte_count(text: str) -> int:
    """``"1G"`` -> 1073741824: an integer with an optional K, M or G suffix (powers of
    1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    scale = units.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        return int(digits) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected bytes as an integer with an optional K, M or G suffix, got {text!r}"
        ) from None


def build_parser(prog: str = "python -m landsim_server") -> argparse.ArgumentParser:
    """The command line of the server; defaults are those of :class:`ServerOptions`."""
    d = ServerOptions()
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument("--host", default=d.host, help="interface to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=d.port,
                   help="TCP port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--data-dir", default=d.data_dir,
                   help="database, landscapes and results (default: %(default)s)")
    p.add_argument("--workers", type=int, default=d.n_workers, dest="n_workers",
                   help="simulator worker processes for jobs (default: %(default)s)")
    p.add_argument("--torch-worker", action="store_true",
                   help="also start a torch worker for real-network jobs")
    p.add_argument("--executor", choices=("local", "ray"), default=d.executor,
                   help="where jobs run: local worker processes, or Ray tasks with one "
                        "slot per worker (default: %(default)s)")
    p.add_argument("--data-root", default=d.data_root, metavar="DIR",
                   help="real jobs may name data files (.npz, IDX) by paths relative to this "
                        "directory; anything resolving outside it is refused "
                        "(default: jobs name no files)")
    p.add_argument("--ray-address", default=d.ray_address,
                   help="with --executor ray: the cluster; auto means RAY_ADDRESS if set, "
                        "else a local cluster started by the server (default: %(default)s)")
    p.add_argument("--token", default=None,
                   help=f"bearer token required from clients (default: ${TOKEN_ENV}, "
                        "else no auth)")
    p.add_argument("--tls-cert", default=None, help="PEM certificate chain (with --tls-key)")
    p.add_argument("--tls-key", default=None, help="PEM private key (with --tls-cert)")
    p.add_argument("--tls-client-ca", default=None, metavar="FILE",
                   help="mutual TLS: require client certificates signed by the CA "
                        "certificate(s) in this PEM file (with --tls-cert and --tls-key)")
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes,
                   help="largest message in or out (default: %(default)s)")
    p.add_argument("--max-points", type=int, default=d.max_points,
                   help="most points in one call (default: %(default)s)")
    p.add_argument("--max-concurrent-calls", type=int, default=d.max_concurrent_calls,
                   help="short calls in progress at once; more wait in the queue "
                        "(default: %(default)s)")
    p.add_argument("--max-queued-calls", type=int, default=d.max_queued_calls,
                   help="short calls waiting for a slot; more get RESOURCE_EXHAUSTED "
                        "(default: %(default)s)")
    p.add_argument("--queue-wait", type=float, default=d.queue_wait_s, dest="queue_wait_s",
                   help="seconds a queued call waits at most (default: %(default)s)")
    p.add_argument("--max-streams", type=int, default=d.max_streams,
                   help="streaming calls open at once; more get RESOURCE_EXHAUSTED "
                        "(default: %(default)s)")
    p.add_argument("--max-memory", type=_byte_count, default=d.max_memory,
                   help="memory budget of the calls in progress, in bytes; K, M, G "
                        "suffixes (default: 1G)")
    p.add_argument("--max-lag", type=float, default=d.max_lag_s, dest="max_lag_s",
                   metavar="SECONDS",
                   help="shed new short calls while the event loop runs this far behind "
                        "on average (default: never)")
    p.add_argument("--processes", type=int, default=d.processes,
                   help="server processes on one port, sharing the data directory and one "
                        "job supervisor (default: %(default)s)")
    p.add_argument("--threads", type=int, default=d.compute_threads, dest="compute_threads",
                   help="compute threads; 0 = one per CPU (default: %(default)s)")
    p.add_argument("--kernel-threads", type=int, default=d.kernel_threads,
                   help="Numba threads per compute thread (default: %(default)s)")
    p.add_argument("--grace", type=float, default=d.grace_s, dest="grace_s",
                   help="seconds in-flight calls get at shutdown (default: %(default)s)")
    p.add_argument("--log-level", default="WARNING", help="logging level (default: WARNING)")
    p.add_argument("--process-index", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m landsim_server") -> int:
    parser = build_parser(prog)
    args = vars(parser.parse_args(argv))
    log_level = args.pop("log_level")
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index = args.pop("process_index")
    if index is not None:  # one of several processes (landsim_server.processes)
        if not 0 <= index < args["processes"]:
            parser.error(f"--process-index must be in [0, {args['processes'] - 1}] with "
                         f"--processes {args['processes']}, got {index}")
        from .processes import die_with_parent

        die_with_parent()
        args["job_supervisor"] = index == 0  # child 0 runs the job workers
    try:
        options = ServerOptions.from_env(**args)
    except ValueError as exc:
        parser.error(str(exc))
    if options.executor == "ray" and importlib.util.find_spec("ray") is None:
        from landsim.executors.ray_executor import RAY_MISSING

        parser.error(f"--executor ray: {RAY_MISSING}")
    if options.processes > 1 and index is None:
        from .processes import serve_processes

        return serve_processes(options, log_level=log_level)
    try:
        return asyncio.run(serve(options))
    except RuntimeError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
