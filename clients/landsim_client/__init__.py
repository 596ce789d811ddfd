"""Thin Python client for the landsim gRPC service (numpy in and out; no numba, no torch)."""
