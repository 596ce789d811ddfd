"""Generated protobuf and gRPC code for the landsim.v1 API (from proto/landsim/v1).

Written by ``python proto/generate.py``; do not edit the ``*_pb2*`` modules by hand.
"""
