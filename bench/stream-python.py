"""Events/s of fanoutd_publish's PublishStream from one Python publisher.

    python3 bench/stream-python.py SOCKET [EVENTS]
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python", "src"))
from fanoutd_publish import Publisher  # noqa: E402

n = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
t0 = time.time()
with Publisher(socket_path=sys.argv[1]).stream() as s:
    futures = [s.publish("bench:python", "bench", {"i": i}) for i in range(n)]
dt = time.time() - t0
assert all(f.done() and f.exception() is None for f in futures)
print("python stream: %d events in %.0f ms = %d/s" % (n, dt * 1000, n / dt))
