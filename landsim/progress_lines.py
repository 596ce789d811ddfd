"""The command line's progress lines, and running a list of units on an executor with them.

``landsim reproduce`` hands its units to :func:`run_units`, which stores each result as
its unit finishes and prints one :class:`ProgressLine` per unit.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TextIO

__all__ = ["ProgressLine", "run_units"]


class ProgressLine:
    """The ``progress(fraction, message)`` callback of one experiment run.

    On a terminal it redraws a single line (carriage return) with a bar; elsewhere it
    writes one plain log line per message: id, percent, elapsed seconds, message.
    """

    def __init__(self, experiment_id: str, stream: TextIO, tty: bool, width: int = 28) -> None:
        self.id = experiment_id
        self.stream = stream
        self.tty = tty
        self.width = width
        self.start = time.perf_counter()
        self.fraction = 0.0
        self.message = "starting"
        self._shown = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, fraction: float, message: str) -> None:
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.message = str(message)
        if self.tty:
            self._draw(self.message)
        else:
            self.stream.write(f"{self.id} {100 * self.fraction:3.0f}% {self.elapsed:7.1f} s  "
                              f"{self.message}\n")
            self.stream.flush()

    def _draw(self, message: str) -> None:
        import shutil

        filled = round(self.width * self.fraction)
        line = (f"{self.id} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{100 * self.fraction:3.0f}% {self.elapsed:6.1f} s  {message}")
        columns = shutil.get_terminal_size((100, 20)).columns
        line = line[:max(columns - 1, 20)]
        self.stream.write("\r" + line.ljust(self._shown))
        self.stream.flush()
        self._shown = len(line)

    def finish(self, message: str) -> None:
        """End the progress display with a final message (on its own line)."""
        if self.tty:
            self._draw(message)
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.id} {100 * self.fraction:3.0f}% {self.elapsed:7.1f} s  "
                              f"{message}\n")
        self.stream.flush()


def run_units(runner, units, out: Path, failed: dict, skipped: dict, stream: TextIO,
               err: TextIO, tty: bool) -> int | None:
    """Run ``units`` on ``runner``, store each result as it finishes and print its line.

    A claim with a unit that failed is not aggregated: its later results are dropped and
    counted in ``skipped``. Returns 130 if interrupted (Ctrl-C), else None.
    """
    from .executors import Cancelled
    from .results import save_result

    lines: dict[int, ProgressLine] = {}

    def line(i: int) -> ProgressLine:
        if i not in lines:
            lines[i] = ProgressLine(units[i].label, stream, tty)
        return lines[i]

    def progress(i: int, fraction: float, message: str) -> None:
        if units[i].claim not in failed:
            line(i)(fraction, message)

    try:
        for done in runner.submit(units, progress=progress):
            unit = done.unit
            if unit.claim in failed:  # a claim whose unit raised is not aggregated
                skipped[unit.claim] = skipped.get(unit.claim, 0) + 1
                continue
            bar = line(done.index)
            path = None
            error = done.error
            if done.ok:
                try:
                    path = save_result(done.result, out)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc()
            if error:
                first = error.splitlines()[0]
                bar.finish(f"FAILED: {first}")
                failed[unit.claim] = f"{unit.label}: {first}"
                err.write(f"error: {unit.label} raised {first}\n")
                err.write("".join("  " + t for t in error.splitlines(True)[1:]))
                err.flush()
                continue
            bar.fraction = 1.0
            mark = "rule holds" if done.result.verdict.holds else "rule fails"
            where = f", on {done.node}" if done.node and runner.name == "ray" else ""
            bar.finish(f"{mark} (saved {path.name}{where})")
    except KeyboardInterrupt:
        runner.cancel()
        err.write("interrupted: the results stored so far are kept\n")
        err.flush()
        return 130
    except Cancelled as exc:
        err.write(f"cancelled: {exc}\n")
        err.flush()
        return 130
    return None
