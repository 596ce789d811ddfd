"""The result of a succeeded job (``Client.result``), as plain values and NumPy arrays.

:class:`JobResult` has the attributes of ``landsim.results.Result`` and saves in the same
two files (``<stem>.json`` + ``<stem>.npz``, format ``"landsim.Result/2"``) that
``landsim.results.load_result`` reads; ``landsim.client_records.result_from_record``
turns it into a ``landsim.results.Result``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

__all__ = ["JobResult", "Verdict", "RESULT_FORMAT"]

#: The format tag of saved results (``landsim.results.FORMAT``).
RESULT_FORMAT = "landsim.Result/2"


@dataclass(frozen=True)
class Verdict:
    """Whether the claim held on the job's configuration, and why.

    Attributes
    ----------
    holds : bool
    rule : str
        The test and threshold used.
    evidence : str
        One sentence with the numbers behind the verdict.
    """

    holds: bool
    rule: str
    evidence: str


@dataclass(frozen=True, eq=False)
class JobResult:
    """One run of one experiment, as the server streamed it.

    Attributes
    ----------
    experiment : str
        Claim id, "E1" .. "E7".
    kind : {"toy", "real"}
    config : dict
        The experiment's config (JSON values).
    seed : int
        Root seed.
    version : str
        landsim version on the server.
    timings : dict of str to float
        Seconds per phase.
    metrics : dict of str to float
        Scalar measurements (NaN allowed).
    series : dict of str to ndarray
        Named arrays (any shape, dtype as stored).
    verdict : Verdict
    machine : str
        Where it ran.
    arm : {"claim", "control"}
    replicate : int
    """

    experiment: str
    kind: str
    config: dict
    seed: int
    version: str
    timings: dict
    metrics: dict
    series: dict = field(repr=False)
    verdict: Verdict
    machine: str = ""
    arm: str = "claim"
    replicate: int = 0

    @property
    def stem(self) -> str:
        """File stem: ``<experiment>-<kind>-<arm>-seed<seed>-r<replicate>``."""
        return (f"{self.experiment}-{self.kind}-{self.arm}-seed{self.seed}"
                f"-r{self.replicate}")

    def to_json_dict(self) -> dict:
        """Everything but the series arrays, as ``landsim.results.Result.to_json_dict``."""
        return {
            "format": RESULT_FORMAT, "experiment": self.experiment, "kind": self.kind,
            "arm": self.arm, "config": self.config, "seed": self.seed,
            "replicate": self.replicate, "version": self.version,
            "machine": self.machine, "timings": self.timings,
            "metrics": {k: v if math.isfinite(v) else repr(v)
                        for k, v in self.metrics.items()},
            "series": {k: {"dtype": str(v.dtype), "shape": list(v.shape)}
                       for k, v in self.series.items()},
            "verdict": {"holds": self.verdict.holds, "rule": self.verdict.rule,
                        "evidence": self.verdict.evidence},
        }

    def save(self, directory: str | PathLike) -> Path:
        """Write ``<stem>.json`` and ``<stem>.npz`` into ``directory`` (the files of
        ``landsim.results.save_result``); returns the JSON path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.stem}.json"
        np.savez(directory / f"{self.stem}.npz", **self.series)
        path.write_text(json.dumps(self.to_json_dict(), indent=1))
        return path
