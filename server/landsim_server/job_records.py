"""What the job store hands out: job states, records, events, page tokens and errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .job_config import JobSpec

__all__ = ["STATES", "FINAL_STATES", "JobRecord", "JobEvent", "JobNotFound",
           "RequestConflict", "JobStateError", "ResultCorrupt", "record_from_row",
           "encode_page_token", "decode_page_token"]

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class JobNotFound(KeyError):
    """No job with this id."""

    def __str__(self) -> str:
        return str(self.args[0])


class RequestConflict(ValueError):
    """A request_id reused with a different request body."""


class JobStateError(ValueError):
    """The operation does not apply to the job in its current state."""


class ResultCorrupt(OSError):
    """A stored result file is missing or fails its checksum."""


@dataclass(frozen=True)
class JobRecord:
    """One row of ``jobs``; times are Unix seconds (None when not reached)."""

    seq: int
    id: str
    request_id: str | None
    experiment: str
    kind: str
    config: dict
    quick: bool
    seed: int
    state: str
    progress: float
    message: str
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires: float | None
    cancel_requested: bool
    error: str
    created: float
    started: float | None
    finished: float | None
    replicate: int = 0
    arm: str = "claim"
    sweep: dict | None = None  # a sweep job's grid (JobSpec.sweep); None for one unit

    @property
    def spec(self) -> JobSpec:
        """What the job runs."""
        return JobSpec(experiment=self.experiment, kind=self.kind, config=self.config,
                       quick=self.quick, seed=self.seed, max_attempts=self.max_attempts,
                       replicate=self.replicate, arm=self.arm, sweep=self.sweep)

    @property
    def final(self) -> bool:
        """SUCCEEDED, FAILED or CANCELLED."""
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class JobEvent:
    """One row of ``job_events``: the job's mutable fields right after a change."""

    seq: int
    job_id: str
    state: str
    progress: float
    message: str
    attempts: int
    error: str
    time: float




def record_from_row(row: tuple) -> JobRecord:
    """A :class:`JobRecord` from a row of :data:`~landsim_server.job_schema.JOB_COLUMNS`."""
    (seq, id_, request_id, experiment, kind, config, quick, seed, state, progress, message,
     attempts, max_attempts, lease_owner, lease_expires, cancel, error, created, started,
     finished, replicate, arm, sweep) = row
    return JobRecord(seq, id_, request_id, experiment, kind, json.loads(config), bool(quick),
                     seed, state, progress, message, attempts, max_attempts, lease_owner,
                     lease_expires, bool(cancel), error, created, started, finished,
                     int(replicate), arm, json.loads(sweep) if sweep else None)


def encode_page_token(after_seq: int, states: Sequence[str]) -> str:
    """Opaque ListJobs token: the last seq of the page and the filter it belongs to."""
    raw = json.dumps({"after": int(after_seq), "states": sorted(states)})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_page_token(token: str, states: Sequence[str]) -> int:
    """The seq after which the next page starts; ValueError for a bad or foreign token."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = data["after"]
        token_states = data["states"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"page_token is not a token of ListJobs, got {token[:40]!r}") from exc
    if not isinstance(after, int) or after < 0:
        raise ValueError(f"page_token is not a token of ListJobs, got {token[:40]!r}")
    if token_states != sorted(states):
        raise ValueError("page_token belongs to a different states filter "
                         f"({token_states}); ask again from the first page")
    return after
