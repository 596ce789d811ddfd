"""The values of a sweep's grid: Config fields, their types, parsing and point labels.

Part of :mod:`landsim.sweep` (which re-exports these names): ``--grid FIELD=V1,V2`` values
are read by the type of the field in the claim's ``Config`` (:func:`parse_value`), and
each grid point gets a filesystem-safe, unique label (:func:`point_label`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

from .results import _jsonable
from .units import experiment_module

__all__ = ["config_fields", "parse_value", "parse_grid", "format_value", "point_label",
           "unknown_field", "field_default", "LABEL_CHARS", "HASH_CHARS"]

#: Longest readable ``field=value`` prefix of a point label (the hash keeps it unique).
LABEL_CHARS = 60
#: Hex digits of the config hash in a point label.
HASH_CHARS = 12

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def config_fields(claim: str, kind: str = "toy") -> dict[str, Any]:
    """The fields of a claim's ``Config``, in declaration order, with their resolved types.

    Parameters
    ----------
    claim : str
        "E1" .. "E7".
    kind : {"toy", "real"}
        "real" imports torch.

    Returns
    -------
    dict of str to type
        Field name -> type hint (``float``, ``tuple[int, ...]``, ...).
    """
    config_cls = experiment_module(claim, kind).Config
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls)}


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _is_tuple(hint: Any) -> bool:
    return hint is tuple or typing.get_origin(hint) is tuple


def _union_args(hint: Any) -> tuple | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _scalar(name: str, text: str, hint: Any) -> Any:
    """One scalar parsed by its type (text), or converted (any other value)."""
    args = _union_args(hint)
    if args is not None:
        if type(None) in args and isinstance(text, str) and text.lower() == "none":
            return None
        if text is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _scalar(name, text, option)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{name}: cannot read {text!r}")
    if hint is bool:
        if isinstance(text, (bool, np.bool_)):
            return bool(text)
        if isinstance(text, str) and text.strip().lower() in _TRUE + _FALSE:
            return text.strip().lower() in _TRUE
        raise ValueError(f"{name} takes true or false, got {text!r}")
    if hint is int:
        if isinstance(text, (int, np.integer)) and not isinstance(text, (bool, np.bool_)):
            return int(text)
        if isinstance(text, str):
            try:
                return int(text.strip())
            except ValueError:
                pass
        raise ValueError(f"{name} takes integers, got {text!r}")
    if hint is float:
        if isinstance(text, (int, float, np.integer, np.floating)) \
                and not isinstance(text, (bool, np.bool_)):
            return float(text)
        if isinstance(text, str):
            try:
                return float(text.strip())
            except ValueError:
                pass
        raise ValueError(f"{name} takes numbers, got {text!r}")
    if hint is str:
        if isinstance(text, str) and text.strip():
            return text.strip()
        raise ValueError(f"{name} takes a non-empty string, got {text!r}")
    if hint is Any:  # no annotation: read a number if it is one
        if not isinstance(text, str):
            return text
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text
    raise ValueError(f"{name} has type {_type_name(hint)}, which a sweep cannot set")


def _element_types(hint: Any, default: Any, n: int) -> list:
    """Types of the ``n`` elements of a tuple-typed field."""
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return [args[0]] * n
    if args:
        if len(args) != n:
            raise ValueError(f"takes {len(args)} values a/b/..., got {n}")
        return list(args)
    # a bare ``tuple``: the type of the default's elements, else whatever the text is
    known = {type(v) for v in default} if isinstance(default, tuple) and default else set()
    if known and known <= {int}:
        return [int] * n
    if known and known <= {int, float}:
        return [float] * n
    if len(known) == 1:
        return [known.pop()] * n
    return [Any] * n


def parse_value(name: str, text: Any, hint: Any, default: Any = None) -> Any:
    """One value of field ``name`` from its text (or any value), by the field's type.

    ``int``, ``float``, ``bool`` (true/false, yes/no, on/off, 1/0) and ``str`` fields take
    one value; a tuple-typed field takes ``a/b/c`` (a single ``v`` is ``(v,)``) or a
    sequence. Non-text values are converted the same way (an int to a float field, a list
    to a tuple).

    Parameters
    ----------
    name : str
        The field's name (for the error).
    text : str or value
    hint : type
        The field's type (:func:`config_fields`).
    default : object, optional
        The field's default, which fixes the element type of a bare ``tuple`` field.

    Raises
    ------
    ValueError
        Naming the field, its type and the bad value.
    """
    if _is_tuple(hint):
        if isinstance(text, str):
            items = [part.strip() for part in text.split("/")]
            if any(not part for part in items):
                raise ValueError(f"{name} takes values separated by '/', got {text!r}")
        elif isinstance(text, (tuple, list, np.ndarray)):
            items = list(text)
        else:
            items = [text]
        try:
            kinds = _element_types(hint, default, len(items))
        except ValueError as exc:
            raise ValueError(f"{name} {exc}: {text!r}") from None
        return tuple(_scalar(f"{name}[{i}]", v, k) for i, (v, k) in enumerate(zip(items, kinds)))
    if isinstance(text, (tuple, list)):
        raise ValueError(f"{name} takes one {_type_name(hint)} value, got {text!r}")
    return _scalar(name, text, hint)


def unknown_field(name: str, claim: str, kind: str, fields: Sequence[str]) -> ValueError:
    return ValueError(f"{claim} ({kind}) Config has no field {name!r}; its fields are: "
                      f"{', '.join(fields)}")


def parse_grid(text: str, claim: str, kind: str = "toy") -> tuple[str, tuple]:
    """``"eps1=0.001,0.002"`` -> ``("eps1", (0.001, 0.002))``, values parsed by the type of
    the field in the claim's Config (:func:`parse_value`; ``a/b/c`` for a tuple field).

    Raises
    ------
    ValueError
        No ``=``, an unknown field (the message lists the valid ones), an empty value, a
        value that is not of the field's type.
    """
    name, sep, values = str(text).partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"a grid is FIELD=V1,V2,..., got {text!r}")
    fields = config_fields(claim, kind)
    if name not in fields:
        raise unknown_field(name, claim, kind, list(fields))
    parts = [part.strip() for part in values.split(",")]
    if not values.strip():
        raise ValueError(f"grid field {name} has no values: {text!r}")
    if any(not part for part in parts):
        raise ValueError(f"grid field {name} has an empty value: {text!r}")
    default = field_default(claim, kind, name)
    return name, tuple(parse_value(name, part, fields[name], default) for part in parts)


def field_default(claim: str, kind: str, name: str) -> Any:
    for f in dataclasses.fields(experiment_module(claim, kind).Config):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def format_value(value: Any) -> str:
    """A grid value as text: ``0.001``, ``50``, ``true``, ``20/40/80`` (how it is typed)."""
    if isinstance(value, (tuple, list)):
        return "/".join(format_value(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _canonical(config: Any) -> str:
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return json.dumps(_jsonable(data), sort_keys=True, separators=(",", ":"))


def point_label(point: Sequence[tuple[str, Any]], config: Any) -> str:
    """A filesystem-safe, unique name of a grid point: ``field=value,...`` (cut to
    :data:`LABEL_CHARS`, characters other than ``A-Za-z0-9._=,+-`` made ``_``, a tuple's
    ``/`` made ``+``) and ``h`` + the first :data:`HASH_CHARS` hex digits of the sha256 of
    the full config's canonical JSON."""
    readable = ",".join(f"{k}={format_value(v)}" for k, v in point).replace("/", "+")
    readable = re.sub(r"[^A-Za-z0-9._=,+-]", "_", readable)[:LABEL_CHARS]
    digest = hashlib.sha256(_canonical(config).encode()).hexdigest()[:HASH_CHARS]
    return f"{readable}-h{digest}" if readable else f"h{digest}"
