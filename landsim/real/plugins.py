"""Plug-ins: networks, datasets and losses of the real-network experiments, found by name.

Code never travels to the service, so a lab brings its own network or data as an installed
package that declares *plug-ins* as Python entry points in one of three groups:

``landsim.models``
    ``build(config, input_shape, n_classes, seed) -> torch.nn.Module``
``landsim.datasets``
    ``build(config, seed) -> landsim.real.data.Dataset``
``landsim.losses``
    ``build(config) -> callable(logits, targets) -> scalar tensor``

An entry point names a :class:`Plugin` (or any object with the same four attributes): its
``name`` (the entry point's name), its ``config`` class (a frozen dataclass whose fields
have JSON types - int, float, bool, str or tuples of those - and defaults, validated in
``__post_init__`` with a ValueError naming the field and its valid range), its ``build``
factory and a one-line ``summary``::

    # pyproject.toml of the lab's package
    [project.entry-points."landsim.models"]
    resnet_bn = "landsim_example_plugin:RESNET_BN"

landsim declares its own built-ins the same way (models ``mlp``, ``cnn``; datasets
``digits``, ``teacher``, ``mixture``, ``idx``, ``npz``; loss ``cross_entropy``); they are
also known without installed metadata (:data:`BUILTINS`), e.g. when run from a source tree.

:func:`installed` lists the entry points (loading nothing), :func:`find` loads one (a
LookupError lists the installed names of the group), :func:`config_schema` describes a
plug-in's settings as JSON, :func:`make_config` validates a dict of settings, and
:func:`build_model`, :func:`build_dataset`, :func:`build_loss` make the objects.
:class:`PluginModel` is the model of an experiment config (``.build(input_shape,
n_classes, seed)`` like :class:`landsim.real.models.ModelSpec`).

Importing this module does not import torch; loading a plug-in may.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import math
import re
import sys
import tokenize
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..seeding import check_seed

__all__ = ["GROUPS", "BUILTINS", "PluginError", "Plugin", "PluginModel", "group_of",
           "installed", "find", "config_schema", "make_config", "config_pairs",
           "build_model", "build_dataset", "build_loss"]

#: Short names of the entry-point groups.
GROUPS = {"models": "landsim.models", "datasets": "landsim.datasets",
          "losses": "landsim.losses"}
_KIND = {"landsim.models": "model", "landsim.datasets": "dataset", "landsim.losses": "loss"}
#: landsim's own plug-ins, as declared in its pyproject.toml (also used when the installed
#: metadata lacks them, e.g. a source tree on sys.path).
BUILTINS = {
    "landsim.models": {"mlp": "landsim.real.models:MLP_PLUGIN",
                       "cnn": "landsim.real.models:CNN_PLUGIN"},
    "landsim.datasets": {"digits": "landsim.real.data:DIGITS_PLUGIN",
                         "teacher": "landsim.real.data:TEACHER_PLUGIN",
                         "mixture": "landsim.real.data:MIXTURE_PLUGIN",
                         "idx": "landsim.real.data:IDX_PLUGIN",
                         "npz": "landsim.real.data:NPZ_PLUGIN"},
    "landsim.losses": {"cross_entropy": "landsim.real.plugins:CROSS_ENTROPY"},
}
_SCALARS = (int, float, bool, str)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class PluginError(RuntimeError):
    """A plug-in that cannot be loaded or is malformed; the message names its entry point."""


@dataclass(frozen=True)
class Plugin:
    """The declaration of a plug-in (what its entry point names).

    Attributes
    ----------
    name : str
        The entry point's name, e.g. "resnet_bn".
    config : type
        A frozen dataclass of the settings (JSON-typed fields with defaults).
    build : callable
        The factory (see the module docstring for each group's signature).
    summary : str
        One line shown by ``landsim plugins``.
    """

    name: str
    config: type
    build: Callable[..., Any]
    summary: str

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"plug-in {self.name!r}: {problem}")


def _field_types(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation is the author's problem
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _json_type(hint: Any) -> bool:
    if hint in _SCALARS or hint is tuple:
        return True
    return typing.get_origin(hint) is tuple and all(
        a is Ellipsis or a in _SCALARS for a in typing.get_args(hint))


def _problem(obj: Any) -> str | None:
    """Why ``obj`` is not a valid plug-in declaration, or None."""
    missing = [a for a in ("name", "config", "build", "summary") if not hasattr(obj, a)]
    if missing:
        return f"a plug-in needs attributes name, config, build, summary; missing {missing}"
    if not isinstance(obj.name, str) or not _NAME.match(obj.name):
        return f"name must be an identifier-like string, got {obj.name!r}"
    cls = obj.config
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)
            and cls.__dataclass_params__.frozen):
        return f"config must be a frozen dataclass, got {cls!r}"
    hints = _field_types(cls)
    for f in dataclasses.fields(cls):
        if not _json_type(hints.get(f.name)):
            return (f"config field {f.name!r} must have a JSON type (int, float, bool, str "
                    f"or a tuple of those), got {hints.get(f.name)!r}")
    if not callable(obj.build):
        return "build must be callable"
    if not isinstance(obj.summary, str) or not obj.summary.strip() or "\n" in obj.summary:
        return "summary must be a non-empty single line"
    return None


def group_of(group: str) -> str:
    """The full entry-point group of ``group`` ("models" or "landsim.models", ...)."""
    full = GROUPS.get(group, group)
    if full not in _KIND:
        raise ValueError(f"group must be one of {sorted(GROUPS)} (or {sorted(_KIND)}), "
                         f"got {group!r}")
    return full


def _declared(group: str) -> dict[str, list[EntryPoint]]:
    """Every declaration of each name in ``group``: built-ins first, then installed."""
    return _scan(group, tuple(sys.path))


@functools.lru_cache(maxsize=16)
def _scan(group: str, path: tuple[str, ...]) -> dict[str, list[EntryPoint]]:
    # cached per sys.path: reading the installed metadata takes milliseconds, and configs
    # are validated often
    out: dict[str, list[EntryPoint]] = {}
    for name, value in BUILTINS[group].items():
        out.setdefault(name, []).append(EntryPoint(name, value, group))
    for ep in entry_points(group=group):
        known = out.setdefault(ep.name, [])
        if all(e.value != ep.value for e in known):
            known.append(ep)
    return out


def installed(group: str | None = None) -> dict:
    """The declared plug-ins, loading nothing: name -> EntryPoint (sorted) for ``group``
    ("models", "datasets", "losses" or the full group name), or full group -> such a dict
    for all groups when None. A name declared by several packages maps to its first
    declaration (:func:`find` refuses it)."""
    if group is None:
        return {g: installed(g) for g in _KIND}
    found = _declared(group_of(group))
    return {name: eps[0] for name, eps in sorted(found.items())}


def find(group: str, name: str) -> Any:
    """The loaded plug-in ``name`` of ``group``.

    Raises
    ------
    LookupError
        No such plug-in; the message lists the installed ones.
    PluginError
        The entry point cannot be imported, names no valid plug-in, or the name is
        declared by several packages (the message names the entry point).
    """
    group = group_of(group)
    kind = _KIND[group]
    found = _declared(group)
    if name not in found:
        raise LookupError(f"no {kind} plug-in {name!r} is installed; installed {kind} "
                          f"plug-ins: {', '.join(sorted(found))} (entry-point group "
                          f"{group!r}; see `landsim plugins`)")
    eps = found[name]
    if len(eps) > 1:
        raise PluginError(f"{kind} plug-in {name!r} is declared by several entry points of "
                          f"group {group!r}: {', '.join(e.value for e in eps)}")
    ep = eps[0]
    where = f"entry point {name} = {ep.value} (group {group})"
    try:
        obj = ep.load()
    except Exception as exc:  # noqa: BLE001 - any failure of the author's code
        raise PluginError(f"cannot load {kind} plug-in {name!r} from {where}: "
                          f"{type(exc).__name__}: {exc}") from exc
    problem = _problem(obj)
    if problem is None and obj.name != name:
        problem = f"it calls itself {obj.name!r}"
    if problem:
        raise PluginError(f"{kind} plug-in {name!r} from {where} is not valid: {problem}")
    return obj


def _as_plugin(group: str, plugin: Any) -> Any:
    return find(group, plugin) if isinstance(plugin, str) else plugin


# ------------------------------------------------------------------------ settings
def _docs(cls: type) -> dict[str, str]:
    """Field docs: ``field(metadata={"doc": ...})``, else the ``# comment`` on its line."""
    docs = {f.name: str(f.metadata["doc"]) for f in dataclasses.fields(cls)
            if "doc" in f.metadata}
    try:
        source = inspect.getsource(cls)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (OSError, TypeError, tokenize.TokenError, SyntaxError):
        return docs
    names = {f.name for f in dataclasses.fields(cls)}
    line_name: dict[int, str] = {}
    for i, tok in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if tok.type == tokenize.NAME and tok.string in names and nxt.string == ":" \
                and not tok.line[:tok.start[1]].strip():
            line_name.setdefault(tok.start[0], tok.string)
    for tok in tokens:
        if tok.type == tokenize.COMMENT and tok.start[0] in line_name:
            docs.setdefault(line_name[tok.start[0]], tok.string.lstrip("#").strip())
    return docs


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    return list(_jsonable(v) for v in value) if isinstance(value, tuple) else value


def config_schema(plugin: Any, group: str = "models") -> list[dict]:
    """The settings of a plug-in as JSON: ``[{field, type, default, doc, path}, ...]``
    (``path``: the setting names a file, ``field(metadata={"path": True})``).

    ``plugin`` is a plug-in object, or a name looked up in ``group``. A field without a
    default has default None.
    """
    plugin = _as_plugin(group, plugin)
    hints, docs = _field_types(plugin.config), _docs(plugin.config)
    out = []
    for f in dataclasses.fields(plugin.config):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append({"field": f.name, "type": _type_name(hints.get(f.name)),
                    "default": _jsonable(default), "doc": docs.get(f.name, ""),
                    "path": bool(f.metadata.get("path", False))})
    return out


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """A JSON value in the field's type (lists to tuples, whole floats to int), or
    ValueError naming the field."""
    if hint is tuple or typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list of values ({_type_name(hint)}), got "
                             f"{value!r}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = [args[0]] * len(value)
        elif args:
            if len(args) != len(value):
                raise ValueError(f"{name} must have {len(args)} values ({_type_name(hint)}), "
                                 f"got {value!r}")
            inner = list(args)
        else:
            inner = [None] * len(value)
        return tuple(v if h is None else _coerce(f"{name}[{i}]", v, h)
                     for i, (v, h) in enumerate(zip(value, inner)))
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise ValueError(f"{name} must be of type {_type_name(hint)}, got {value!r}")
    return value


def make_config(plugin: Any, values: Mapping | Iterable | None = None,
                group: str = "models") -> Any:
    """The plug-in's config from a dict of settings (missing fields take their defaults).

    Parameters
    ----------
    plugin : plug-in object or str
        A name is looked up in ``group``.
    values : dict, or iterable of (field, value) pairs, optional
        JSON values: lists become tuples, whole floats of int fields become ints.

    Raises
    ------
    ValueError
        An unknown field (the message names it and lists the valid ones), a value of the
        wrong type, or one the config rejects (its own message names the field and range).
    """
    plugin = _as_plugin(group, plugin)
    values = dict(config_pairs("config", values))
    cls = plugin.config
    hints = _field_types(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in valid]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a setting of plug-in {plugin.name!r}; valid "
                         f"settings: {', '.join(valid) or '(none)'}")
    values = {k: _coerce(k, v, hints.get(k)) for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a missing required field, or a comparison of a wrong type
        raise ValueError(f"plug-in {plugin.name!r}: {exc}") from exc


def config_pairs(name: str, value: Any) -> tuple:
    """Settings as a hashable tuple of (field, value) pairs sorted by field (lists become
    tuples), from a dict, an iterable of pairs (JSON: a list of 2-lists) or None.

    ValueError if they are not (str, value) pairs or a field comes twice (naming ``name``).
    """
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(f"{name} must be (field, value) pairs or a dict, got {value!r}")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0],
                                                                                    str):
            raise ValueError(f"{name} must be (field, value) pairs with string fields, got "
                             f"{item!r} in {value!r}")
        if item[0] in out:
            raise ValueError(f"{name} gives the field {item[0]!r} twice")
        out[item[0]] = _tuples(item[1])
    return tuple(sorted(out.items()))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


# ------------------------------------------------------------------------ building
def build_model(name: str, config: Mapping | Iterable | None = None, *,
                input_shape: tuple[int, ...], n_classes: int, seed: int = 0):
    """A freshly initialised ``torch.nn.Module`` of model plug-in ``name``; ``build`` runs
    in a forked torch RNG seeded with ``seed`` (same seed, same weights; the global RNG is
    untouched)."""
    import torch

    plugin = find("models", name)
    cfg = make_config(plugin, config)
    seed = check_seed(seed)
    shape = tuple(int(s) for s in input_shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = plugin.build(cfg, shape, int(n_classes), seed)
    if not isinstance(net, torch.nn.Module):
        raise PluginError(f"model plug-in {name!r} built a {type(net).__name__}, not a "
                          f"torch.nn.Module")
    return net


def build_dataset(name: str, config: Mapping | Iterable | None = None, *, seed: int = 0):
    """The :class:`landsim.real.data.Dataset` of dataset plug-in ``name`` for ``seed``."""
    from ._dataset import Dataset

    plugin = find("datasets", name)
    cfg = make_config(plugin, config, "datasets")
    ds = plugin.build(cfg, check_seed(seed))
    if not isinstance(ds, Dataset):
        raise PluginError(f"dataset plug-in {name!r} built a {type(ds).__name__}, not a "
                          f"landsim.real.data.Dataset")
    return ds


def build_loss(name: str, config: Mapping | Iterable | None = None) -> Callable:
    """The loss function ``loss(logits, targets) -> scalar tensor`` of loss plug-in ``name``."""
    plugin = find("losses", name)
    fn = plugin.build(make_config(plugin, config, "losses"))
    if not callable(fn):
        raise PluginError(f"loss plug-in {name!r} built a {type(fn).__name__}, not a callable")
    return fn


@dataclass(frozen=True)
class PluginModel:
    """A model plug-in with its settings: what an experiment config trains.

    Attributes
    ----------
    name : str
        A model plug-in.
    config : tuple of (field, value) pairs
        Its settings (see :func:`config_pairs`; validated here).
    batchnorm : bool, optional
        Overrides the plug-in's ``batchnorm`` setting when not None; True for a plug-in
        without one is an error (its architecture decides).
    """

    name: str
    config: tuple = ()
    batchnorm: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", config_pairs("config", self.config))
        if self.batchnorm is not None and not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be a bool or None, got {self.batchnorm!r}")
        self.settings()

    def settings(self) -> Any:
        """The plug-in's validated config object."""
        plugin = find("models", self.name)
        values = dict(self.config)
        names = {f.name for f in dataclasses.fields(plugin.config)}
        if self.batchnorm is not None and "batchnorm" in names:
            values["batchnorm"] = self.batchnorm
        elif self.batchnorm:
            raise ValueError(f"model plug-in {self.name!r} has no batchnorm setting; its "
                             f"settings: {', '.join(sorted(names)) or '(none)'}")
        return make_config(plugin, values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able): name and the full settings."""
        return {"name": self.name, "config": {k: _jsonable(v) for k, v in
                                              dataclasses.asdict(self.settings()).items()}}

    def build(self, input_shape: tuple[int, ...], n_classes: int, seed: int = 0):
        """A freshly initialised network (see :func:`build_model`)."""
        return build_model(self.name, dataclasses.asdict(self.settings()),
                           input_shape=input_shape, n_classes=n_classes, seed=seed)


# ------------------------------------------------------------------------ built-in loss
@dataclass(frozen=True)
class CrossEntropyConfig:
    label_smoothing: float = 0.0  # in [0, 1[; 0 is the plain mean cross-entropy

    def __post_init__(self) -> None:
        from .._checks import real_in

        real_in("label_smoothing", self.label_smoothing, 0.0, 1.0)


def _cross_entropy(config: CrossEntropyConfig) -> Callable:
    import torch.nn.functional as F

    smoothing = config.label_smoothing

    def loss(logits, targets):
        return F.cross_entropy(logits, targets, label_smoothing=smoothing)

    return loss


CROSS_ENTROPY = Plugin("cross_entropy", CrossEntropyConfig, _cross_entropy,
                       "mean cross-entropy of the logits (torch.nn.functional.cross_entropy)")
