"""The per-call caps of the landscape service (:class:`ServiceLimits`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServiceLimits"]


@dataclass(frozen=True)
class ServiceLimits:
    """Caps that keep one call from taking the server down.

    Parameters
    ----------
    max_points : int
        Most points in one call: the batch B of Evaluate, StreamEvaluate, Project and
        Descend, the samples T of a path and the points of a grid; >= 1.
    max_message_bytes : int
        Largest message sent or received (the gRPC limit); a unary result larger than this
        is RESOURCE_EXHAUSTED (stream it instead); >= 1024.
    max_array_bytes : int
        Largest single array decoded, assembled from a stream or built from a request
        (e.g. the T x D points of a path); >= 1024.
    chunk_bytes : int
        Data per streamed NdArrayChunk; in [1024, max_message_bytes / 2].
    block_floats : int
        StreamEvaluate evaluates ``max(1, block_floats // D)`` rows per block; >= 1.
    max_descent_work : int
        Cap on ``steps * B * D`` of one Descend call; >= 1.
    inline_floats : int
        An Evaluate of at most this many coordinates (B * D) runs on the event-loop
        thread with serial kernels instead of in the pool (a thread hop costs more); >= 0.
    """

    max_points: int = 1 << 20  # a million points
    max_message_bytes: int = 64 << 20  # 64 MiB
    max_array_bytes: int = 1 << 30  # 1 GiB
    chunk_bytes: int = 1 << 20  # 1 MiB
    block_floats: int = 1 << 20  # 8 MiB of float64 points per block
    max_descent_work: int = 10**10  # about a minute of kernel time
    inline_floats: int = 1 << 14  # ~30 us of kernel work: less than a thread hop

    def __post_init__(self) -> None:
        for name, low in (("max_points", 1), ("max_message_bytes", 1024),
                          ("max_array_bytes", 1024), ("block_floats", 1),
                          ("max_descent_work", 1), ("inline_floats", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 1024 <= self.chunk_bytes <= self.max_message_bytes // 2:
            raise ValueError(f"chunk_bytes must be in [1024, max_message_bytes / 2 = "
                             f"{self.max_message_bytes // 2}], got {self.chunk_bytes!r}")
