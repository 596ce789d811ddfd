"""A real landsim server (landsim_server.app) in a background event loop, for the client
tests: started on 127.0.0.1 port 0 (or a given port, to restart it in place), with a
token, and stopped at the end."""

from __future__ import annotations

import asyncio
import threading

import pytest
from landsim_server.app import ServerOptions, start_server

TOKEN = "test-token"


class ServerThread:
    """One running server; ``stop()`` then ``start(port=...)`` restarts it in place."""

    def __init__(self, data_dir, **options) -> None:
        self.data_dir = str(data_dir)
        self.token = TOKEN
        self.options = {"token": TOKEN, "grace_s": 0.5, "compute_threads": 2, **options}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = None
        self.port = 0

    def _run(self, coro, timeout_s: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def start(self, port: int = 0, **options) -> int:
        self.options.update(options)
        opts = ServerOptions(data_dir=self.data_dir, port=port, **self.options)

        async def go():
            running = await start_server(opts)
            await running.ready
            return running

        # the first start in a fresh checkout compiles the Numba kernels (cold cache)
        self.running = self._run(go(), timeout_s=900.0)
        self.port = self.running.port
        return self.port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, grace_s: float = 0.2) -> None:
        if self.running is not None:
            self._run(self.running.stop(grace_s))
            self.running = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server: one simulator worker, token TOKEN."""
    s = ServerThread(tmp_path_factory.mktemp("landsim-server"), n_workers=1)
    s.start()
    yield s
    s.close()


@pytest.fixture
def make_server(tmp_path):
    """A factory of extra servers (closed at the end of the test): make_server(**options)."""
    made = []

    def make(**options) -> ServerThread:
        s = ServerThread(tmp_path / f"server-{len(made)}", **options)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
