"""What the benchmarks say about the machine they ran on (imported by the bench scripts,
which run with this folder on ``sys.path``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_description"]


def cpu_description() -> str:
    """``<CPU model>, <n> cores (<m> usable)``: the model from /proc/cpuinfo where there is
    one, and the CPUs this process may run on."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return f"{model}, {os.cpu_count()} cores ({usable} usable)"
