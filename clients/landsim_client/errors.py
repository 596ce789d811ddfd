"""Typed exceptions for the statuses of the landsim service, with the server's details.

Every failed call raises a subclass of :class:`LandsimError` chosen by its gRPC status
code (:class:`InvalidArgument`, :class:`NotFound`, :class:`ResourceExhausted`,
:class:`Unauthenticated`, :class:`Unavailable`, ...). The server sends the standard rich
error model: a ``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer, whose
details are decoded here into plain attributes:

- ``field_violations``: ``[(field, description), ...]`` from ``google.rpc.BadRequest``
  (INVALID_ARGUMENT names the request field, e.g. ``"points.shape"``);
- ``resource``: ``(type, name)`` from ``google.rpc.ResourceInfo`` (NOT_FOUND, DATA_LOSS,
  ALREADY_EXISTS);
- ``quota_violations``: ``[(subject, description), ...]`` from ``google.rpc.QuotaFailure``
  and ``error_info``: ``(reason, domain, metadata)`` from ``google.rpc.ErrorInfo``
  (RESOURCE_EXHAUSTED: ``metadata`` holds ``field``, ``limit`` and ``got``);
- ``precondition_violations``: ``[(type, subject, description), ...]`` from
  ``google.rpc.PreconditionFailure`` (FAILED_PRECONDITION).

``details`` keeps the decoded messages themselves: the ``google.rpc.error_details_pb2``
classes when ``googleapis-common-protos`` is installed, otherwise classes with the same
names and fields from :mod:`landsim_client.rpc_protos` (the light client needs protobuf
only).
"""

from __future__ import annotations

import grpc

from . import rpc_protos

try:  # the standard classes, when googleapis-common-protos is installed
    from google.rpc import error_details_pb2, status_pb2
except ImportError:  # the light client: the same messages from rpc_protos
    error_details_pb2 = status_pb2 = None

__all__ = [
    "LandsimError", "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition",
    "ResourceExhausted", "Unauthenticated", "PermissionDenied", "Unavailable",
    "DeadlineExceeded", "Cancelled", "DataLoss", "Internal", "Unimplemented", "Aborted",
    "OutOfRange", "Unknown", "from_rpc_error", "DETAILS_KEY",
]

#: Trailer holding the serialised ``google.rpc.Status``.
DETAILS_KEY = "grpc-status-details-bin"


class LandsimError(Exception):
    """A call to the landsim service failed.

    Attributes
    ----------
    code : grpc.StatusCode
        The status code.
    message : str
        The server's message (it names the bad value and the valid range).
    details : list
        Decoded ``google.rpc`` detail messages (BadRequest, ResourceInfo, ...).
    method : str
        The RPC, e.g. ``"/landsim.v1.LandscapeService/Evaluate"`` ("" when unknown).
    field_violations, quota_violations, precondition_violations : list of tuple
    resource : tuple of (str, str) or None
    error_info : tuple of (str, str, dict) or None
    retry_after_s : float or None
        The server's ``RetryInfo`` delay: the refusal is transient (the server is busy)
        and a retry after that many seconds may pass.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, details: list | None = None, method: str = "",
                 code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = list(details or [])
        self.method = method
        self.field_violations: list[tuple[str, str]] = []
        self.quota_violations: list[tuple[str, str]] = []
        self.precondition_violations: list[tuple[str, str, str]] = []
        self.resource: tuple[str, str] | None = None
        self.error_info: tuple[str, str, dict] | None = None
        self.retry_after_s: float | None = None
        for d in self.details:
            kind = type(d).__name__
            if kind == "BadRequest":
                self.field_violations += [(v.field, v.description) for v in d.field_violations]
            elif kind == "QuotaFailure":
                self.quota_violations += [(v.subject, v.description) for v in d.violations]
            elif kind == "PreconditionFailure":
                self.precondition_violations += [(v.type, v.subject, v.description)
                                                 for v in d.violations]
            elif kind == "ResourceInfo":
                self.resource = (d.resource_type, d.resource_name)
            elif kind == "ErrorInfo":
                self.error_info = (d.reason, d.domain, dict(d.metadata))
            elif kind == "RetryInfo":
                self.retry_after_s = d.retry_delay.seconds + d.retry_delay.nanos / 1e9

    @property
    def field(self) -> str | None:
        """The first bad request field named by the server, if any."""
        if self.field_violations:
            return self.field_violations[0][0]
        if self.quota_violations:
            return self.quota_violations[0][0]
        return None

    def detail_lines(self) -> list[str]:
        """The details as short human-readable lines (for command lines and logs)."""
        lines = [f"field {f}: {d}" for f, d in self.field_violations]
        lines += [f"limit on {s}: {d}" for s, d in self.quota_violations]
        lines += [f"precondition {t} on {s}: {d}" for t, s, d in self.precondition_violations]
        if self.resource is not None:
            lines.append(f"resource {self.resource[0]} {self.resource[1]!r}")
        if self.error_info is not None:
            reason, domain, meta = self.error_info
            extra = ", ".join(f"{k}={v}" for k, v in sorted(meta.items()))
            lines.append(f"reason {reason} ({domain})" + (f": {extra}" if extra else ""))
        return lines

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(LandsimError):
    """A request field has a bad value (see ``field_violations``)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(LandsimError):
    """No landscape or job with that id (see ``resource``)."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(LandsimError):
    """A request_id already names a job made from a different request."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(LandsimError):
    """The job is not in a state that allows the call (e.g. result of a running job)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(LandsimError):
    """Over a server limit (size cap, or too many calls at once): see ``error_info``."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(LandsimError):
    """Missing or wrong bearer token."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(LandsimError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(LandsimError):
    """The server cannot be reached (down, restarting, wrong address)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(LandsimError):
    """The call's deadline passed before it finished."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(LandsimError):
    code = grpc.StatusCode.CANCELLED


class DataLoss(LandsimError):
    """Stored data on the server failed its checksum."""

    code = grpc.StatusCode.DATA_LOSS


class Internal(LandsimError):
    """The server hit an unexpected error (its log has the traceback)."""

    code = grpc.StatusCode.INTERNAL


class Unimplemented(LandsimError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Aborted(LandsimError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(LandsimError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unknown(LandsimError):
    code = grpc.StatusCode.UNKNOWN


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, ResourceExhausted,
    Unauthenticated, PermissionDenied, Unavailable, DeadlineExceeded, Cancelled, DataLoss,
    Internal, Unimplemented, Aborted, OutOfRange, Unknown)}


def _status_classes(standard: bool) -> tuple[type, dict]:
    """The Status class and a name -> detail class lookup (the standard google.rpc ones
    when ``standard`` and installed, else those of :mod:`.rpc_protos`)."""
    if standard and status_pb2 is not None:
        return status_pb2.Status, vars(error_details_pb2)
    return rpc_protos.status_classes()


def _decode_details(trailers, standard: bool = True) -> list:
    """The detail messages packed in a ``grpc-status-details-bin`` trailer (unknown
    ones stay ``Any`` messages)."""
    status_cls, detail_classes = _status_classes(standard)
    for key, value in trailers or ():
        if key != DETAILS_KEY:
            continue
        try:
            status = status_cls.FromString(value)
        except Exception:  # a malformed trailer: keep code and message only
            return []
        out = []
        for any_msg in status.details:
            full_name = any_msg.TypeName()
            cls = detail_classes.get(full_name.rsplit(".", 1)[-1]) \
                if full_name.startswith("google.rpc.") else None
            if cls is None:
                out.append(any_msg)
                continue
            try:
                out.append(cls.FromString(any_msg.value))
            except Exception:  # a malformed detail: skip it
                continue
        return out
    return []


def from_rpc_error(exc: grpc.RpcError, method: str = "") -> LandsimError:
    """The typed exception for a failed call (``exc`` from a grpc stub call)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = (exc.details() if hasattr(exc, "details") else "") or ""
    try:
        trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    except Exception:  # pragma: no cover - a call without trailers
        trailers = None
    cls = _BY_CODE.get(code, LandsimError)
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    return cls(message or code.name.lower().replace("_", " "), _decode_details(trailers),
               method, code)
