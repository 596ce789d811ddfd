"""``landsim-client``: the landsim service from the command line.

Global options come before the subcommand::

    landsim-client [--target HOST:PORT] [--token TOKEN] [--tls-ca PEM]
                   [--tls-client-cert PEM --tls-client-key PEM] [--timeout S] CMD ...

``--target`` defaults to ``$LANDSIM_TARGET`` or ``127.0.0.1:50051``, ``--token`` to
``$LANDSIM_TOKEN``. Subcommands:

- landscapes: ``create`` (random parameters, or ``--spec FILE.json|.npz``), ``list``,
  ``show ID``, ``delete ID``, ``eval ID --points X.npy [--gradient] [--out F.npz]``,
  ``section ID line|plane|radial ... [--plot F.png] [--out F.npz]``;
- jobs: ``submit EXPERIMENT [--kind toy|real] [--quick] [--seed N] [--replicate N]
  [--control] [--config JSON] [--watch]``, ``jobs [--state S ...]``, ``job ID``,
  ``watch ID``, ``cancel ID``, ``result ID [--out DIR] [--plot F.png]``, ``delete-job ID``.

Vectors of dimension D (section origins and directions) are written ``zeros``, ``ones``,
``e<k>`` (unit vector of axis k), ``random[:SEED]`` (standard normal), a comma list of D
numbers, or a ``.npy`` file. Lists of values (radii, angles) are ``START:STOP:NUM``
(evenly spaced, both ends included), a comma list or a ``.npy`` file.

Errors print the server's message and details on stderr; the exit status is 2 for usage
errors and invalid arguments, 1 for other failures (0 on success; ``submit --watch`` and
``watch`` exit 1 when the job does not succeed). No traceback for expected errors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .cli_plots import plot_result, plot_section
from .cli_values import UsageError, angles, load_spec, save_npz, values, vector, when
from .client import DEFAULT_TARGET, DEFAULT_TIMEOUT_S, JOB_STATES, Client, Job
from .errors import InvalidArgument, LandsimError

__all__ = ["main", "build_parser", "TARGET_ENV", "TOKEN_ENV"]

#: Environment variable of the default target.
TARGET_ENV = "LANDSIM_TARGET"
#: Environment variable of the default token.
TOKEN_ENV = "LANDSIM_TOKEN"


# ------------------------------------------------------------------------------ commands
def cmd_create(args, client: Client, out) -> int:
    if args.spec:
        if args.dim is not None or args.n_wedges is not None:
            raise UsageError("give --spec or random parameters (--dim, --n-wedges, ...), "
                             "not both")
        lid = client.create_landscape(load_spec(args.spec))
    else:
        if args.dim is None or args.n_wedges is None or args.n_short is None:
            raise UsageError("give --spec FILE, or --dim, --n-wedges and --n-short")
        lid = client.create_landscape(
            dim=args.dim, n_wedges=args.n_wedges, n_short=args.n_short, kind=args.kind,
            eps0=args.eps0 or (), eps1=args.eps1 or (), anchor_scale=args.anchor_scale,
            union=args.union, tau=args.tau, seed=args.seed)
    print(lid, file=out)
    return 0


def cmd_list(args, client: Client, out) -> int:
    landscapes = list(client.list_landscapes())
    print(f"{'ID':32}  {'D':>7} {'K':>5}  {'KIND':7} {'UNION':5}  CREATED", file=out)
    for ls in landscapes:
        print(f"{ls.id:32}  {ls.dim:>7} {ls.n_wedges:>5}  {ls.kind:7} {ls.union:5}  "
              f"{when(ls.created)}", file=out)
    return 0


def cmd_show(args, client: Client, out) -> int:
    ls = client.get_landscape(args.id, include_spec=bool(args.save_spec))
    print(f"id        {ls.id}\ncreated   {when(ls.created)}\ndim       {ls.dim}\n"
          f"wedges    {ls.n_wedges}\nkind      {ls.kind}\nunion     {ls.union}\n"
          f"tau       {ls.tau:g}\nn_short   {list(ls.n_short)}", file=out)
    if ls.random is not None:
        print(f"random    {json.dumps(ls.random)}", file=out)
    if args.save_spec:
        if args.save_spec.endswith(".npz"):
            ls.spec.save_npz(args.save_spec)
        else:
            Path(args.save_spec).write_text(ls.spec.to_json())
        print(f"spec written to {args.save_spec}", file=out)
    return 0


def cmd_delete(args, client: Client, out) -> int:
    client.delete_landscape(args.id)
    print(f"deleted landscape {args.id}", file=out)
    return 0


def cmd_eval(args, client: Client, out) -> int:
    X = np.load(args.points, allow_pickle=False)
    ev = client.evaluate(args.id, X, gradient=args.gradient, wedge_losses=args.wedge_losses)
    loss = np.atleast_1d(ev.loss)
    print(f"{loss.size} point(s): loss min {loss.min():.6g}  mean {loss.mean():.6g}  "
          f"max {loss.max():.6g}", file=out)
    counts = np.bincount(np.atleast_1d(ev.argmin))
    print("nearest wedge counts: " + ", ".join(f"{k}: {c}" for k, c in enumerate(counts) if c),
          file=out)
    if args.out:
        save_npz(args.out, ev._asdict())
        print(f"arrays written to {args.out}", file=out)
    return 0


def cmd_section(args, client: Client, out) -> int:
    dim = client.get_landscape(args.id).dim
    origin = vector(args.origin, dim, "origin") if hasattr(args, "origin") else None
    if args.shape == "line":
        arrays = client.section(args.id, "line", a=vector(args.a, dim, "a"),
                                b=vector(args.b, dim, "b"), num_t=args.num_t)
        print(f"line of {arrays['t'].size} points: loss {arrays['loss'][0]:.6g} -> "
              f"{arrays['loss'][-1]:.6g}, barrier {float(arrays['barrier']):.6g} at t = "
              f"{arrays['t'][int(arrays['argmax'])]:.4g}", file=out)
    elif args.shape == "plane":
        arrays = client.section(args.id, "plane", origin=origin,
                                d1=vector(args.d1, dim, "d1"), d2=vector(args.d2, dim, "d2"),
                                extent=args.extent, resolution=args.resolution,
                                raw_directions=args.raw_directions)
    else:
        arrays = client.section(args.id, "radial", origin=origin,
                                d1=vector(args.d1, dim, "d1"), d2=vector(args.d2, dim, "d2"),
                                radii=values(args.radii, "radii"), angles=angles(args.angles))
    if args.shape != "line":
        loss = arrays["loss"]
        print(f"{args.shape} grid {loss.shape[0]} x {loss.shape[1]}: loss min "
              f"{loss.min():.6g}  max {loss.max():.6g}", file=out)
    if args.out:
        save_npz(args.out, arrays)
        print(f"arrays written to {args.out}", file=out)
    if args.plot:
        plot_section(args.shape, arrays, args.plot, f"{args.shape} section of {args.id[:12]}")
        print(f"figure written to {args.plot}", file=out)
    return 0


def _job_line(job: Job) -> str:
    return (f"{job.id}  {job.experiment:3} {job.kind:4} {job.arm:7} r{job.replicate:<4} "
            f"{job.state:9} {job.progress:6.1%}  {job.message}")


def _follow(client: Client, job_id: str, out) -> int:
    """Watch a job to its end: a progress bar on a terminal, plain lines otherwise."""
    tty = hasattr(out, "isatty") and out.isatty()
    width = shutil.get_terminal_size((80, 24)).columns
    job = None
    for event in client.watch(job_id):
        job = event.job
        if tty:
            bar = "#" * int(round(job.progress * 30))
            text = f"\r[{bar:<30}] {job.progress:6.1%} {job.state:9} {job.message}"
            out.write(text[:width - 1].ljust(width - 1))
            out.flush()
        else:
            print(f"{job.state:9} {job.progress:6.1%}  {job.message}", file=out, flush=True)
    if tty:
        out.write("\n")
    if job is None:
        job = client.get_job(job_id)
    if job.state == "SUCCEEDED":
        print(f"job {job.id} succeeded; fetch it with: landsim-client result {job.id}",
              file=out)
        return 0
    print(f"job {job.id} ended {job.state}" + (f": {job.error}" if job.error else ""),
          file=out)
    return 1


def cmd_submit(args, client: Client, out) -> int:
    config = None
    if args.config:
        try:
            config = json.loads(args.config)
        except ValueError as exc:
            raise UsageError(f"--config must be a JSON object, got {args.config!r} ({exc})"
                             ) from None
        if not isinstance(config, dict):
            raise UsageError(f"--config must be a JSON object, got {args.config!r}")
    grid = {}
    for text in args.grid or ():
        name, sep, values = text.partition("=")
        if not sep or not name or not values:
            raise UsageError(f"--grid must be FIELD=V1,V2,..., got {text!r}")
        grid[name.strip()] = [v.strip() for v in values.split(",")]
    job = client.submit(args.experiment, kind=args.kind, config=config, quick=args.quick,
                        seed=args.seed, request_id=args.request_id, replicate=args.replicate,
                        arm="control" if args.control else "claim", grid=grid,
                        seeds=args.seeds, controls=args.controls)
    print(f"job {job.id} {job.state}", file=out, flush=True)
    return _follow(client, job.id, out) if args.watch else 0


def cmd_jobs(args, client: Client, out) -> int:
    for job in client.jobs(args.state or None):
        print(_job_line(job), file=out)
    return 0


def cmd_job(args, client: Client, out) -> int:
    job = client.get_job(args.id)
    print(_job_line(job), file=out)
    print(f"config    {json.dumps(job.config, sort_keys=True)}\nseed      {job.seed}\n"
          f"replicate {job.replicate}\narm       {job.arm}\n"
          f"attempts  {job.attempts}/{job.max_attempts}\ncreated   {when(job.created)}\n"
          f"started   {when(job.started)}\nfinished  {when(job.finished)}", file=out)
    if job.sweep:
        axes = "; ".join(f"{k} = {', '.join(v)}" for k, v in job.sweep["axes"].items())
        print(f"sweep     {axes or '(base config)'}; {job.sweep['seeds']} seed(s)"
              f"{', with controls' if job.sweep['controls'] else ''}", file=out)
    if job.error:
        print(f"error     {job.error}", file=out)
    return 0


def cmd_watch(args, client: Client, out) -> int:
    return _follow(client, args.id, out)


def cmd_cancel(args, client: Client, out) -> int:
    print(_job_line(client.cancel(args.id)), file=out)
    return 0


def cmd_result(args, client: Client, out) -> int:
    result = client.result(args.id)
    verdict = "holds" if result.verdict.holds else "does not hold"
    print(f"{result.experiment} ({result.kind}, {result.arm} arm, seed {result.seed}, "
          f"replicate {result.replicate}): claim {verdict}\n"
          f"rule      {result.verdict.rule}\nevidence  {result.verdict.evidence}", file=out)
    for name, value in sorted(result.metrics.items()):
        print(f"  {name:28} {value:.6g}", file=out)
    print("series    " + ", ".join(f"{k} {list(v.shape)}" for k, v in result.series.items()),
          file=out)
    units = result.config.get("units") if isinstance(result.config, dict) else None
    if isinstance(units, list):  # a sweep job: one line per unit
        for u in units:
            point = ",".join(f"{k}={v}" for k, v in u.get("point", {}).items()) or "base"
            print(f"  unit {u.get('arm')} {point} r{u.get('replicate')}: "
                  f"{'holds' if u.get('holds') else 'fails'}"
                  f"{' on ' + u['node'] if u.get('node') else ''}", file=out)
    if args.out:
        path = result.save(args.out)
        print(f"result written to {path}", file=out)
    if args.plot:
        plot_result(result, args.plot)
        print(f"figure written to {args.plot}", file=out)
    return 0


def cmd_plugins(args, client: Client, out) -> int:
    found = client.plugins()
    if args.json:
        print(json.dumps(found, indent=2), file=out)
        return 0
    if not found:
        print("no plug-ins: this server runs no torch worker (real jobs are off)", file=out)
    for p in found:
        print(f"{p['group']}/{p['name']}  {p['summary']}", file=out)
        for f in p["fields"]:
            print(f"    {f['field']}: {f['type']} = {json.dumps(f['default'])}"
                  f"{'  # ' + f['doc'] if f['doc'] else ''}", file=out)
    return 0


def cmd_delete_job(args, client: Client, out) -> int:
    client.delete_job(args.id)
    print(f"deleted job {args.id}", file=out)
    return 0


# ------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The ``landsim-client`` argument parser."""
    p = argparse.ArgumentParser(prog="landsim-client",
                                description="Talk to a landsim server (landscapes and jobs).")
    p.add_argument("--target", default=os.environ.get(TARGET_ENV) or DEFAULT_TARGET,
                   help=f"server host:port (default: ${TARGET_ENV} or {DEFAULT_TARGET})")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV) or None,
                   help=f"bearer token (default: ${TOKEN_ENV})")
    p.add_argument("--tls-ca", default=None, metavar="PEM",
                   help="use TLS, trusting the root certificate(s) in this file")
    p.add_argument("--tls", action="store_true",
                   help="use TLS with the system's root certificates")
    p.add_argument("--tls-client-cert", default=None, metavar="PEM",
                   help="mutual TLS: this client certificate (with --tls-client-key)")
    p.add_argument("--tls-client-key", default=None, metavar="PEM",
                   help="mutual TLS: the client certificate's private key")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="deadline of one call in seconds (default: %(default)s)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("create", help="store a landscape (random parameters or --spec)")
    c.add_argument("--spec", help="a landscape file written by LandscapeSpec (.json or .npz)")
    c.add_argument("--dim", type=int, help="dimension D")
    c.add_argument("--n-wedges", type=int, help="number K of wedges")
    c.add_argument("--n-short", type=int, nargs="+", help="short directions (1 or K values)")
    c.add_argument("--kind", choices=("axis", "rotated"), default="axis")
    c.add_argument("--eps0", type=float, nargs="+", help="width at radius 0 (1 or K values)")
    c.add_argument("--eps1", type=float, nargs="+", help="width growth (1 or K values)")
    c.add_argument("--anchor-scale", type=float, default=0.0)
    c.add_argument("--union", choices=("hard", "soft"), default="hard")
    c.add_argument("--tau", type=float, default=None)
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_create)

    sub.add_parser("list", help="list stored landscapes").set_defaults(func=cmd_list)

    c = sub.add_parser("show", help="show one landscape")
    c.add_argument("id")
    c.add_argument("--save-spec", metavar="FILE", help="also save its spec (.json or .npz)")
    c.set_defaults(func=cmd_show)

    c = sub.add_parser("delete", help="delete a landscape")
    c.add_argument("id")
    c.set_defaults(func=cmd_delete)

    c = sub.add_parser("eval", help="evaluate points (a .npy file of shape (B, D))")
    c.add_argument("id")
    c.add_argument("--points", required=True, metavar="FILE.npy")
    c.add_argument("--gradient", action="store_true")
    c.add_argument("--wedge-losses", action="store_true")
    c.add_argument("--out", metavar="FILE.npz")
    c.set_defaults(func=cmd_eval)

    c = sub.add_parser("section", help="loss on a line, plane or radial grid")
    c.add_argument("id")
    shapes = c.add_subparsers(dest="shape", required=True, metavar="SHAPE")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", metavar="FILE.npz", help="save the arrays")
    common.add_argument("--plot", metavar="FILE.png", help="draw the section")
    s = shapes.add_parser("line", parents=[common], help="the segment from a to b")
    s.add_argument("--a", default="zeros", help="start vector (default: zeros)")
    s.add_argument("--b", required=True, help="end vector")
    s.add_argument("--num-t", type=int, default=51)
    for name, doc in (("plane", "a square grid in the plane of d1, d2"),
                      ("radial", "rays from origin in the plane of d1, d2")):
        s = shapes.add_parser(name, parents=[common], help=doc)
        s.add_argument("--origin", default="zeros", help="centre (default: zeros)")
        s.add_argument("--d1", required=True, help="first direction")
        s.add_argument("--d2", required=True, help="second direction")
        if name == "plane":
            s.add_argument("--extent", type=float, default=1.0)
            s.add_argument("--resolution", type=int, default=51)
            s.add_argument("--raw-directions", action="store_true",
                           help="do not orthonormalise d1, d2")
        else:
            s.add_argument("--radii", default="0:1:21", help="START:STOP:NUM or a list")
            s.add_argument("--angles", default="64",
                           help="a count (evenly around the circle) or a list in radians")
    c.set_defaults(func=cmd_section)

    c = sub.add_parser("submit", help="queue an experiment job")
    c.add_argument("experiment", help="claim id E1 .. E7")
    c.add_argument("--kind", choices=("toy", "real"), default="toy")
    c.add_argument("--quick", action="store_true", help="start from the quick config")
    c.add_argument("--seed", type=int, default=0, help="root seed (default: 0)")
    c.add_argument("--replicate", type=int, default=0, metavar="N",
                   help="replicate index in [0, 9999]: the run draws from "
                        "SeedSequence(seed, spawn_key=(N,)) (default: 0)")
    c.add_argument("--control", action="store_true",
                   help="run the negative control of the config instead of the claim arm")
    c.add_argument("--config", help="JSON object of config overrides (of the claim arm)")
    c.add_argument("--grid", action="append", metavar="FIELD=V1,V2",
                   help="make the job a sweep over this Config field (repeatable; a tuple "
                        "value is written a/b/c); the result lists every unit")
    c.add_argument("--seeds", type=int, default=0, metavar="N",
                   help="a sweep's replicates per grid point (default: 1 with --grid)")
    c.add_argument("--controls", action="store_true",
                   help="a sweep also runs the control arm of every replicate")
    c.add_argument("--request-id", help="idempotency key (default: a fresh uuid)")
    c.add_argument("--watch", action="store_true", help="follow the job to its end")
    c.set_defaults(func=cmd_submit)

    c = sub.add_parser("plugins", help="the model and dataset plug-ins real jobs can name")
    c.add_argument("--json", action="store_true", help="print them as JSON")
    c.set_defaults(func=cmd_plugins)

    c = sub.add_parser("jobs", help="list jobs")
    c.add_argument("--state", nargs="+", type=str.upper, choices=JOB_STATES)
    c.set_defaults(func=cmd_jobs)

    for name, func, doc in (("job", cmd_job, "show one job"),
                            ("watch", cmd_watch, "follow a job to its end"),
                            ("cancel", cmd_cancel, "cancel a job"),
                            ("delete-job", cmd_delete_job, "delete a job and its result")):
        c = sub.add_parser(name, help=doc)
        c.add_argument("id")
        c.set_defaults(func=func)

    c = sub.add_parser("result", help="fetch the result of a succeeded job")
    c.add_argument("id")
    c.add_argument("--out", metavar="DIR", help="save it (JSON + NPZ) in this directory")
    c.add_argument("--plot", metavar="FILE.png", help="draw its series")
    c.set_defaults(func=cmd_result)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``landsim-client``; returns the exit status (never raises for expected errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    err = sys.stderr
    try:
        tls = args.tls_ca if args.tls_ca else bool(args.tls)
        with Client(args.target, token=args.token, tls=tls, timeout=args.timeout,
                    tls_client_cert=args.tls_client_cert,
                    tls_client_key=args.tls_client_key) as client:
            return args.func(args, client, sys.stdout)
    except LandsimError as exc:
        print(f"error: {exc.code.name}: {exc.message}", file=err)
        if exc.code.name == "UNAVAILABLE":
            print(f"  (is a landsim server running at {args.target}?)", file=err)
        for line in exc.detail_lines():
            print(f"  {line}", file=err)
        return 2 if isinstance(exc, InvalidArgument) else 1
    except (UsageError, ValueError, OSError) as exc:  # bad local input: files, vectors
        print(f"error: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
