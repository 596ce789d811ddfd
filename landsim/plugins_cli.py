"""``landsim plugins``: the installed model, dataset and loss plug-ins and their settings.

Plug-ins are entry points of the groups ``landsim.models``, ``landsim.datasets`` and
``landsim.losses`` (:mod:`landsim.real.plugins`); a lab's own network or data reaches the
real-network experiments (and the service) as an installed plug-in, named in a config by
``model`` / ``dataset`` with ``model_config`` / ``dataset_config``. Loading them needs
PyTorch, which is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

__all__ = ["TORCH_MISSING", "add_plugins_parser", "list_plugins", "run_plugins"]

#: Shown when ``landsim plugins`` is asked for without PyTorch.
TORCH_MISSING = ('landsim plugins needs PyTorch, which is not installed: '
                 'pip install "landsim[torch]"')


def add_plugins_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``plugins`` to the ``landsim`` subcommands (``args.func`` runs it)."""
    parser = sub.add_parser("plugins", help="list the installed model, dataset and loss "
                                            "plug-ins with their settings")
    parser.add_argument("--json", action="store_true",
                        help="print the list as JSON: {group: [{name, summary, entry_point, "
                             "config: [{field, type, default, doc}]}]}")
    parser.set_defaults(func=lambda args: run_plugins(args.json))
    return parser


def list_plugins() -> dict[str, list[dict]]:
    """Every installed plug-in by group ("models", "datasets", "losses"), sorted by name.

    Each entry is ``{name, summary, entry_point, config}`` (``config`` as in
    :func:`landsim.real.plugins.config_schema`), or ``{name, entry_point, error}`` for a
    plug-in that cannot be loaded.
    """
    from .real import plugins

    out: dict[str, list[dict]] = {}
    for short, group in plugins.GROUPS.items():
        rows = []
        for name, ep in plugins.installed(group).items():
            row: dict[str, Any] = {"name": name, "entry_point": ep.value}
            try:
                plugin = plugins.find(group, name)
                row.update(summary=plugin.summary, config=plugins.config_schema(plugin))
            except (LookupError, plugins.PluginError) as exc:
                row["error"] = str(exc)
            rows.append(row)
        out[short] = rows
    return out


def _text(listing: dict[str, list[dict]]) -> str:
    lines = []
    for short, rows in listing.items():
        lines.append(f"{short} (entry-point group landsim.{short})")
        for row in rows:
            if "error" in row:
                lines.append(f"  {row['name']}  BROKEN: {row['error']}")
                continue
            lines.append(f"  {row['name']}  {row['summary']}")
            for f in row["config"]:
                doc = f"  # {f['doc']}" if f["doc"] else ""
                lines.append(f"      {f['field']}: {f['type']} = "
                             f"{json.dumps(f['default'])}{doc}")
        lines.append("")
    lines.append("Use them in an experiment config: model=NAME, model_config={field: value}, "
                 "dataset=NAME, dataset_config={field: value}.")
    return "\n".join(lines)


def run_plugins(as_json: bool = False, out: TextIO | None = None,
                err: TextIO | None = None) -> int:
    """Print the installed plug-ins (text, or JSON with ``as_json``).

    Returns
    -------
    int
        0; 1 when a plug-in cannot be loaded (it is listed with its error); 2 without
        PyTorch (the message says what to install).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        import torch  # noqa: F401 - the plug-ins build torch modules
    except ImportError as exc:
        err.write(f"landsim plugins: error: {TORCH_MISSING} ({exc})\n")
        return 2
    listing = list_plugins()
    out.write(json.dumps(listing, indent=2) + "\n" if as_json else _text(listing) + "\n")
    broken = any("error" in row for rows in listing.values() for row in rows)
    return 1 if broken else 0
