"""fanoutd-publish against a real daemon: its Unix socket, its TCP API with
api.key, and a WebSocket subscriber that sees what was delivered. The retry
tests put a small proxy or a silent server in front of it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from typing import List

from fanoutd_publish import (
    ApiError,
    AuthError,
    FanoutConnectionError,
    FanoutTimeoutError,
    InvalidEventsError,
    PayloadTooLargeError,
    Publisher,
    UnavailableError,
    mint_token,
)

from fanoutd_daemon import Daemon, Subscriber

SECRET = "python-test-secret-0123456789abcdef"
API_KEY = "python-test-api-key-0123456789"
d: Daemon


def setUpModule() -> None:
    global d
    d = Daemon(SECRET, API_KEY, env={"FANOUTD_LIMITS_MAX_PUBLISH_BYTES": "4096"})


def tearDownModule() -> None:
    d.stop()


def subscriber(*channels: str) -> Subscriber:
    s = Subscriber(d.port, mint_token(SECRET, "bob", channels=["*"], info={"name": "Bob"}))
    for c in channels:
        s.subscribe(c)
    return s


def no_sleep(_: float) -> None:
    pass


def pub(**kw: object) -> Publisher:
    kw.setdefault("socket_path", d.socket_path)
    return Publisher(sleep=no_sleep, **kw)  # type: ignore[arg-type]


class UnixServer:
    """A Unix-socket server running handle(conn, index) per connection in a thread."""

    def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
        self.dir = tempfile.mkdtemp(prefix="fanoutd-py-")
        self.path = os.path.join(self.dir, "s.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.handle, self.n, self.bodies = handle, 0, []  # type: ignore[var-annotated]
        self.conns: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            i, self.n = self.n, self.n + 1
            threading.Thread(target=self.handle, args=(self, c, i), daemon=True).start()

    def read_request(self, c: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(body) < n:
            body += c.recv(65536)
        self.bodies.append(body)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def keys(bodies: List[bytes]) -> List[str]:
    return [e["idempotency_key"] for b in bodies for e in json.loads(b)]


class PublishTest(unittest.TestCase):
    def test_one_event_reaches_a_subscriber_with_its_position(self) -> None:
        s = subscriber("project:abc")
        try:
            pos = pub().publish("project:abc", "story.status.changed", {"storyId": "6-5", "status": "done"})
            self.assertEqual(pos.channel, "project:abc")
            self.assertFalse(pos.duplicate)
            m = s.expect(lambda m: m.get("type") == "story.status.changed")
            self.assertEqual(m["payload"], {"storyId": "6-5", "status": "done"})
            self.assertEqual((m["offset"], m["epoch"]), (pos.offset, pos.epoch))
        finally:
            s.close()

    def test_batch_in_order_with_project_id(self) -> None:
        s = subscriber("project:p1")
        try:
            r = pub().publish_batch(
                [
                    {"projectId": "p1", "type": "incident.opened", "payload": {"n": 1}},
                    {"channel": "project:p1", "type": "incident.resolved", "payload": {"n": 2}},
                ]
            )
            self.assertEqual(r.published, 2)
            self.assertEqual(r.positions[1].offset, r.positions[0].offset + 1)
            self.assertEqual(s.expect(lambda m: m.get("channel") == "project:p1")["type"], "incident.opened")
            self.assertEqual(s.expect(lambda m: m.get("channel") == "project:p1")["type"], "incident.resolved")
        finally:
            s.close()

    def test_tcp_with_api_key(self) -> None:
        s = subscriber("tcp")
        try:
            p = pub(socket_path=None, url="http://127.0.0.1:%d" % d.port, api_key=API_KEY)
            p.publish("tcp", "over.tcp", [1, 2])
            self.assertEqual(s.expect(lambda m: m.get("type") == "over.tcp")["payload"], [1, 2])
            self.assertTrue(p.stats()["broker_up"])
        finally:
            s.close()

    def test_bad_api_key_is_a_typed_401_not_retried(self) -> None:
        p = pub(socket_path=None, url="http://127.0.0.1:%d" % d.port, api_key="wrong-key-0123456789")
        with self.assertRaises(AuthError) as cm:
            p.publish("tcp", "t", 1)
        self.assertEqual(cm.exception.status, 401)
        self.assertEqual(cm.exception.error, "unauthorized")
        self.assertEqual(cm.exception.attempts, 1)
        self.assertIsInstance(cm.exception, ApiError)

    def test_read_side(self) -> None:
        s = subscriber("room")
        try:
            p = pub()
            self.assertGreaterEqual(p.stats()["connections"], 1)
            self.assertTrue(any(c["channel"] == "room" and c["subscribers"] == 1 for c in p.channels()))
            (client,) = p.presence("room")
            self.assertEqual((client["user"], client["info"]), ("bob", {"name": "Bob"}))
            for e in p.connection_events(timeout=5):
                if e.get("type") == "subscribe" and e.get("connection_id") == client["connection_id"]:
                    self.assertEqual(e["channel"], "room")
                    break
        finally:
            s.close()


class ErrorTest(unittest.TestCase):
    def test_invalid_events_are_typed_with_each_index_and_reason(self) -> None:
        p = pub()
        before = p.stats()["published"]
        with self.assertRaises(InvalidEventsError) as cm:
            p.publish_batch([{"channel": "ok", "type": "fine"}, {"channel": "ok"}, {"channel": "ok", "type": "welcome"}])
        e = cm.exception
        self.assertEqual((e.status, e.error, e.published, e.attempts), (400, "invalid event", 0, 1))
        self.assertEqual([x["index"] for x in e.events], [1, 2])
        self.assertIn('missing "type"', e.events[0]["error"])
        self.assertIn("reserved", e.events[1]["error"])
        self.assertEqual(p.stats()["published"], before)

    def test_too_large_is_typed_with_the_limit(self) -> None:
        with self.assertRaises(PayloadTooLargeError) as cm:
            pub().publish("big", "t", "x" * 5000)
        self.assertEqual(cm.exception.limit, 4096)

    def test_no_daemon_is_a_connection_error_after_the_retries(self) -> None:
        p = pub(socket_path=os.path.join(tempfile.mkdtemp(), "none.sock"), retries=2)
        with self.assertRaises(FanoutConnectionError) as cm:
            p.publish("c", "t")
        self.assertEqual(cm.exception.attempts, 3)

    def test_bad_arguments(self) -> None:
        with self.assertRaises(ValueError):
            Publisher()
        with self.assertRaises(ValueError):
            Publisher(url="http://127.0.0.1:1")
        with self.assertRaises(ValueError):
            pub().publish_batch([])
        with self.assertRaises(ValueError):
            mint_token("short", "a")


class RetryTest(unittest.TestCase):
    def test_lost_answer_retry_gives_one_event_one_position(self) -> None:
        # A proxy that forwards the first request to the daemon and then hangs
        # up without passing the answer on: published, but the publisher never
        # learns it.
        def handle(srv: UnixServer, c: socket.socket, i: int) -> None:
            req = srv.read_request(c)
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(d.socket_path)
            up.sendall(req.replace(b"Connection: keep-alive", b"Connection: close"))
            answer = b""
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if b"\r\n\r\n" in answer and answer.endswith(b"\n"):
                    break
            up.close()
            if i > 0:
                c.sendall(answer)
            c.close()

        srv = UnixServer(handle)
        s = subscriber("retry")
        try:
            before = pub().stats()["duplicates"]
            pos = pub(socket_path=srv.path).publish("retry", "once", {"n": 1})
            self.assertTrue(pos.duplicate)
            ks = keys(srv.bodies)
            self.assertEqual(len(ks), 2)
            self.assertEqual(ks[0], ks[1])
            self.assertEqual(pub().stats()["duplicates"], before + 1)
            self.assertEqual(s.expect(lambda m: m.get("channel") == "retry")["offset"], pos.offset)
            pub().publish("retry", "marker")
            self.assertEqual(s.expect(lambda m: m.get("channel") == "retry")["type"], "marker")
        finally:
            s.close()
            srv.close()

    def test_callers_key_kept(self) -> None:
        a = pub().publish("keyed", "t", 1, idempotency_key="incident-7")
        b = pub().publish("keyed", "t", 1, idempotency_key="incident-7")
        self.assertTrue(b.duplicate)
        self.assertEqual((a.offset, a.epoch), (b.offset, b.epoch))

    def test_timeout_retried_with_the_same_key(self) -> None:
        def silent(srv: UnixServer, c: socket.socket, i: int) -> None:
            srv.read_request(c)

        srv = UnixServer(silent)
        try:
            with self.assertRaises(FanoutTimeoutError) as cm:
                pub(socket_path=srv.path, timeout=0.1, retries=2).publish("c", "t")
            self.assertEqual(cm.exception.attempts, 3)
            self.assertTrue(cm.exception.retryable)
            ks = keys(srv.bodies)
            self.assertEqual(len(ks), 3)
            self.assertEqual(len(set(ks)), 1)
        finally:
            srv.close()

    def test_503_and_504_retried_then_typed(self) -> None:
        slept: List[float] = []

        def busy(srv: UnixServer, c: socket.socket, i: int) -> None:
            srv.read_request(c)
            status = "503 Service Unavailable" if i % 2 == 0 else "504 Gateway Timeout"
            body = b'{"error":"broker unavailable","published":0}'
            c.sendall(
                b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (status.encode(), len(body), body)
            )
            c.close()

        srv = UnixServer(busy)
        try:
            p = Publisher(socket_path=srv.path, retries=3, sleep=slept.append)
            with self.assertRaises(UnavailableError) as cm:
                p.publish("c", "t")
            self.assertEqual((cm.exception.status, cm.exception.attempts, cm.exception.retry_after), (504, 4, 1.0))
            self.assertEqual(slept, [1.0, 1.0, 1.0])
            self.assertEqual(len(set(keys(srv.bodies))), 1)
        finally:
            srv.close()


class ExampleTest(unittest.TestCase):
    def test_incident_service_example_publishes(self) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.path.join(here, "..", "src"))
        s = subscriber("service:checkout")
        try:
            out = subprocess.run(
                [sys.executable, os.path.join(here, "..", "examples", "incident_service.py"), "--socket", d.socket_path],
                env=env, capture_output=True, text=True, timeout=30,
            )
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("batch: 2 published", out.stdout)
            types = [s.expect(lambda m: m.get("channel") == "service:checkout")["type"] for _ in range(3)]
            self.assertEqual(types, ["incident.status.changed", "event.ingested", "summary.ready"])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
