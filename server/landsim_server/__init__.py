"""The landsim gRPC service: servicers (thin), proto <-> library conversion, the SQLite
store for landscapes, jobs and results, and the worker processes."""
