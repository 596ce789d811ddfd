"""Undecodable request bodies become INVALID_ARGUMENT, in one place.

The generated ``add_*Servicer_to_server`` functions register ``Msg.FromString`` as each
method's request deserializer; one that raises (bytes that are not the message, a
``Struct`` nested past protobuf's recursion limit) makes grpc answer UNKNOWN and log a
traceback. :func:`add_checked_service` registers a service's generated handlers with
wrapping deserializers instead: bytes that do not decode give an :class:`Undecodable`
marker (and one WARNING line in the log), and the wrapped method behaviour answers a
marker with INVALID_ARGUMENT and a ``BadRequest`` whose field is the request message's
full name. The wire format is unchanged: a body that decodes is handled as before.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from .errors import InvalidArgument

__all__ = ["Undecodable", "checked_deserializer", "checked_handler", "add_checked_service"]

_log = logging.getLogger(__name__)

#: Errors a deserializer raises for a body that is not the message.
DECODE_ERRORS = (DecodeError, RecursionError, UnicodeDecodeError)


class Undecodable:
    """Stands for a request body that did not decode.

    Parameters
    ----------
    message_name : str
        Full name of the request message (``"landsim.v1.EvaluateRequest"``).
    reason : str
        What the decoder said.
    """

    __slots__ = ("message_name", "reason")

    def __init__(self, message_name: str, reason: str) -> None:
        self.message_name = message_name
        self.reason = reason

    def error(self) -> InvalidArgument:
        """The INVALID_ARGUMENT answered to this body."""
        return InvalidArgument(self.message_name, "the request body is not a valid encoding "
                                                  f"of this message ({self.reason})")


def checked_deserializer(deserialize: Callable[[bytes], object], message_name: str,
                         method: str) -> Callable[[bytes], object]:
    """``deserialize``, returning an :class:`Undecodable` instead of raising a decode
    error (logged as one WARNING line naming ``method``)."""
    def checked(raw: bytes):
        try:
            return deserialize(raw)
        except DECODE_ERRORS as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            _log.warning("undecodable request to %s (%d bytes): %s", method, len(raw), reason)
            return Undecodable(message_name, reason)
    return checked


async def _checked_stream(requests) -> AsyncIterator:
    async for request in requests:
        if isinstance(request, Undecodable):
            raise request.error()
        yield request


def _unary_behaviour(behaviour):
    if inspect.isasyncgenfunction(behaviour):
        async def stream(request, context):
            if isinstance(request, Undecodable):
                await context.abort_with_status(request.error().to_status())
            async for response in behaviour(request, context):
                yield response
        return stream

    async def unary(request, context):
        if isinstance(request, Undecodable):
            await context.abort_with_status(request.error().to_status())
        return await behaviour(request, context)
    return unary


def _stream_behaviour(behaviour):
    # A streaming-request method reads its requests in its own (grpc_errors-wrapped) body,
    # so an Undecodable raised from the iterator becomes its INVALID_ARGUMENT there.
    if inspect.isasyncgenfunction(behaviour):
        async def stream(request_iterator, context):
            async for response in behaviour(_checked_stream(request_iterator), context):
                yield response
        return stream

    async def unary(request_iterator, context):
        return await behaviour(_checked_stream(request_iterator), context)
    return unary


def checked_handler(handler: grpc.RpcMethodHandler, message_name: str,
                    method: str) -> grpc.RpcMethodHandler:
    """``handler`` with a :func:`checked_deserializer` and a behaviour that answers an
    :class:`Undecodable` request with INVALID_ARGUMENT."""
    deserialize = checked_deserializer(handler.request_deserializer, message_name, method)
    serialize = handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary_behaviour(handler.unary_unary), deserialize, serialize)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _unary_behaviour(handler.unary_stream), deserialize, serialize)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _stream_behaviour(handler.stream_unary), deserialize, serialize)
    return grpc.stream_stream_rpc_method_handler(
        _stream_behaviour(handler.stream_stream), deserialize, serialize)


class _CaptureHandlers:
    """Stands in for a server to collect the generated method handlers."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.handlers: dict = {}

    def add_generic_rpc_handlers(self, generic_handlers) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        if service != self.service:
            raise RuntimeError(f"unexpected service {service!r}")
        self.handlers = dict(handlers)


def add_checked_service(server: grpc.aio.Server, add_generated: Callable,
                        servicer, service: ServiceDescriptor,
                        overrides: dict | None = None) -> dict:
    """Register ``servicer`` on ``server`` with checked deserializers.

    Parameters
    ----------
    server : grpc.aio.Server
    add_generated : callable
        The generated ``add_*Servicer_to_server`` function.
    servicer : object
        The servicer instance.
    service : google.protobuf.descriptor.ServiceDescriptor
        The service's descriptor (names the request message of every method).
    overrides : dict of str to grpc.RpcMethodHandler, optional
        Handlers replacing generated ones (e.g. a bulk path with its own deserializer);
        they are checked the same way.

    Returns
    -------
    dict of str to grpc.RpcMethodHandler
        The registered (checked) handlers, by method name.
    """
    capture = _CaptureHandlers(service.full_name)
    add_generated(servicer, capture)
    handlers = {**capture.handlers, **(overrides or {})}
    checked = {
        name: checked_handler(handler, service.methods_by_name[name].input_type.full_name,
                              f"/{service.full_name}/{name}")
        for name, handler in handlers.items()}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name,
                                                                          checked),))
    server.add_registered_method_handlers(service.full_name, checked)
    return checked
