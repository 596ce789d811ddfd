"""A reflection-driven fuzz of the landsim gRPC services, shared by tests/server/test_fuzz.py
and benchmarks/bench_fuzz.py.

:class:`RequestFuzzer` builds request bodies for every RPC of ``landsim.v1`` from the
descriptors alone: every field of the request message is filled (or left out) with
random, empty, huge, negative, NaN and inf values, long and path-like strings; arrays get
wrong dtypes, shapes and byte counts; a ``Struct`` may nest past protobuf's recursion
limit; and some bodies are random bytes. :func:`send` sends one body raw (identity
serializers) and returns an :class:`Outcome`; :func:`problems` is the checker: the codes
a bad request may get are the ones docs/service.md documents (its Errors table, less
INTERNAL, which is a server bug by definition), and every INVALID_ARGUMENT carries a
``BadRequest`` naming its field.
"""

from __future__ import annotations

import logging
import math
import random
import re
import struct
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.descriptor import FieldDescriptor as F
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from landsim_wire.v1 import jobs_pb2, landscape_pb2

DOCS = Path(__file__).resolve().parents[2] / "docs" / "service.md"
SERVICES = (landscape_pb2.DESCRIPTOR.services_by_name["LandscapeService"],
            jobs_pb2.DESCRIPTOR.services_by_name["JobService"])
#: Codes never acceptable for any request, documented or not.
NEVER = {"INTERNAL", "UNKNOWN"}

INTS = [0, 1, 2, 3, -1, 7, 50, 2**31 - 1, -2**31, 2**63 - 1, -2**63]
UINTS = [0, 1, 2, 7, 2**32 - 1, 2**64 - 1]
FLOATS = [0.0, 1.0, -1.0, 0.5, 2.0, 10.0, 1e200, -1e300, 1e-320, math.nan, math.inf,
          -math.inf, 1.5]
DTYPES = ["float64", "float32", "int64", "int32", "uint8", "bool", "float16", "", "<f8",
          "x" * 300]
SANE_FLOATS = [0.1, 0.5, 1.0, 1.5, 2.0, 10.0, 0.01]
SANE_INTS = [1, 2, 3, 5, 10]
BAD_STRINGS = ["", "a", "a" * 5000, "b" * 100_000, "../../etc/passwd", "..", "/", "a/b",
               "a\x00b", "\x00", "0" * 32, "f" * 32, "F" * 32, "0" * 31 + "/", "é" * 40,
               "E1", "E7", "{}", '{"n_starts": 2}', "{" * 300, "null", "[1, 2]"]


def documented_codes(path: Path = DOCS) -> set[str]:
    """The status names of the Errors table in docs/service.md."""
    text = path.read_text(encoding="utf-8")
    section = text.split("## Errors", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| ([A-Z_]+) \|", section, flags=re.M))


def allowed_codes(path: Path = DOCS) -> set[grpc.StatusCode]:
    """What a fuzzed request may get: OK and the documented codes but INTERNAL/UNKNOWN."""
    names = (documented_codes(path) - NEVER) | {"OK"}
    return {grpc.StatusCode[name] for name in names}


@dataclass
class Outcome:
    """What one fuzzed call got."""

    method: str
    code: grpc.StatusCode
    message: str
    status: object  # google.rpc.Status or None
    responses: int = 0


def bad_request_fields(status) -> list[str]:
    """Fields named by the BadRequest details of a ``google.rpc.Status`` (or None)."""
    fields = []
    for detail in getattr(status, "details", []):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


def problems(outcome: Outcome, allowed: set[grpc.StatusCode]) -> list[str]:
    """What is wrong with one outcome ([] if nothing)."""
    found = []
    if outcome.code not in allowed:
        found.append(f"{outcome.method}: undocumented code {outcome.code.name}: "
                     f"{outcome.message[:200]}")
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT:
        if not any(bad_request_fields(outcome.status)):
            found.append(f"{outcome.method}: INVALID_ARGUMENT without a BadRequest field: "
                         f"{outcome.message[:200]}")
    return found


# ---------------------------------------------------------------------- bodies
def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A ``google.protobuf.Struct`` {"a": {"a": ... }} nested ``depth`` levels, encoded."""
    struct_bytes = b""
    for _ in range(depth):
        value = _len_field(5, struct_bytes)  # Value.struct_value
        entry = _len_field(1, b"a") + _len_field(2, value)
        struct_bytes = _len_field(1, entry)  # Struct.fields
    return struct_bytes


class RequestFuzzer:
    """Random request bodies for the methods of :data:`SERVICES`.

    Parameters
    ----------
    seed : int
    landscape_id : str
        A stored landscape, used for most ``landscape_id`` fields so that requests get
        past the lookup to the checks behind it.
    dim : int
        That landscape's dimension (arrays of it get the right width half the time).
    """

    def __init__(self, seed: int, landscape_id: str, dim: int) -> None:
        self.rng = random.Random(seed)
        self.sane = False  # this body's values mostly plausible
        self.method = ""
        self.landscape_id = landscape_id
        self.dim = dim
        self.methods = [(f"/{s.full_name}/{m.name}", m) for s in SERVICES
                        for m in s.methods]

    # -- scalars
    def _string(self, name: str) -> str:
        r = self.rng
        if name in ("landscape_id", "id") and r.random() < 0.7 and \
                self.method != "DeleteLandscape":  # keep the landscape the others use
            return self.landscape_id
        if name == "job_id" and r.random() < 0.3:
            return "0" * 32
        if name == "experiment_id" and self._sane():
            return r.choice(["E1", "E2", "E3"])
        if name == "dtype":
            return r.choice(DTYPES)
        return r.choice(BAD_STRINGS)

    def _sane(self) -> bool:
        return self.sane and self.rng.random() > 0.04

    def _scalar(self, field):
        r = self.rng
        t = field.type
        if self._sane() and t not in (F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_ENUM, F.TYPE_BOOL):
            if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
                return r.choice(SANE_FLOATS)
            return r.choice(SANE_INTS)
        if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return r.choice(FLOATS)
        if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
            return r.choice(INTS)
        if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
            return max(-2**31, min(2**31 - 1, r.choice(INTS)))
        if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
            return r.choice(UINTS)
        if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
            return min(2**32 - 1, r.choice(UINTS))
        if t == F.TYPE_BOOL:
            return r.random() < 0.5
        if t == F.TYPE_ENUM:
            values = [v.number for v in field.enum_type.values]
            return r.choice(values + [-1, 99])
        if t == F.TYPE_STRING:
            return self._string(field.name)
        return r.randbytes(r.choice([0, 1, 7, 8, 16, 64]))

    # -- arrays
    def _array_data(self, dtype: str, n: int) -> bytes:
        r = self.rng
        if dtype in ("float64", "float32") and r.random() < 0.8:
            fmt = "<d" if dtype == "float64" else "<f"
            choices = [0.0, 1.0, -2.5, 0.3, math.nan, math.inf, 1e30]
            return b"".join(struct.pack(fmt, r.choice(choices) if r.random() < 0.2 else
                                        r.uniform(-3, 3)) for _ in range(n))
        size = {"float64": 8, "float32": 4, "int64": 8, "int32": 4}.get(dtype, 1)
        return r.randbytes(n * size)

    def _fill_array(self, msg, shape_field: str = "shape") -> None:
        r = self.rng
        if self._sane():
            shape = [r.choice([1, 2, 3]), self.dim] if r.random() < 0.4 else [self.dim]
            msg.dtype = "float64"
            getattr(msg, shape_field).extend(shape)
            msg.data = struct.pack(f"<{math.prod(shape)}d",
                                   *(r.uniform(-2, 2) for _ in range(math.prod(shape))))
            return
        msg.dtype = r.choice(["float64"] * 6 + DTYPES)
        kind = r.random()
        if kind < 0.5:
            shape = [r.choice([1, 2, 3]), self.dim] if r.random() < 0.6 else [self.dim]
        elif kind < 0.8:
            shape = [r.choice([0, 1, 2, 5, 40]) for _ in range(r.choice([0, 1, 2, 3]))]
        else:
            shape = [r.choice([0, -1, 2**31, 2**62, 2**63 - 1, -2**63, 10**9])
                     for _ in range(r.choice([1, 2, 3, 40]))]
        getattr(msg, shape_field).extend(shape)
        n = math.prod(shape) if all(0 <= s < 10**5 for s in shape) else 0
        n = n if n <= 4096 else 0
        if r.random() < 0.15:
            n += r.choice([-1, 1, 3])
        msg.data = self._array_data(msg.dtype, max(0, n))

    # -- messages
    def fill(self, msg, depth: int = 0) -> None:
        """Fill ``msg`` with random field values (one member per oneof)."""
        r = self.rng
        desc = msg.DESCRIPTOR
        if desc.full_name in ("landsim.v1.NdArray", "landsim.v1.NdArrayChunk"):
            self._fill_array(msg)
            if desc.full_name == "landsim.v1.NdArrayChunk":
                msg.name = r.choice(["points", "x", "", "points" * 100])
                msg.offset = r.choice([0, 0, 0, 8, -8, 2**63 - 1])
            return
        if desc.full_name == "google.protobuf.Struct":
            for i in range(r.choice([0, 1, 3])):
                msg[f"k{i}"] = r.choice([1.0, "x", True, None, math.nan, [1, 2], {"a": 1}])
            return
        chosen = {o.name: r.choice(o.fields) for o in desc.oneofs if o.fields}
        for field in desc.fields:
            oneof = field.containing_oneof
            if oneof is not None and chosen.get(oneof.name) is not field:
                continue
            if r.random() < 0.15 and oneof is None:
                continue  # absent
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue
            if field.is_repeated:
                count = r.choice([0, 1, 2, 3, 40])
                for _ in range(count):
                    if field.message_type is not None:
                        if depth < 4:
                            self.fill(getattr(msg, field.name).add(), depth + 1)
                    else:
                        getattr(msg, field.name).append(self._scalar(field))
            elif field.message_type is not None:
                if depth < 4:
                    self.fill(getattr(msg, field.name), depth + 1)
            else:
                setattr(msg, field.name, self._scalar(field))

    def body(self, method) -> bytes:
        """One request body for ``method`` (a MethodDescriptor): usually a filled message,
        sometimes empty, random bytes, or (CreateJob) a deeply nested Struct."""
        r = self.rng
        kind = r.random()
        self.sane = r.random() < 0.5
        self.method = method.name
        if kind < 0.08:
            return r.choice([b"\x5d", b"", b"\xff" * 10, b"\x0a\xff\xff\xff\xff\x0f"])
        if kind < 0.14:
            return r.randbytes(r.randrange(1, 200))
        if method.name == "CreateJob" and kind < 0.2:
            return _len_field(1, b"E1") + _len_field(4, deep_struct(r.choice([99, 150, 400])))
        cls = _message_class(method.input_type)
        msg = cls()
        if kind > 0.22:
            self.fill(msg)
        return msg.SerializeToString()

    def bodies(self, method) -> list[bytes]:
        """The request bodies of one call (1 to 3 for a client stream)."""
        if method.client_streaming:
            return [self.body(method) for _ in range(self.rng.choice([0, 1, 2, 3]))]
        return [self.body(method)]


def _message_class(desc):
    module = landscape_pb2 if desc.file.name.endswith("landscape.proto") else jobs_pb2
    return getattr(module, desc.name)


# ---------------------------------------------------------------------- calls
def send(channel: grpc.Channel, path: str, method, bodies: list[bytes],
         timeout: float = 10.0) -> Outcome:
    """Send raw ``bodies`` to ``path`` and drain the answer."""
    count = 0
    try:
        if method.client_streaming:
            call = channel.stream_stream(path)(iter(bodies), timeout=timeout)
        elif method.server_streaming:
            call = channel.unary_stream(path)(bodies[0], timeout=timeout)
        else:
            _, call = channel.unary_unary(path).with_call(bodies[0], timeout=timeout)
            return Outcome(path, grpc.StatusCode.OK, "", None, 1)
        for _ in call:
            count += 1
        return Outcome(path, call.code(), call.details() or "", None, count)
    except grpc.RpcError as exc:
        return Outcome(path, exc.code(), exc.details() or "", rpc_status.from_call(exc),
                       count)


class ErrorLog(logging.Handler):
    """Collects log records at ERROR or above, or carrying a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


@dataclass
class FuzzReport:
    """Counts and problems of one fuzz run."""

    requests: int
    codes: dict
    by_method: dict
    problems: list
    not_serving: int
    seconds: float


def run_fuzz(channel: grpc.Channel, fuzzer: RequestFuzzer, n: int,
             allowed: set[grpc.StatusCode], health_every: int = 100,
             timeout: float = 10.0) -> FuzzReport:
    """Send ``n`` fuzzed calls (methods in turn, bodies random), checking each outcome
    and the health service every ``health_every`` calls."""
    health = health_pb2_grpc.HealthStub(channel)
    codes: Counter = Counter()
    by_method: Counter = Counter()
    found: list[str] = []
    not_serving = 0
    start = time.perf_counter()
    for i in range(n):
        path, method = fuzzer.methods[i % len(fuzzer.methods)]
        outcome = send(channel, path, method, fuzzer.bodies(method), timeout)
        codes[outcome.code.name] += 1
        by_method[method.name, outcome.code.name] += 1
        found += problems(outcome, allowed)
        if i % health_every == 0:
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
            not_serving += status != health_pb2.HealthCheckResponse.SERVING
    return FuzzReport(n, dict(codes), dict(by_method), found, not_serving,
                      time.perf_counter() - start)
