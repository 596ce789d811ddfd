"""The serial and local executors (the Ray one: tests/test_ray_executor.py)."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest

from landsim.executors import (
    Cancelled,
    LocalExecutor,
    SerialExecutor,
    make_executor,
    unit_resources,
)
from landsim.executors.local import _thread_caps
from landsim.units import Unit, experiment_module, plan_units


def same(a, b) -> bool:
    return (a.metrics == b.metrics and a.verdict == b.verdict and a.config == b.config
            and a.series.keys() == b.series.keys()
            and all(np.array_equal(a.series[k], b.series[k]) for k in a.series))


def test_local_and_serial_give_the_same_results_and_a_raising_unit_stays_local():
    units = plan_units(["E1"], quick=True, replicates=2)
    wrong = Unit("E1", "toy", experiment_module("E2").quick_config())  # E2's config for E1
    units.insert(1, wrong)
    with SerialExecutor() as ex:
        serial = sorted(ex.submit(units), key=lambda d: d.index)
    seen = []
    with LocalExecutor(workers=2) as ex:
        local = sorted(ex.submit(units, progress=lambda i, f, m: seen.append(i)),
                       key=lambda d: d.index)
    assert [d.index for d in local] == list(range(len(units)))
    assert not local[1].ok and not serial[1].ok and "Error" in local[1].error
    for a, b in zip(serial, local):
        if a.ok:
            assert b.ok and same(a.result, b.result)
            assert b.result.node == b.node and b.node.split(":")[1].isdigit()
    assert set(seen) >= {0, 2, 3, 4}  # progress came back from the workers


def test_a_killed_worker_loses_no_unit():
    units = plan_units(["E2"], quick=True, replicates=1)  # 2 units of a few seconds
    killed = []
    with LocalExecutor(workers=2) as ex:
        def progress(i, fraction, message):
            if not killed and ex._pids:
                pid = next(iter(ex._pids))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        done = list(ex.submit(units, progress=progress))
    assert killed and len(done) == 2 and all(d.ok for d in done)
    assert all(int(d.node.split(":")[1]) not in killed for d in done)


def test_a_unit_whose_worker_keeps_dying_is_reported_not_retried_forever():
    units = plan_units(["E2"], quick=True, replicates=1)[:1]
    with LocalExecutor(workers=1, max_retries=1) as ex:
        def progress(i, fraction, message):
            for pid in list(ex._pids):
                os.kill(pid, signal.SIGKILL)

        done = list(ex.submit(units, progress=progress))
    assert len(done) == 1 and not done[0].ok
    assert "died 2 time(s) (max_retries 1)" in done[0].error


def test_cancel_from_another_thread_stops_the_workers():
    units = plan_units(["E2"], quick=True, replicates=3)
    ex = LocalExecutor(workers=2)
    pids = []

    def progress(i, fraction, message):
        if not pids and ex._pids:
            pids.extend(ex._pids)
            threading.Timer(0.2, ex.cancel).start()

    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        list(ex.submit(units, progress=progress))
    assert time.monotonic() - t0 < 30
    ex.close()
    time.sleep(0.5)
    for pid in pids:  # the workers are gone (reaped by the pool's shutdown)
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_spawned_workers_get_capped_blas_threads_and_the_parent_env_is_restored(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # a user's own setting is left alone
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        with _thread_caps(1):
            child = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS")
            mkl = pool.submit(os.getenv, "MKL_NUM_THREADS")
        assert (child.result(), mkl.result()) == ("1", "7")
    assert "OPENBLAS_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "7"


def test_resources_and_names():
    toy = plan_units(["E1"], quick=True, replicates=1)[0]
    assert unit_resources(toy) == {"num_cpus": 1, "num_gpus": 0}

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        device: str = "cuda"

    assert unit_resources(Unit("E1", "real", Cfg())) == {"num_cpus": 1, "num_gpus": 1}
    assert unit_resources(Unit("E1", "real", Cfg("cpu")))["num_gpus"] == 0
    with pytest.raises(ValueError, match="executor must be one of"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers must be"):
        LocalExecutor(workers=0)
    with pytest.raises(ValueError, match=r"units\[0\] must be a landsim.units.Unit"):
        list(SerialExecutor().submit(["E1"]))
