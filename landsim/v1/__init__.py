"""Generated protobuf and gRPC code for the landsim.v1 API (from proto/landsim/v1)."""
