"""Storage that hangs: a loopback server that accepts connections and never answers, optionally in front of a real one."""

import contextlib
import socket
import threading


class HangingProxy:
    """Forwards to `upstream` (host, port) until `hang` is set; then accepts and never answers. No upstream: always hangs."""

    def __init__(self, upstream: tuple[str, int] | None = None):
        self.upstream = upstream
        self.hang = threading.Event()
        if upstream is None:
            self.hang.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._closed = threading.Event()

    def __enter__(self) -> "HangingProxy":
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        for sock in list(self._held):
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(client)
            if not self.hang.is_set():
                threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), socket.create_connection(self.upstream, timeout=10) as upstream:
            self._held.append(upstream)
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            self._pump(client, upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Copy bytes one way until either side closes; once hanging, swallow them (open connections hang too)."""
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.hang.is_set():
                    target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
