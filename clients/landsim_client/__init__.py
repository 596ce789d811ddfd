"""Thin Python client for the landsim gRPC service (numpy in and out; no numba, no torch).

>>> from landsim_client import Client                       # doctest: +SKIP
>>> with Client("127.0.0.1:50051") as c:
...     lid = c.create_landscape(dim=50, n_wedges=3, n_short=5, seed=0)
...     c.evaluate(lid, X).loss

Imports only grpc, protobuf, numpy and :mod:`landsim_wire` (the generated ``landsim.v1``
messages and the array codec), never ``landsim``: ``pip install ./clients`` installs it
(the ``landsim-client`` distribution) without Numba, SciPy or torch. Answers are plain
records of NumPy arrays (:class:`JobResult`, :class:`SpecRecord`, ...);
``landsim.client_records`` turns them into ``landsim`` objects where landsim is
installed. The command line is ``landsim-client`` (:mod:`landsim_client.cli`).

Modules: :mod:`.client` (connection and retries), :mod:`.landscape_calls` and
:mod:`.job_calls` (the calls), :mod:`.requests` (request building), :mod:`.records`,
:mod:`.spec_record`, :mod:`.job_result` (what comes back), :mod:`.assemble` (streams
put together), :mod:`.convert` (message <-> value), :mod:`.retry`, :mod:`.errors`,
:mod:`.rpc_protos` (standard status and health messages).
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
    JobResult,
    Landscape,
    RetryPolicy,
    SpecRecord,
    Verdict,
    WedgeRecord,
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
    "DescentRun", "Job", "JobEvent", "JobResult", "Verdict", "SpecRecord", "WedgeRecord",
    "JOB_STATES", "FINAL_STATES", "SECTION_KINDS",
    "DEFAULT_TARGET", "DEFAULT_TIMEOUT_S",
    "LandsimError", "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition",
    "ResourceExhausted", "Unauthenticated", "PermissionDenied", "Unavailable",
    "DeadlineExceeded", "DataLoss", "Internal",
]
