"""The server as a process: `python -m landsim_server` and `landsim serve`."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

PREFIX = "landsim server listening on "


def _spawn(args, tmp_path, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "LANDSIM_TOKEN"}
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, *args, "--port", "0", "--data-dir",
                             str(tmp_path / "data"), "--workers", "0", "--grace", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _address(proc) -> str:
    line = proc.stdout.readline()  # the first line, flushed once bound
    assert line.startswith(PREFIX), (line, proc.stderr.read() if proc.poll() is not None
                                     else "")
    host, port = line[len(PREFIX):].strip().rsplit(":", 1)
    assert host == "127.0.0.1" and 0 < int(port) < 65536
    return f"{host}:{port}"


def _wait_serving(address: str, timeout_s: float = 900.0) -> None:  # cold cache: compiles
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + timeout_s
        while True:
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
            assert status == health_pb2.HealthCheckResponse.NOT_SERVING
            assert time.monotonic() < deadline, "never SERVING"
            time.sleep(0.05)


def _terminate(proc, timeout_s: float = 15.0) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("args", [["-m", "landsim_server"], ["-m", "landsim.cli", "serve"]],
                         ids=["python-m", "landsim-serve"])
def test_serve_prints_port_serves_and_stops_on_sigterm(args, tmp_path):
    proc = _spawn(args, tmp_path)
    try:
        address = _address(proc)
        _wait_serving(address)
        with grpc.insecure_channel(address) as channel:
            stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
            made = stub.CreateLandscape(pb.CreateLandscapeRequest(random=pb.RandomLandscapeParams(
                dim=10, n_wedges=2, n_short=[3])), timeout=30)
            assert len(made.id) == 32
        started = time.monotonic()
        assert _terminate(proc) == 0
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "data" / "landscapes" / f"{made.id}.npz").exists()


def test_token_from_environment(tmp_path):
    proc = _spawn(["-m", "landsim_server"], tmp_path, {"LANDSIM_TOKEN": "from-env"})
    try:
        address = _address(proc)
        _wait_serving(address)  # health needs no token
        with grpc.insecure_channel(address) as channel:
            stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                stub.ListLandscapes(pb.ListLandscapesRequest(), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            stub.ListLandscapes(pb.ListLandscapesRequest(), timeout=10,
                                metadata=[("authorization", "Bearer from-env")])
        assert _terminate(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_option_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "landsim_server", "--port", "70000",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "port must be an integer in [0, 65535]" in proc.stderr


def test_import_landsim_does_not_import_grpc():
    code = ("import sys, landsim, landsim.cli, landsim.geometry; print(sorted(m for m in "
            "sys.modules if m.split('.')[0] in ('grpc', 'landsim_server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_executor_ray_without_ray_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    from landsim_server.__main__ import main

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real_find_spec(name, *a))
    with pytest.raises(SystemExit) as exit_:
        main(["--executor", "ray", "--data-dir", str(tmp_path)])
    assert exit_.value.code == 2
    assert 'pip install "landsim[ray]"' in capsys.readouterr().err


def test_executor_must_be_local_or_ray(tmp_path, capsys):
    from landsim_server.__main__ import main

    with pytest.raises(SystemExit):
        main(["--executor", "dask", "--data-dir", str(tmp_path)])
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_data_root_must_be_an_existing_directory(tmp_path, capsys):
    from landsim_server.__main__ import main

    with pytest.raises(SystemExit):
        main(["--data-root", str(tmp_path / "nope"), "--data-dir", str(tmp_path)])
    assert "data_root must be an existing directory" in capsys.readouterr().err
