"""Checks shared by the landscape service's methods: the call is still wanted, a field
is present, and a request stays within the :class:`~.service_limits.ServiceLimits`.

Each raises the domain error the servicer's ``grpc_errors`` turns into a status:
:class:`~.errors.InvalidArgument`, :class:`~.errors.ResourceExhausted`, or
``asyncio.CancelledError`` for a call that was cancelled or ran out of time.
"""

from __future__ import annotations

import asyncio
import re

import grpc
import numpy as np

from landsim.spec import LandscapeSpec

from .arrays import FLOAT_DTYPES, from_ndarray
from .errors import InvalidArgument, ResourceExhausted
from .service_limits import ServiceLimits

__all__ = ["checkpoint", "require", "check_count", "check_bytes", "read_array",
           "read_points", "ID_PATTERN", "check_id", "quoted"]

#: The one form of a landscape or job id: 32 lowercase hex digits (a content hash or a
#: ``uuid4().hex``). Nothing else can name a stored file, so ``..``, separators and NUL
#: never reach a path.
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
#: Characters of a bad value quoted back in an error message.
QUOTE_CHARS = 48


def checkpoint(context: grpc.aio.ServicerContext) -> None:
    """Stop (CancelledError) if the client went away or the deadline passed."""
    remaining = context.time_remaining()
    if context.cancelled() or context.done() or (remaining is not None and remaining <= 0):
        raise asyncio.CancelledError("the call was cancelled or its deadline passed")


def require(parent, name: str, field: str) -> None:
    """InvalidArgument naming ``field`` unless the message ``parent`` has field ``name``."""
    if not parent.HasField(name):
        raise InvalidArgument(field, "is required")


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` of at most ``limit`` characters of it, saying how long it was when
    cut (an error never echoes a long value whole)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def check_id(value: str, field: str) -> str:
    """``value`` if it has the id form (:data:`ID_PATTERN`), else InvalidArgument naming
    ``field`` and quoting the value cut (:func:`quoted`)."""
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        shown = quoted(value) if isinstance(value, str) else type(value).__name__
        raise InvalidArgument(field, f"must be 32 lowercase hex digits, got {shown}")
    return value


def check_count(limits: ServiceLimits, field: str, n: int) -> None:
    """ResourceExhausted if ``n`` points exceed ``limits.max_points``."""
    if n > limits.max_points:
        raise ResourceExhausted(field, limits.max_points, n, "points in one call")


def check_bytes(field: str, nbytes: int, limit: int, advice: str = "") -> None:
    """ResourceExhausted if ``nbytes`` exceeds ``limit``."""
    if nbytes > limit:
        raise ResourceExhausted(field, limit, nbytes, advice)


def read_array(limits: ServiceLimits, parent, name: str, field: str, ndim: int,
               dtypes=FLOAT_DTYPES) -> np.ndarray:
    """The required finite NdArray field ``name`` of ``parent`` with ``ndim`` dimensions.

    Parameters
    ----------
    limits : ServiceLimits
        Its ``max_array_bytes`` caps the decoded array.
    parent : protobuf message
    name : str
        Field of ``parent``.
    field : str
        The field's path in the request, for messages.
    ndim : int
    dtypes : tuple of str
        Accepted dtypes.

    Returns
    -------
    numpy.ndarray
    """
    require(parent, name, field)
    return from_ndarray(getattr(parent, name), field, dtypes, limits.max_array_bytes,
                        ndim=ndim, finite=True)


def read_points(limits: ServiceLimits, parent, name: str, field: str,
                spec: LandscapeSpec) -> np.ndarray:
    """A (B, D) batch of points of ``spec`` with 1 <= B <= ``limits.max_points``."""
    X = read_array(limits, parent, name, field, 2)
    if X.shape[1] != spec.dim or X.shape[0] < 1:
        raise InvalidArgument(f"{field}.shape", f"must be (B, D={spec.dim}) with B >= 1, "
                                                f"got {list(X.shape)}")
    check_count(limits, field, X.shape[0])
    return X
