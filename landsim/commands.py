"""Commands that other parts of landsim add to the ``landsim`` command line.

A command is an entry point of the group :data:`COMMAND_GROUP` naming a
``main(argv, prog=...) -> int``; the server declares ``serve`` there
(``landsim_server.__main__:main``), so ``landsim serve`` runs the server without the core
importing it, and a core installed without the server says what to install.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import TextIO

__all__ = ["COMMAND_GROUP", "SERVER_MISSING", "find_command", "run_serve"]

#: Entry-point group of the commands other parts of landsim add to ``landsim`` (the
#: server's ``serve``); each is a ``main(argv, prog=...) -> int``.
COMMAND_GROUP = "landsim.commands"
#: Shown when ``landsim serve`` is asked for without the server.
SERVER_MISSING = "the server is not installed: pip install landsim[server]"


def find_command(name: str) -> Callable[..., int]:
    """The ``main`` registered as entry point ``name`` of :data:`COMMAND_GROUP`.

    Parameters
    ----------
    name : str
        The command, e.g. "serve".

    Returns
    -------
    callable
        ``main(argv, prog=...)`` returning an exit status.

    Raises
    ------
    LookupError
        No such entry point is installed, or it cannot be imported (e.g. grpc is
        missing); the message says what to install.
    """
    found = entry_points(group=COMMAND_GROUP, name=name)
    if not found:
        raise LookupError(SERVER_MISSING if name == "serve" else
                          f"no landsim command {name!r} is installed")
    entry = next(iter(found))
    try:
        return entry.load()
    except ImportError as exc:
        raise LookupError(f"{SERVER_MISSING} ({type(exc).__name__}: {exc})") from exc


def run_serve(argv: Sequence[str], err: TextIO | None = None) -> int:
    """``landsim serve ARGS``: run the server's own command line, found by entry point.

    Returns its exit status, or 2 with a message on ``err`` when the server is not
    installed.
    """
    err = sys.stderr if err is None else err
    try:
        serve_main = find_command("serve")
    except LookupError as exc:
        err.write(f"landsim serve: error: {exc}\n")
        err.flush()
        return 2
    return serve_main(list(argv), prog="landsim serve")
