"""The plug-ins real jobs can name, as the server knows them (ListPlugins, CreateJob checks).

Plug-ins build torch modules, and the server process never imports torch, so the catalog is
read once from a child process (``landsim.plugins_cli.list_plugins``, the same listing as
``landsim plugins --json``) when the first call needs it, and kept. With it the server
checks a real job's config before queueing it:

- ``model`` / ``dataset`` naming a plug-in that is not installed: NOT_FOUND, listing the
  installed ones;
- a ``model_config`` / ``dataset_config`` field the plug-in does not have:
  INVALID_ARGUMENT naming ``config.model_config.<field>``;
- a setting that names a file (``path`` in the schema) outside the server's ``--data-root``
  (absolute, ``..``, a symbolic link out), or any file without a data root:
  PERMISSION_DENIED naming the setting.

The values themselves are checked by the plug-in's config class in the torch worker (a bad
value fails the job with the class's message).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from landsim_wire.v1 import jobs_pb2

from landsim.real.data_root import PathOutsideRoot, resolve_under

from .errors import InvalidArgument, NotFound, PermissionDenied

__all__ = ["PluginCatalog", "PLUGIN_RESOURCE", "LIST_COMMAND"]

PLUGIN_RESOURCE = "landsim.v1.PluginInfo"
#: The child process that lists the plug-ins (it imports torch; the server does not).
LIST_COMMAND = ("import json; from landsim.plugins_cli import list_plugins; "
                "print(json.dumps(list_plugins()))")
#: Config keys of a real experiment that name a plug-in, with the key of its settings.
PLUGIN_KEYS = (("model", "models", "model_config"), ("dataset", "datasets", "dataset_config"))


class PluginCatalog:
    """The installed plug-ins, read once from a child process.

    Parameters
    ----------
    enabled : bool
        Whether real jobs can run here (a torch worker); when not, the catalog is empty
        and says why.
    timeout_s : float
        Longest the listing child may take (it imports torch).
    data_root : str, optional
        The server's ``--data-root``: settings that name files must resolve inside it.
    """

    def __init__(self, enabled: bool, timeout_s: float = 300.0,
                 data_root: str | None = None) -> None:
        self.enabled = enabled
        self.data_root = data_root
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._listing: dict | None = None
        self._unavailable = "" if enabled else \
            "this server runs no torch worker (start it with --torch-worker)"

    def listing(self) -> tuple[dict, str]:
        """``({group: [plug-in rows]}, why it is empty or "")``; blocking on first use."""
        with self._lock:
            if self._listing is None:
                self._listing = {} if not self.enabled else self._load()
            return self._listing, self._unavailable

    def _load(self) -> dict:
        try:
            done = subprocess.run([sys.executable, "-c", LIST_COMMAND], capture_output=True,
                                  text=True, timeout=self.timeout_s)
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip().splitlines()[-1:] or "no output")
            return json.loads(done.stdout)
        except Exception as exc:  # no torch, a broken install: say so, list nothing
            self._unavailable = f"the plug-ins could not be listed: {exc}"
            return {}

    def to_proto(self) -> jobs_pb2.ListPluginsResponse:
        """The catalog as a ListPluginsResponse (broken plug-ins left out)."""
        listing, why = self.listing()
        out = jobs_pb2.ListPluginsResponse(unavailable=why)
        for group, rows in listing.items():
            for row in rows:
                if "error" in row:
                    continue
                info = out.plugins.add(group=group, name=row["name"], summary=row["summary"])
                for f in row["config"]:
                    info.fields.add(field=f["field"], type=f["type"],
                                    default_json=json.dumps(f["default"]), doc=f["doc"],
                                    path=bool(f.get("path", False)))
        return out

    def check_real_config(self, overrides: dict) -> None:
        """Check the plug-in names and setting fields of a real job's overrides.

        Raises
        ------
        NotFound
            A named plug-in is not installed (the message lists the installed ones).
        InvalidArgument
            A settings field the plug-in does not have, or settings that are not a JSON
            object.
        """
        listing, _ = self.listing()
        if not listing:
            return  # nothing known here: the torch worker checks
        for key, group, settings_key in PLUGIN_KEYS:
            name = overrides.get(key)
            if name is None:
                continue
            rows = {row["name"]: row for row in listing.get(group, [])}
            if not isinstance(name, str) or name not in rows:
                raise NotFound(PLUGIN_RESOURCE, f"{group}/{name}",
                               f"no {group[:-1]} plug-in {name!r} is installed on this "
                               f"server; installed: {', '.join(sorted(rows)) or 'none'}")
            settings = overrides.get(settings_key)
            if settings is None:
                continue
            if isinstance(settings, list):  # a JSON list of [field, value] pairs
                try:
                    settings = dict(settings)
                except (TypeError, ValueError):
                    settings = None
            if not isinstance(settings, dict):
                raise InvalidArgument(f"config.{settings_key}",
                                      f"{settings_key} must be a JSON object of settings, "
                                      f"got {json.dumps(overrides.get(settings_key))[:80]}")
            schema = {f["field"]: f for f in rows[name].get("config", [])}
            for field, value in settings.items():
                where = f"config.{settings_key}.{field}"
                if field not in schema:
                    raise InvalidArgument(
                        where, f"{group[:-1]} plug-in {name!r} has no setting {field!r}; its "
                               f"settings are {', '.join(schema) or 'none'}")
                if schema[field].get("path") and value:
                    self._check_path(where, value)

    def _check_path(self, where: str, value) -> None:
        """A file setting must name a path inside the data root (PERMISSION_DENIED)."""
        if self.data_root is None:
            raise PermissionDenied(where, "this server has no --data-root, so jobs may not "
                                          f"name files (got {str(value)[:80]!r})")
        try:
            resolve_under(self.data_root, value)
        except PathOutsideRoot as exc:
            raise PermissionDenied(where, str(exc)) from None
