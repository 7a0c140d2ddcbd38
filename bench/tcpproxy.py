"""A TCP proxy that can be cut: the stand-in for a dependency's outage in benchmarks.

``proxy.cut()`` closes every open connection and refuses new ones (connect resets),
as a crashed server or a partitioned network would; ``proxy.restore()`` lets them in
again. The real server behind it is never touched, so others sharing it are not
disturbed.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = threading.Event()
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                self._forget(s)

    def _forget(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            sockets = list(self._open)
        for s in sockets:
            self._forget(s)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._stopped.set()
        self.cut()
        self._listener.close()


def _reset(s: socket.socket) -> None:
    """Close with RST, as a refused connection looks to the client."""
    with contextlib.suppress(OSError):
        s.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
    s.close()
