"""The standard ``google.rpc`` error-detail and ``grpc.health.v1`` messages, built from
their field numbers in a private descriptor pool.

The light client depends on protobuf alone, not on ``googleapis-common-protos`` or
``grpcio-health-checking``; these few messages are all it needs of them. They live in a
pool of their own, so they never clash with the real packages when those are installed
too (the full install uses the real ``google.rpc`` classes: see :mod:`.errors`).
"""

from __future__ import annotations

import functools

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, message_factory

__all__ = ["status_classes", "health_messages", "serving_status_name",
           "HEALTH_CHECK_METHOD", "SERVING_STATUS_NAMES"]

#: The full name of the standard health check call.
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
#: ``grpc.health.v1.HealthCheckResponse.ServingStatus`` names by value.
SERVING_STATUS_NAMES = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")

_S = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_I32 = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
_MSG = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_ONE = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_MANY = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

#: google/rpc/error_details.proto (the messages without other imports), by field number:
#: message -> [(field, number, type, repeated, message type or None)]; nested messages as
#: "Outer.Inner".
_DETAILS = {
    "ErrorInfo": [("reason", 1, _S, False, None), ("domain", 2, _S, False, None),
                  ("metadata", 3, _MSG, True, ".google.rpc.ErrorInfo.MetadataEntry")],
    "ErrorInfo.MetadataEntry": [("key", 1, _S, False, None), ("value", 2, _S, False, None)],
    "DebugInfo": [("stack_entries", 1, _S, True, None), ("detail", 2, _S, False, None)],
    "QuotaFailure": [("violations", 1, _MSG, True, ".google.rpc.QuotaFailure.Violation")],
    "QuotaFailure.Violation": [("subject", 1, _S, False, None),
                               ("description", 2, _S, False, None)],
    "PreconditionFailure": [("violations", 1, _MSG, True,
                             ".google.rpc.PreconditionFailure.Violation")],
    "PreconditionFailure.Violation": [("type", 1, _S, False, None),
                                      ("subject", 2, _S, False, None),
                                      ("description", 3, _S, False, None)],
    "BadRequest": [("field_violations", 1, _MSG, True,
                    ".google.rpc.BadRequest.FieldViolation")],
    "BadRequest.FieldViolation": [("field", 1, _S, False, None),
                                  ("description", 2, _S, False, None)],
    "RequestInfo": [("request_id", 1, _S, False, None), ("serving_data", 2, _S, False, None)],
    "ResourceInfo": [("resource_type", 1, _S, False, None),
                     ("resource_name", 2, _S, False, None), ("owner", 3, _S, False, None),
                     ("description", 4, _S, False, None)],
    "LocalizedMessage": [("locale", 1, _S, False, None), ("message", 2, _S, False, None)],
    "RetryInfo": [("retry_delay", 1, _MSG, False, ".google.protobuf.Duration")],
    "Status": [("code", 1, _I32, False, None), ("message", 2, _S, False, None),
               ("details", 3, _MSG, True, ".google.protobuf.Any")],
}
_HEALTH = {
    "HealthCheckRequest": [("service", 1, _S, False, None)],
    "HealthCheckResponse": [("status", 1, _I32, False, None)],  # the enum's wire form
}


def _add_messages(file: descriptor_pb2.FileDescriptorProto, spec: dict) -> None:
    made: dict[str, descriptor_pb2.DescriptorProto] = {}
    for name, fields in spec.items():
        outer, _, inner = name.partition(".")
        if inner:
            msg = made[outer].nested_type.add(name=inner)
            if inner.endswith("Entry"):
                msg.options.map_entry = True
        else:
            msg = made[outer] = file.message_type.add(name=outer)
        for fname, number, ftype, repeated, type_name in fields:
            f = msg.field.add(name=fname, number=number, type=ftype,
                              label=_MANY if repeated else _ONE)
            if type_name:
                f.type_name = type_name


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(duration_pb2.DESCRIPTOR.serialized_pb)
    rpc = descriptor_pb2.FileDescriptorProto(name="landsim_client/google_rpc.proto",
                                             package="google.rpc", syntax="proto3",
                                             dependency=["google/protobuf/any.proto",
                                                         "google/protobuf/duration.proto"])
    _add_messages(rpc, _DETAILS)
    pool.Add(rpc)
    health = descriptor_pb2.FileDescriptorProto(name="landsim_client/grpc_health.proto",
                                                package="grpc.health.v1", syntax="proto3")
    _add_messages(health, _HEALTH)
    pool.Add(health)
    return pool


def _cls(full_name: str):
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(full_name))


@functools.cache
def status_classes() -> tuple[type, dict[str, type]]:
    """The ``google.rpc.Status`` class and the detail classes by short name
    (``"BadRequest"``, ``"ResourceInfo"``, ...)."""
    names = [n for n in _DETAILS if "." not in n and n != "Status"]
    return _cls("google.rpc.Status"), {n: _cls(f"google.rpc.{n}") for n in names}


@functools.cache
def health_messages() -> tuple[type, type]:
    """The ``HealthCheckRequest`` and ``HealthCheckResponse`` classes."""
    return (_cls("grpc.health.v1.HealthCheckRequest"),
            _cls("grpc.health.v1.HealthCheckResponse"))


def serving_status_name(value: int) -> str:
    """The ServingStatus name of a value (its number as text when unknown)."""
    return SERVING_STATUS_NAMES[value] if 0 <= value < len(SERVING_STATUS_NAMES) \
        else str(value)
