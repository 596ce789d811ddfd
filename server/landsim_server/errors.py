"""Domain errors of the landsim service and their gRPC statuses.

Plain functions (array decoding, the store, the conversions) raise the errors below;
servicer methods are wrapped by :func:`grpc_errors`, which turns them into real gRPC
statuses with the standard rich details (``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer, read on the client with
``grpc_status.rpc_status.from_call``):

- :class:`InvalidArgument` -> INVALID_ARGUMENT with ``BadRequest`` (the field and what
  is wrong with it);
- :class:`NotFound` -> NOT_FOUND with ``ResourceInfo`` (type and id of the missing thing);
- :class:`ResourceExhausted` -> RESOURCE_EXHAUSTED with ``QuotaFailure`` (subject = the
  field) and ``ErrorInfo`` (metadata ``field``, ``limit``, ``got``), plus ``RetryInfo``
  when the refusal is transient (the server is busy);
- :class:`DataLoss` -> DATA_LOSS with ``ResourceInfo``.

The wire codec's own errors (:class:`landsim_wire.errors.WireError`, a malformed array,
and :class:`~landsim_wire.errors.WireLimitError`, one over a cap) become
:class:`InvalidArgument` and :class:`ResourceExhausted` (:func:`from_wire_error`,
:func:`wire_errors`).

A ``MemoryError`` (an allocation the admission checks did not foresee) becomes
RESOURCE_EXHAUSTED with one WARNING line. Any other exception escaping a servicer is
logged and becomes INTERNAL with a generic message (no traceback goes over the wire).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Iterator

import grpc
import grpc.aio
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from landsim_wire.errors import WireError, WireLimitError

__all__ = [
    "ServiceError", "InvalidArgument", "NotFound", "PermissionDenied", "ResourceExhausted",
    "DataLoss",
    "ERROR_DOMAIN", "grpc_errors", "invalid_argument_from", "from_wire_error", "wire_errors",
]

#: ``ErrorInfo.domain`` of every error the service sends.
ERROR_DOMAIN = "landsim.v1"

_log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the domain errors: a status code, a message and rich details."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list:
        """The ``google.rpc`` detail messages (packed into ``Status.details``)."""
        return []

    def to_status(self) -> grpc.Status:
        """This error as a :class:`grpc.Status` carrying a ``google.rpc.Status``."""
        packed = []
        for detail in self.details():
            any_msg = any_pb2.Any()
            any_msg.Pack(detail)
            packed.append(any_msg)
        proto = status_pb2.Status(code=getattr(code_pb2, self.code.name), message=self.message,
                                  details=packed)
        return rpc_status.to_status(proto)


class InvalidArgument(ServiceError):
    """A request field has a bad value.

    Parameters
    ----------
    field : str
        Path of the bad field in the request (``"points"``, ``"spec.wedges[2].eps1"``).
    description : str
        What is wrong, naming the bad value and the valid range.
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    #: Longest description sent back; a longer one (e.g. quoting a huge bad value) is cut,
    #: so that the error always fits the client's metadata limit.
    MAX_DESCRIPTION = 1000

    def __init__(self, field: str, description: str) -> None:
        if len(description) > self.MAX_DESCRIPTION:
            description = description[:self.MAX_DESCRIPTION] + " ... (cut)"
        # Many descriptions already open with the field's path ("seed must be ..."); the
        # message opens with the whole path either way (a library message names only the
        # argument: "n_short must be ..." for random.n_short[1] gets the path in front).
        named = description.startswith(field)
        super().__init__(description if named else f"{field}: {description}")
        self.field = field
        self.description = description

    def details(self) -> list:
        return [error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=self.field,
                                                        description=self.description)])]


class NotFound(ServiceError):
    """A named resource does not exist.

    Parameters
    ----------
    resource_type : str
        e.g. ``"landsim.v1.Landscape"``.
    name : str
        The id that was asked for.
    description : str, optional
        The message, when "no <type> with id <name>" does not say enough (e.g. to list
        what exists).
    """

    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, resource_type: str, name: str, description: str = "") -> None:
        super().__init__(description or f"no {resource_type} with id {name!r}")
        self.resource_type = resource_type
        self.name = name

    def details(self) -> list:
        return [error_details_pb2.ResourceInfo(resource_type=self.resource_type,
                                               resource_name=self.name,
                                               description=self.message)]


class PermissionDenied(ServiceError):
    """A request names something the server may not touch (a file outside its data root).

    Parameters
    ----------
    field : str
        Path of the field in the request, e.g. ``"config.dataset_config.path"``.
    description : str
        Why, naming the value and the allowed place.
    """

    code = grpc.StatusCode.PERMISSION_DENIED

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field

    def details(self) -> list:
        return [error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=self.field,
                                                        description=self.message)])]


class ResourceExhausted(ServiceError):
    """A request asks for more than a server limit allows.

    Parameters
    ----------
    field : str
        The request field (or quantity) over the limit.
    limit : int or float
        The limit.
    got : int or float
        What the request asked for.
    description : str, optional
        Extra advice (e.g. "use StreamEvaluate").
    retry_after_s : float or None, optional
        For a transient refusal (the server is busy): seconds after which a retry may
        succeed, sent as ``google.rpc.RetryInfo``. None (a request that can never fit):
        no RetryInfo.
    """

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, field: str, limit: float, got: float, description: str = "",
                 retry_after_s: float | None = None) -> None:
        text = f"{field}: {got} exceeds the server limit of {limit}"
        super().__init__(text + (f"; {description}" if description else ""))
        self.field = field
        self.limit = limit
        self.got = got
        self.retry_after_s = retry_after_s

    def details(self) -> list:
        return [
            error_details_pb2.QuotaFailure(violations=[error_details_pb2.QuotaFailure.Violation(
                subject=self.field, description=self.message)]),
            error_details_pb2.ErrorInfo(reason="LIMIT_EXCEEDED", domain=ERROR_DOMAIN,
                                        metadata={"field": self.field, "limit": str(self.limit),
                                                  "got": str(self.got)}),
        ] + ([] if self.retry_after_s is None else [error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=int(self.retry_after_s),
                nanos=int(round((self.retry_after_s % 1) * 1e9))))])


class DataLoss(ServiceError):
    """Stored data is damaged (e.g. a checksum mismatch)."""

    code = grpc.StatusCode.DATA_LOSS

    def __init__(self, resource_type: str, name: str, description: str) -> None:
        super().__init__(f"{resource_type} {name!r}: {description}")
        self.resource_type = resource_type
        self.name = name

    def details(self) -> list:
        return [error_details_pb2.ResourceInfo(resource_type=self.resource_type,
                                               resource_name=self.name,
                                               description=self.message)]


@contextlib.contextmanager
def invalid_argument_from(field: str) -> Iterator[None]:
    """Turn a library ``ValueError`` raised inside the block into :class:`InvalidArgument`.

    The library's messages already name the bad value and the valid range; ``field`` says
    which request field the value came from.
    """
    try:
        yield
    except ValueError as exc:
        raise InvalidArgument(field, str(exc)) from exc


def from_wire_error(exc: WireError) -> ServiceError:
    """The domain error for a wire codec error: :class:`ResourceExhausted` for a size over
    a cap, else :class:`InvalidArgument` (same field, same description)."""
    if isinstance(exc, WireLimitError):
        return ResourceExhausted(exc.field, exc.limit, exc.got, exc.detail)
    return InvalidArgument(exc.field, exc.description)


@contextlib.contextmanager
def wire_errors() -> Iterator[None]:
    """Turn a :class:`~landsim_wire.errors.WireError` raised inside the block into its
    domain error (:func:`from_wire_error`); other exceptions pass unchanged."""
    try:
        yield
    except WireError as exc:
        raise from_wire_error(exc) from exc


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, name: str) -> None:
    if isinstance(exc, WireError):
        exc = from_wire_error(exc)
    if isinstance(exc, MemoryError):  # an allocation the admission checks did not foresee
        _log.warning("%s: out of memory (%s); answered RESOURCE_EXHAUSTED", name, exc)
        exc = ResourceExhausted("memory", "what the process can allocate", "more",
                                "the server could not allocate memory for this call; "
                                "ask for less", retry_after_s=1.0)
    if isinstance(exc, ServiceError):
        await context.abort_with_status(exc.to_status())
    _log.exception("unexpected error in %s", name, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL,
                        f"internal error in {name} ({type(exc).__name__}); see the server log")


def grpc_errors(method):
    """Decorate an async servicer method (unary or server-streaming) so that domain errors
    become statuses with details and anything unexpected becomes INTERNAL."""
    name = method.__qualname__
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await _abort(context, exc, name)
        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc, name)
    return unary_wrapper
