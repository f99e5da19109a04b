"""The emulator as one object: replayed exchange, TLS stream server and REST server on 127.0.0.1.

Both servers run on one asyncio event loop in one background thread; the replay and the fault clock
run on threads of their own and hand stream messages to the loop thread-safely."""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
import threading
from pathlib import Path

import anyio.to_thread

from core.errors import EmulatorError
from emulator.catalogue import load_names
from emulator.certs import local_ca
from emulator.exchange import Exchange
from emulator.faults import Fault
from emulator.probe import Probe
from emulator.projection import approximation
from emulator.replay import timeline
from emulator.restserver import RestServer
from emulator.stream import AUTH_SECONDS
from emulator.streamserver import StreamServer

logger = logging.getLogger("paddock.emulator")
HOST = "127.0.0.1"
BACKLOG = 128
THREADS = 200  # REST calls in the threadpool at once: in-play bet delays and `delay` faults each hold one
STOP_WAIT = 0.5  # seconds stop() gives calls still running after the exchange stopped


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _listen_pair(port: int) -> tuple[socket.socket, socket.socket]:
    """REST and stream sockets: on port and port + 1, or two free ports for port 0."""
    try:
        rest = _listen(port)
    except OSError as exc:
        raise EmulatorError(f"cannot listen on {HOST}:{port} or {port + 1}: {exc.strerror}") from None
    try:
        return rest, _listen(port + 1 if port else 0)
    except OSError as exc:
        rest.close()
        raise EmulatorError(f"cannot listen on {HOST}:{port} or {port + 1}: {exc.strerror}") from None


class Emulator:
    """A local Betfair exchange replaying recordings; `url` is what `--exchange` takes.

    auth_timeout: seconds a stream connection may stay unauthenticated after its TLS handshake before it is closed.
    probe: records when market updates are written to the stream sockets and when calls arrive.
    catalogue: a Betfair listMarketCatalogue JSON file naming events, markets and runners.
    ca_out: where to write the local CA's certificate, for clients that verify the stream's (it signs the server's).
    stream_plain_port: also serve the stream without TLS on 127.0.0.1 at this port (0: a free one)."""

    def __init__(
        self,
        paths: list[str | Path],
        *,
        port: int = 0,
        speed: float = 1.0,
        max_gap: float | None = None,
        faults: list[Fault] | None = None,
        username: str | None = None,
        password: str | None = None,
        app_key: str | None = None,
        cert_dir: Path | None = None,
        auth_timeout: float = AUTH_SECONDS,
        probe: Probe | None = None,
        catalogue: str | Path | None = None,
        ca_out: str | Path | None = None,
        stream_plain_port: int | None = None,
    ) -> None:
        names = load_names(catalogue) if catalogue is not None else None
        self.exchange = Exchange(timeline(paths, max_gap), speed, username, password, app_key, probe, names)
        self._tmp = None
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="paddock-emulator-")
            cert_dir = Path(self._tmp.name)
        certs = local_ca(cert_dir)
        self.ca, self.cert, self.key = certs.ca, certs.cert, certs.key
        if ca_out is not None:
            Path(ca_out).write_bytes(self.ca.read_bytes())
        rest_sock, stream_sock = _listen_pair(port)
        self.rest = RestServer(self.exchange, rest_sock)
        self.stream = StreamServer(self.exchange, self.cert, self.key, stream_sock, auth_timeout)
        self.plain: StreamServer | None = None
        if stream_plain_port is not None:
            try:
                plain_sock = _listen(stream_plain_port)
            except OSError as exc:
                rest_sock.close()
                stream_sock.close()
                raise EmulatorError(f"cannot listen on {HOST}:{stream_plain_port}: {exc.strerror}") from None
            self.plain = StreamServer(self.exchange, None, None, plain_sock, auth_timeout)
        self._faults = list(faults or [])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._serving = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """The exchange URL for live, paper and record: REST base, with the stream port when not REST port + 1."""
        base = f"http://{HOST}:{self.rest.port}"
        return base if self.stream.port == self.rest.port + 1 else f"{base}?stream_port={self.stream.port}"

    def notes(self) -> list[str]:
        """What the emulator approximates for its recordings (said at start by `emulate`, logged by start())."""
        note = approximation(self.exchange.catalogue.recorded)
        return [note] if note else []

    def start(self) -> Emulator:
        """Serve on a background thread; the replay starts with the first market subscription."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="emulator-servers", daemon=True)
        self._thread.start()
        self._serving.wait()
        if self._failure is not None:
            self.stop()
            raise EmulatorError(f"the emulator's servers did not start: {self._failure}") from self._failure
        for note in self.notes():
            logger.info("%s", note)
        self.exchange.start()
        if self._faults:
            self.exchange.add_faults(self._faults)
        return self

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - start() reports it
            self._failure = exc
        finally:
            self._serving.set()  # also when serving failed to start: start() must not wait forever
            _finish(loop)

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await self.stream.start()
        if self.plain is not None:
            await self.plain.start()
        rest = asyncio.create_task(self.rest.serve())
        self._serving.set()
        await self._stopping.wait()
        self.rest.stop()
        await self.stream.stop()
        if self.plain is not None:
            await self.plain.stop()
        await rest

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self.exchange.stop()  # first: bet delays and `delay` faults end, so calls in the threadpool return
        if self._thread is not None:
            if self._stopping is not None:
                try:
                    self._loop.call_soon_threadsafe(self._stopping.set)
                except RuntimeError:  # the loop has already closed
                    pass
            self._thread.join(timeout=5)
        for sock in (self.rest.sock, self.stream.sock, *([self.plain.sock] if self.plain else [])):
            sock.close()  # closed already when they were served; not when start() was never called
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop (giving calls still in the threadpool a moment), then close it."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=STOP_WAIT))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
