"""Answers put together from response streams: descent runs, job results, and the
translation of stream errors into typed exceptions."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
from landsim_wire.arrays import WireError, assemble, from_ndarray
from landsim_wire.messages import result_values
from landsim_wire.v1 import jobs_pb2

from .errors import LandsimError, from_rpc_error
from .job_result import JobResult, Verdict
from .records import DescentRecord, Evaluation

__all__ = ["DescentRun", "unbatch", "translate_stream", "result_from_parts"]


class DescentRun:
    """The stream of a Descend call: iterate for the :class:`DescentRecord` s; once the
    iteration is over, :attr:`final` holds ``final_x`` (B, D), ``final_loss`` (B,),
    ``steps_taken`` (B,), ``reached`` (B,) bool and ``reached_step`` (B,)."""

    def __init__(self, responses: Iterator) -> None:
        self._responses = responses
        self._started = False
        self.final: dict[str, np.ndarray] = {}
        self.records: list[DescentRecord] = []

    def __iter__(self) -> Iterator[DescentRecord]:
        if self._started:  # the stream can be read once; later loops replay the records
            yield from list(self.records)
            return
        self._started = True
        finals: list = []
        for response in self._responses:
            if response.WhichOneof("item") == "record":
                r = response.record
                record = DescentRecord(int(r.step), from_ndarray(r.loss, "loss"),
                                       from_ndarray(r.radius, "radius"),
                                       from_ndarray(r.distance, "distance"),
                                       from_ndarray(r.argmin, "argmin"))
                self.records.append(record)
                yield record
            else:
                finals.append(response.final)
        self.final = assemble(finals)

    def collect(self) -> tuple[list[DescentRecord], dict[str, np.ndarray]]:
        """Run to the end; returns (records, final arrays)."""
        for _ in self:
            pass
        return self.records, self.final


def unbatch(ev: Evaluation) -> Evaluation:
    """The first row of every array of a batch of one."""
    return Evaluation(*(None if a is None else a[0] for a in ev))


def translate_stream(call, method: str) -> Iterator:
    """Iterate a response stream, turning gRPC errors into typed exceptions."""
    try:
        yield from call
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, method) from None
    except WireError as exc:
        raise LandsimError(f"malformed answer from the server: {exc}", method=method,
                           code=grpc.StatusCode.INTERNAL) from None
    finally:
        call.cancel()


def result_from_parts(parts: Iterator[jobs_pb2.JobResultPart]) -> JobResult:
    """A :class:`JobResult` from a GetJobResult stream: the summary, then the chunks of
    the arrays it lists (WireError if the stream breaks that order, a shape or an enum;
    see ``landsim_wire.messages.result_values``)."""
    values, series = result_values(parts)
    v = values.pop("verdict")
    return JobResult(**values, series=series,
                     verdict=Verdict(bool(v["holds"]), v["rule"], v["evidence"]))
