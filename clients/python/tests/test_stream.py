"""Publisher.stream() (POST /v1/publish/stream) against a real daemon: acks
in order, a refused line failing alone while the stream goes on,
idempotency keys, the window as backpressure."""

from __future__ import annotations

import unittest

from fanoutd_publish import ApiError, PayloadTooLargeError, Publisher

from fanoutd_daemon import Daemon

d: Daemon


def setUpModule() -> None:
    global d
    d = Daemon("python-stream-secret-0123456789abcdef", "python-stream-api-key-0123456789",
               env={"FANOUTD_LIMITS_MAX_PUBLISH_BYTES": "4096"})


def tearDownModule() -> None:
    d.stop()


class StreamTest(unittest.TestCase):
    def setUp(self) -> None:
        self.pub = Publisher(socket_path=d.socket_path)

    def test_acks_in_order_and_a_bad_line_fails_alone(self) -> None:
        with self.pub.stream(window=8) as s:
            futs = []
            for i in range(200):
                if i == 50:
                    futs.append(s.publish("py-s", "", {"i": i}))  # missing type
                elif i == 60:
                    futs.append(s.publish("py-s", "t", "x" * 5000))  # line too long
                else:
                    futs.append(s.publish("py-s", "t", {"i": i}))
        self.assertEqual(s.acked, 200)
        e50 = futs[50].exception(timeout=5)
        self.assertIsInstance(e50, ApiError)
        assert isinstance(e50, ApiError)
        self.assertEqual((e50.status, e50.index), (400, 50))
        self.assertIsInstance(futs[60].exception(timeout=5), PayloadTooLargeError)
        last = 0
        for i, f in enumerate(futs):
            if i in (50, 60):
                continue
            pos = f.result(timeout=5)
            self.assertEqual(pos.channel, "py-s")
            self.assertEqual(pos.offset, last + 1, "event %d out of order" % i)
            last = pos.offset

    def test_repeated_idempotency_key_is_a_duplicate(self) -> None:
        with self.pub.stream() as s:
            a = s.publish("py-k", "t", 1, idempotency_key="py-k-1")
            b = s.publish("py-k", "t", 2, idempotency_key="py-k-1")
        first, second = a.result(timeout=5), b.result(timeout=5)
        self.assertFalse(first.duplicate)
        self.assertTrue(second.duplicate)
        self.assertEqual(second.offset, first.offset)
        again = self.pub.publish("py-k", "t", 3, idempotency_key="py-k-1")
        self.assertTrue(again.duplicate)

    def test_window_bounds_events_in_flight(self) -> None:
        s = self.pub.stream(window=2)
        futs = [s.publish("py-w", "t", i, timeout=10) for i in range(50)]
        s.close(timeout=10)
        self.assertEqual([f.result(timeout=5).offset for f in futs], list(range(1, 51)))


if __name__ == "__main__":
    unittest.main()
