"""NumPy arrays <-> ``landsim.v1.NdArray`` / ``NdArrayChunk`` on the client side.

A re-export of :mod:`landsim_wire.arrays`, the codec the server uses too (same dtype
table, same checks on what comes back). Its defaults suit the client: any wire dtype, no
size cap, writable results; a malformed array raises :class:`WireError`.
"""

from __future__ import annotations

from landsim_wire.arrays import (
    DTYPES,
    ChunkAssembler,
    WireError,
    assemble,
    from_ndarray,
    iter_chunks,
    iter_encoded_chunks,
    to_ndarray,
)

__all__ = ["DTYPES", "to_ndarray", "from_ndarray", "iter_chunks", "iter_encoded_chunks",
           "ChunkAssembler", "assemble", "WireError"]
