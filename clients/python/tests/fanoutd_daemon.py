"""Test helpers: a real fanoutd (FANOUTD_BIN, or built from the worktree)
and a minimal WebSocket subscriber on the standard library."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
READY_TIMEOUT = 15.0


class Daemon:
    """fanoutd on 127.0.0.1:0 with its socket in a temp dir, a secret and an API key."""

    def __init__(self, secret: str, api_key: str, env: Optional[Dict[str, str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="fanoutd-py-")
        self.socket_path = os.path.join(self.dir, "f.sock")
        bin_path = os.environ.get("FANOUTD_BIN") or self._build()
        e = {k: v for k, v in os.environ.items() if not k.startswith("FANOUTD_")}
        e.update({"FANOUTD_AUTH_HMAC_SECRET": secret, "FANOUTD_API_KEY": api_key})
        e.update(env or {})
        self.proc = subprocess.Popen(
            [bin_path, "--listen", "127.0.0.1:0", "--socket", self.socket_path],
            env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.log: List[str] = []
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        self.port = self._wait_started(lines)

    def _build(self) -> str:
        out = os.path.join(self.dir, "fanoutd")
        subprocess.run(["go", "build", "-o", out, "./cmd/fanoutd"], cwd=REPO, check=True, timeout=120)
        return out

    def _drain(self, lines: "queue.Queue[Optional[str]]") -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def _wait_started(self, lines: "queue.Queue[Optional[str]]") -> int:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if '"fanoutd started"' in line:
                return int(json.loads(line)["listen"].rsplit(":", 1)[1])
        self.stop()
        raise RuntimeError("fanoutd did not start:\n" + "".join(self.log))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """A WebSocket client of the daemon: text frames only, enough for tests."""

    def __init__(self, port: int, token: str, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Protocol: fanout.v1, bearer.%s\r\n\r\n" % (port, key, token)
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("upgrade refused: %r" % head)
        self.expect(lambda m: m.get("type") == "welcome")

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the daemon")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, msg: Dict[str, Any]) -> None:
        data = json.dumps(msg).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def next(self) -> Dict[str, Any]:
        """The next text message, parsed; pings and other control frames are skipped."""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8))[0]
            payload = self._take(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("close frame: %r" % payload)
            if opcode == 0x1:
                return json.loads(payload)

    def expect(self, pred: Any) -> Dict[str, Any]:
        """The first message matching pred; others are dropped."""
        for _ in range(1000):
            m = self.next()
            if pred(m):
                return m
        raise AssertionError("no matching message in 1000")

    def subscribe(self, channel: str) -> None:
        self.send({"action": "subscribe", "channel": channel, "id": channel})
        self.expect(lambda m: m.get("type") == "subscribed" and m.get("channel") == channel)

    def close(self) -> None:
        self.sock.close()
