"""Thin Python client for the landsim gRPC service (numpy in and out; no numba, no torch).

>>> from landsim_client import Client                       # doctest: +SKIP
>>> with Client("127.0.0.1:50051") as c:
...     lid = c.create_landscape(dim=50, n_wedges=3, n_short=5, seed=0)
...     c.evaluate(lid, X).loss

Imports only grpc, numpy, the generated ``landsim.v1`` messages and ``landsim.spec`` /
``landsim.results`` (plain NumPy modules), so lab services can use it without Numba or
torch. The command line is ``landsim-client`` (:mod:`landsim_client.cli`).
"""

from .client import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT_S,
    FINAL_STATES,
    JOB_STATES,
    SECTION_KINDS,
    Client,
    DescentRecord,
    DescentRun,
    Evaluation,
    Intersection,
    Job,
    JobEvent,
    Landscape,
    RetryPolicy,
)
from .errors import (
    AlreadyExists,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    LandsimError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "Client", "RetryPolicy", "Landscape", "Evaluation", "Intersection", "DescentRecord",
    "DescentRun", "Job", "JobEvent", "JOB_STATES", "FINAL_STATES", "SECTION_KINDS",
    "DEFAULT_TARGET", "DEFAULT_TIMEOUT_S",
    "LandsimError", "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition",
    "ResourceExhausted", "Unauthenticated", "PermissionDenied", "Unavailable",
    "DeadlineExceeded", "DataLoss", "Internal",
]
