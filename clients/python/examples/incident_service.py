"""The incident service of the seeds (ADR 001) publishing through fanoutd:
an incident's status change and its AI summary reach every dashboard
subscribed to the service's channel.

    python3 examples/incident_service.py --socket /run/fanoutd/fanoutd.sock
    python3 examples/incident_service.py --url http://127.0.0.1:8080 --api-key "$FANOUTD_API_KEY"
"""

from __future__ import annotations

import argparse
import sys

from fanoutd_publish import FanoutError, InvalidEventsError, Publisher


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", default="/run/fanoutd/fanoutd.sock")
    ap.add_argument("--url")
    ap.add_argument("--api-key")
    ap.add_argument("--incident", default="inc-42")
    args = ap.parse_args()
    pub = Publisher(url=args.url, api_key=args.api_key) if args.url else Publisher(socket_path=args.socket)

    channel = "service:checkout"
    try:
        # One event; the key makes a retry of this very change (after a crash
        # of this process, say) publish once.
        pos = pub.publish(channel, "incident.status.changed", {"id": args.incident, "status": "mitigated"},
                          idempotency_key="%s/status/mitigated" % args.incident)
        print("published at offset %d (epoch %s)%s" % (pos.offset, pos.epoch, " (duplicate)" if pos.duplicate else ""))
        # A batch: validated whole, published in order.
        r = pub.publish_batch([
            {"channel": channel, "type": "event.ingested", "payload": {"incident": args.incident, "source": "pagerduty"}},
            {"channel": channel, "type": "summary.ready", "payload": {"incident": args.incident, "summary": "Cache node lost; failover done."}},
        ])
        print("batch: %d published, offsets %s" % (r.published, [p.offset for p in r.positions]))
    except InvalidEventsError as e:
        for ev in e.events:
            print("event %d refused: %s" % (ev["index"], ev["error"]), file=sys.stderr)
        return 2
    except FanoutError as e:
        print("not published after %d attempts: %s" % (e.attempts, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
