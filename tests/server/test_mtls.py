"""Mutual TLS: with ``tls_client_ca`` (``--tls-client-ca``) the server takes only
connections that present a client certificate signed by that CA; health needs one too; a
token still applies on top. Certificates are made by the test with the openssl tool."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_client import Client, RetryPolicy
from landsim_client.errors import Unauthenticated, Unavailable
from landsim_server.app import ServerOptions, start_server
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="needs the openssl command")
TOKEN = "mtls-token"
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl("req", "-x509", *EC, "-days", "1", "-subj", f"/CN={name}", "-keyout", str(key),
            "-out", str(cert))
    return cert, key


def make_leaf(directory: Path, name: str, ca: tuple[Path, Path], usage: str) -> tuple[str, str]:
    """A certificate for ``name`` signed by ``ca`` (extended key usage ``usage``)."""
    cert, key, csr = (directory / f"{name}.pem", directory / f"{name}.key",
                      directory / f"{name}.csr")
    ext = directory / f"{name}.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   f"extendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n")
    openssl("req", *EC, "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
            "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(cert))
    return str(cert), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server and a client certificate it signed, and a client certificate of
    another CA."""
    d = tmp_path_factory.mktemp("pki")
    ca, rogue = make_ca(d, "ca"), make_ca(d, "rogue-ca")
    return {"ca": str(ca[0]), "server": make_leaf(d, "server", ca, "serverAuth"),
            "client": make_leaf(d, "client", ca, "clientAuth"),
            "rogue": make_leaf(d, "rogue", rogue, "clientAuth")}


class ServerThread:
    """A landsim server with mutual TLS (and a token) in its own event loop thread."""

    def __init__(self, **options) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = self._run(start_server(ServerOptions(n_workers=0, compute_threads=1,
                                                            **options)))
        self._run(self._ready(), 900)  # a cold Numba cache compiles the kernels first
        self.address = f"127.0.0.1:{self.running.port}"

    def _run(self, coro, timeout=120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _ready(self) -> None:
        await self.running.ready

    def close(self) -> None:
        self._run(self.running.stop(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    cert, key = pki["server"]
    srv = ServerThread(data_dir=str(tmp_path_factory.mktemp("data")), token=TOKEN,
                       tls_cert=cert, tls_key=key, tls_client_ca=pki["ca"])
    yield srv
    srv.close()


def credentials(pki, who: str | None) -> grpc.ChannelCredentials:
    roots = Path(pki["ca"]).read_bytes()
    if who is None:
        return grpc.ssl_channel_credentials(root_certificates=roots)
    cert, key = pki[who]
    return grpc.ssl_channel_credentials(root_certificates=roots,
                                        private_key=Path(key).read_bytes(),
                                        certificate_chain=Path(cert).read_bytes())


def health_check(address: str, creds: grpc.ChannelCredentials) -> int:
    with grpc.secure_channel(address, creds) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                         timeout=5).status


def list_call(address: str, creds: grpc.ChannelCredentials, token: str | None = TOKEN):
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.secure_channel(address, creds) as channel:
        return landscape_pb2_grpc.LandscapeServiceStub(channel).ListLandscapes(
            pb.ListLandscapesRequest(), timeout=5, metadata=metadata)


def test_a_client_certificate_of_the_ca_and_the_token_get_in(server, pki):
    good = credentials(pki, "client")
    assert health_check(server.address, good) == health_pb2.HealthCheckResponse.SERVING
    assert list(list_call(server.address, good).landscapes) == []
    with pytest.raises(grpc.RpcError) as info:  # the certificate does not replace the token
        list_call(server.address, good, token=None)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("who", [None, "rogue"], ids=["no-certificate", "other-ca"])
def test_a_client_without_a_good_certificate_is_refused_even_for_health(server, pki, who):
    creds = credentials(pki, who)
    for call in (lambda: health_check(server.address, creds),
                 lambda: list_call(server.address, creds)):
        with pytest.raises(grpc.RpcError) as info:  # the TLS handshake fails
            call()
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_is_refused(server):
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                      timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_client_library_presents_a_client_certificate(server, pki):
    cert, key = pki["client"]
    with Client(server.address, token=TOKEN, tls=pki["ca"], tls_client_cert=cert,
                tls_client_key=key) as c:
        assert c.health() == "SERVING"
        lid = c.create_landscape(dim=6, n_wedges=1, n_short=2, seed=0)
        assert [ls.id for ls in c.list_landscapes()] == [lid]
    with Client(server.address, token="wrong", tls=pki["ca"], tls_client_cert=cert,
                tls_client_key=key) as c:
        with pytest.raises(Unauthenticated):
            list(c.list_landscapes())
    rogue_cert, rogue_key = pki["rogue"]
    for extra in ({}, {"tls_client_cert": rogue_cert, "tls_client_key": rogue_key}):
        with Client(server.address, token=TOKEN, tls=pki["ca"], timeout=3.0,
                    retry=RetryPolicy(max_attempts=1), **extra) as c:
            with pytest.raises(Unavailable):
                list(c.list_landscapes())


def test_client_certificate_options_are_checked(pki):
    cert, key = pki["client"]
    with pytest.raises(ValueError, match="both tls_client_cert and tls_client_key"):
        Client("127.0.0.1:1", tls=pki["ca"], tls_client_cert=cert)
    with pytest.raises(ValueError, match="needs tls"):
        Client("127.0.0.1:1", tls_client_cert=cert, tls_client_key=key)


def test_server_options_need_tls_for_client_certificates(pki):
    with pytest.raises(ValueError, match="tls_client_ca .* needs TLS"):
        ServerOptions(tls_client_ca=pki["ca"])
    with pytest.raises(ValueError, match="tls_client_ca must be a non-empty path"):
        ServerOptions(tls_cert="c", tls_key="k", tls_client_ca="")


def test_serve_with_tls_client_ca_on_the_command_line(pki, tmp_path):
    cert, key = pki["server"]
    env = {k: v for k, v in os.environ.items() if k != "LANDSIM_TOKEN"}
    bad = subprocess.run([sys.executable, "-m", "landsim_server", "--tls-client-ca", pki["ca"],
                          "--data-dir", str(tmp_path / "bad")], capture_output=True, text=True,
                         timeout=60, env=env)
    assert bad.returncode == 2 and "needs TLS" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "landsim_server", "--port", "0",
                             "--data-dir", str(tmp_path / "data"), "--workers", "0",
                             "--grace", "2", "--tls-cert", cert, "--tls-key", key,
                             "--tls-client-ca", pki["ca"]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("landsim server listening on "), (
            line, proc.stderr.read() if proc.poll() is not None else "")
        port = line.strip().rsplit(":", 1)[1]
        address = f"127.0.0.1:{port}"
        good = credentials(pki, "client")
        assert health_check(address, good) == health_pb2.HealthCheckResponse.SERVING
        assert list(list_call(address, good, token=None).landscapes) == []  # no token set
        with pytest.raises(grpc.RpcError) as info:
            health_check(address, credentials(pki, None))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_command_line_client_presents_a_client_certificate(server, pki, capsys):
    from landsim_client.cli import main as client_main

    cert, key = pki["client"]
    base = ["--target", server.address, "--token", TOKEN, "--tls-ca", str(pki["ca"]),
            "--timeout", "3"]
    assert client_main(base + ["--tls-client-cert", str(cert), "--tls-client-key", str(key),
                               "list"]) == 0
    capsys.readouterr()
    assert client_main(base + ["list"]) == 1  # no certificate: the handshake fails
    assert "UNAVAILABLE" in capsys.readouterr().err
    assert client_main(["--target", server.address, "--tls-client-cert", str(cert),
                        "--tls-client-key", str(key), "list"]) == 2  # certificate needs TLS
    assert "tls" in capsys.readouterr().err
