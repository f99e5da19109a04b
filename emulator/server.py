"""The emulator as one object: replayed exchange, TLS stream server and REST server on 127.0.0.1."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from core.errors import EmulatorError
from emulator.certs import self_signed
from emulator.exchange import Exchange
from emulator.faults import Fault
from emulator.replay import timeline
from emulator.rest import RestServer
from emulator.stream import StreamServer


class Emulator:
    """A local Betfair exchange replaying recordings; `url` is what `--exchange` takes."""

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
    ) -> None:
        self.exchange = Exchange(timeline(paths, max_gap), speed, username, password, app_key)
        self._tmp = None
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="paddock-emulator-")
            cert_dir = Path(self._tmp.name)
        self.cert, self.key = self_signed(cert_dir)
        try:
            self.rest = RestServer(self.exchange, port=port)
            self.stream = StreamServer(self.exchange, self.cert, self.key, port=port + 1 if port else 0)
        except OSError as exc:
            raise EmulatorError(f"cannot listen on 127.0.0.1:{port} or {port + 1}: {exc.strerror}") from None
        self._faults = list(faults or [])
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The exchange URL for live, paper and record: REST base, with the stream port when not REST port + 1."""
        base = f"http://127.0.0.1:{self.rest.port}"
        return base if self.stream.port == self.rest.port + 1 else f"{base}?stream_port={self.stream.port}"

    def start(self) -> Emulator:
        """Serve in background threads."""
        for server in (self.rest, self.stream):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.exchange.start()
        if self._faults:
            self.exchange.add_faults(self._faults)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self.exchange.stop()
        for server in (self.rest, self.stream):
            server.shutdown()
            server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
