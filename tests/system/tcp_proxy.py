"""A TCP proxy the test controls: forwards to a target until told to cut every connection and refuse
new ones for a while, as a network partition or a broker restart would, or to lose one request, or
the answer to it, with the connection that carried it, as a server dying at that moment would."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down_until = 0.0
        self.cuts = 0
        self._closed = False
        self._marker: bytes | None = None
        self._forward_marked = True
        self._muted: set[socket.socket] = set()
        self.lost = 0
        threading.Thread(target=self._accept, name="proxy", daemon=True).start()

    def cut(self, seconds: float) -> None:
        """Reset every live connection now; refuse new ones (closed at once) for `seconds`."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            self.cuts += 1
            for sock in self._open:
                _shut(sock)

    def lose(self, marker: bytes, *, after_sending: bool) -> None:
        """The next request whose bytes hold `marker` dies with its connection: after reaching the
        target with its answer lost (after_sending), or before reaching it at all."""
        with self._lock:
            self._marker, self._forward_marked = marker, after_sending

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for sock in self._open:
                _shut(sock)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                _shut(client)
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                with self._lock:
                    marked = self._marker is not None and self._marker in chunk
                    if marked:
                        self._marker = None
                        self.lost += 1
                        self._muted.add(source)
                    muted = sink in self._muted  # the answer to a lost request: never delivered
                if marked and not self._forward_marked:
                    break
                if not muted:
                    sink.sendall(chunk)
                if marked:
                    time.sleep(0.5)  # the target has done what was asked; the answer is held back
                    break
        for sock in (source, sink):
            _shut(sock)
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
