"""landsim_wire: the landsim.v1 wire format, shared by the server and the client.

Depends on NumPy, grpcio and protobuf only (never on ``landsim``, Numba, SciPy or torch),
so the light client can ship it. Modules:

- :mod:`landsim_wire.v1`: the generated protobuf and gRPC code (``landscape_pb2``, ...);
- :mod:`landsim_wire.chunks`: copy-free ``NdArrayChunk`` messages for streams;
- :mod:`landsim_wire.arrays`: NumPy arrays <-> ``NdArray`` / chunk streams, validated
  (the dtype table and checks in :mod:`landsim_wire.dtypes`, the readers of chunk
  streams in :mod:`landsim_wire.assembly`);
- :mod:`landsim_wire.errors`: :class:`WireError` and :class:`WireLimitError`;
- :mod:`landsim_wire.enums` and :mod:`landsim_wire.messages`: enum names and the
  message <-> plain-value conversions both sides make.

Importing the package itself loads nothing; import the module you need.
"""

__all__ = ["arrays", "assembly", "chunks", "dtypes", "enums", "errors", "messages", "v1"]
