"""A real-network job end to end: the server (in its own process, with a torch worker) runs
replicate 1 of the control arm of real E6 on its smoke config, and the client watches it
and fetches the result."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

from landsim_client import Client  # noqa: E402

from landsim.client_records import result_from_record  # noqa: E402
from landsim.real.experiments import e6_weight_averaging as E6  # noqa: E402

#: The server process: prints its port once serving, stops on a line on stdin, then prints
#: whether torch was ever imported in it.
SERVER = textwrap.dedent("""
    import asyncio, json, sys
    from landsim_server.app import ServerOptions, start_server

    async def main(data_dir):
        running = await start_server(ServerOptions(data_dir=data_dir, n_workers=1,
                                                   torch_worker=True))
        try:
            await running.ready
            print(json.dumps({"port": running.port}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        finally:
            await running.stop(2.0)
        print(json.dumps({"torch": "torch" in sys.modules}), flush=True)

    asyncio.run(main(sys.argv[1]))
""")


def smoke_overrides() -> dict:
    """Every field of E6's smoke config, as JSON values (the service has no smoke option)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(E6.smoke_config()).items()}


def test_real_e6_job_runs_through_the_service(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "data")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()[-3000:] if proc.poll() is not None else "no port"
        port = json.loads(line)["port"]
        with Client(f"127.0.0.1:{port}", timeout=30) as client:
            job = client.submit("E6", kind="real", config=smoke_overrides(), seed=0,
                                replicate=1, arm="control")
            assert job.kind == "real" and job.experiment == "E6"
            assert (job.replicate, job.arm) == (1, "control")
            events = list(client.watch(job.id, timeout=120))
            assert events[-1].state == "SUCCEEDED", events[-1].job.error
            assert all(0.0 <= e.progress <= 1.0 for e in events)
            result = result_from_record(client.result(job.id))  # a client JobResult
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1]) == {"torch": False}
    assert result.kind == "real" and result.experiment == "E6" and result.seed == 0
    assert (result.arm, result.replicate, result.stem) == ("control", 1,
                                                           "E6-real-control-seed0-r1")
    cfg = E6.Config(**result.config)
    assert cfg == E6.control_config(E6.smoke_config())  # the worker ran the control
    verdict, metrics = E6.judge(cfg, result.series)  # recomputed from the stored series
    assert verdict == result.verdict
    for key, value in metrics.items():
        assert result.metrics[key] == pytest.approx(value)
