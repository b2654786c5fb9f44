"""A real daemon on a real Redis that goes away: its 503 is an
UnavailableError with the daemon's fields and Retry-After, and a publish
that meets the outage is retried with the same key until Redis is back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import unittest
from typing import List, Optional

from fanoutd_publish import Publisher, UnavailableError, mint_token

from fanoutd_daemon import Daemon, Subscriber

SECRET = "python-broker-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is required (apt-get install redis-server)")
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


class BrokerOutageTest(unittest.TestCase):
    def setUp(self) -> None:
        self.redis = Redis()
        self.addCleanup(self.redis.kill)
        self.d = Daemon(SECRET, "python-broker-api-key-0123456789", env={
            "FANOUTD_BROKER_TYPE": "redis", "FANOUTD_BROKER_REDIS_ADDRESS": "127.0.0.1:%d" % self.redis.port,
        })
        self.addCleanup(self.d.stop)

    def test_503_typed_then_retried_until_the_broker_is_back(self) -> None:
        s = Subscriber(self.d.port, mint_token(SECRET, "bob", channels=["*"]))
        self.addCleanup(s.close)
        s.subscribe("outage")
        pub = Publisher(socket_path=self.d.socket_path, retries=0)
        pub.publish("outage", "before")

        self.redis.kill()
        with self.assertRaises(UnavailableError) as cm:
            pub.publish("outage", "refused")
        e = cm.exception
        self.assertEqual((e.status, e.retry_after, e.published, e.attempts), (503, 1.0, 0, 1))
        self.assertTrue(e.error.startswith("broker unavailable"), e.error)

        # The backoff sleep after the first refused attempt brings Redis back.
        slept: List[float] = []

        def sleep(seconds: float) -> None:
            if not slept:
                self.redis.start()
            slept.append(seconds)
            time.sleep(seconds)

        pos = Publisher(socket_path=self.d.socket_path, retries=15, sleep=sleep).publish("outage", "after", {"n": 1})
        self.assertGreaterEqual(len(slept), 1)
        self.assertEqual(slept[0], 1.0)  # Retry-After: 1
        m = s.expect(lambda m: m.get("type") == "after")  # skips "before"
        self.assertEqual(m["offset"], pos.offset)
        pub.publish("outage", "marker")
        self.assertEqual(s.expect(lambda m: m.get("type") in ("after", "marker"))["type"], "marker")


if __name__ == "__main__":
    unittest.main()
