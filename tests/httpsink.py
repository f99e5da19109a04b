"""A tiny local HTTP server (http.server on a thread) that records every POST: a Sentry or webhook endpoint."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as it arrived: path, headers and the body, decompressed."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)

    def envelope(self) -> list[dict]:
        """A Sentry envelope: its header line and each item's header and payload, parsed."""
        lines = self.body.split(b"\n")
        parsed = [json.loads(lines[0])]
        i = 1
        while i < len(lines) and lines[i].strip():
            item = json.loads(lines[i])
            payload = lines[i + 1]
            item["payload"] = (
                json.loads(payload) if item.get("type") in ("event", "session", "client_report") else payload
            )
            parsed.append(item)
            i += 2
        return parsed


class HttpSink:
    """Records POSTs; answers `status`; holds each answer until `release` is set when `hold` is true."""

    def __init__(self, status: int = 200, hold: bool = False) -> None:
        self.status = status
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                with sink.arrived:
                    sink.received.append(Received(self.path, dict(self.headers), body))
                    sink.arrived.notify_all()
                sink.release.wait(30)
                self.send_response(sink.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, name="http-sink", daemon=True)

    def wait(self, condition, timeout: float = 10.0, what: str = "a request") -> list[Received]:
        """Wait until condition(received) holds; fail naming what did not arrive."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: condition(self.received), timeout):
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {self.received!r}")
            return list(self.received)

    def events(self) -> list[dict]:
        """Every Sentry event payload received so far."""
        return [
            item["payload"]
            for r in list(self.received)
            if r.path.endswith("/envelope/")
            for item in r.envelope()[1:]
            if item.get("type") == "event"
        ]

    def __enter__(self) -> HttpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
