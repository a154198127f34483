"""A loopback TCP proxy in front of the test PostgreSQL that counts what the app sends, as the wire shows it.

Per connection: statements (simple Query and Execute messages), COMMITs among them, and round trips (each time
the server answers after the client sent something since its last answer). A pipeline of many statements ended
by one Sync is one round trip here, as it is on the network. The app must connect with sslmode=disable (and no
GSS encryption) so that the frontend messages can be read.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class Traffic:
    """What one client connection did since the last reset."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0
    round_trips: int = 0


class _Reader:
    """Splits the frontend byte stream into messages and keeps the prepared statements' texts."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic, self.buffer, self.started = traffic, b"", False
        self.statements: dict[bytes, str] = {}
        self.portals: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:  # the untyped startup packet (or an SSL/GSS request before it)
                if len(self.buffer) < 8:
                    return
                (length, code) = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                self.started = code not in (80877103, 80877104)  # SSLRequest, GSSENCRequest: another one follows
                continue
            if len(self.buffer) < 5:
                return
            kind, length = self.buffer[:1], struct.unpack("!i", self.buffer[1:5])[0]
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5:1 + length], self.buffer[1 + length:]
            self._message(kind, body)

    def _message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self._statement(body.split(b"\0", 1)[0].decode())
        elif kind == b"P":
            name, query = body.split(b"\0", 2)[:2]
            self.statements[name] = query.decode()
        elif kind == b"B":
            portal, statement = body.split(b"\0", 2)[:2]
            self.portals[portal] = self.statements.get(statement, "?")
        elif kind == b"E":
            self._statement(self.portals.get(body.split(b"\0", 1)[0], "?"))

    def _statement(self, text: str) -> None:
        self.traffic.statements.append(" ".join(text.split())[:80])
        if text.strip().upper().startswith("COMMIT"):
            self.traffic.commits += 1


class CountingProxy:
    """Listen on 127.0.0.1 (a free port) and forward every connection to the server at `target`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.traffic: list[Traffic] = []
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        """Forget what was counted so far (connections stay open)."""
        with self.lock:
            for t in self.traffic:
                t.statements.clear()
                t.commits = t.round_trips = 0

    def used(self) -> list[Traffic]:
        """The connections that sent something since the last reset."""
        with self.lock:
            return [Traffic(list(t.statements), t.commits, t.round_trips) for t in self.traffic
                    if t.statements or t.round_trips]

    def close(self) -> None:
        self.closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            traffic = Traffic()
            with self.lock:
                self.traffic.append(traffic)
            threading.Thread(target=self._pump, args=(client, server, traffic), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket, traffic: Traffic) -> None:
        reader, waiting = _Reader(traffic), False  # waiting: the client sent since the server last answered
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [])
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        with self.lock:
                            reader.feed(data)
                        waiting = True
                        server.sendall(data)
                    else:
                        if waiting:
                            with self.lock:
                                traffic.round_trips += 1
                            waiting = False
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
