#!/usr/bin/env bash
# permessage-deflate side by side (BENCHMARKS.md, "Compression"): the same
# load with subscribers that offer permessage-deflate (--deflate, Chromium's
# offer) and without, on a fresh daemon per run, and one table of the
# figures that matter: wire bytes per delivery, daemon CPU per million
# deliveries, daemon RSS per connection, compressed events.
#
#   bench/deflate.sh                 # every scenario, 1 run each
#   SCENARIOS="rss" bench/deflate.sh
#
# Scenarios (each run plain, then --deflate):
#   adr004      the dashboard's ADR-004 events (an ~80-byte JSON payload,
#               ~200-byte event frame), compression.mode on: what deflate
#               does to small events when forced
#   adr004-auto the same with the default (auto, 512 bytes): they go plain
#   json2k      a 2 KB JSON object, default settings (compressed)
#   rss         10,000 idle-ish connections: RSS per connection
# The rates are low on purpose: the generator inflates every compressed
# delivery in Go (~5-7 µs each, far more than a browser's zlib), on the same 2
# cores as the daemon; at 1M deliveries/s it falls behind and the daemon's
# figures then measure backed-up sockets, not compression.
# Loopback only; each run is bounded by the generator's --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS=${SCENARIOS:-"adr004 adr004-auto json2k rss"}
OUT=bench/results
export FANOUTD_AUTH_HMAC_SECRET=${FANOUTD_AUTH_HMAC_SECRET:-benchmark-secret-0123456789abcdef01234}
mkdir -p "$OUT" bin
go build -trimpath -o bin/fanoutd ./cmd/fanoutd
go build -trimpath -o bin/fanout-bench ./cmd/fanout-bench

args() { # scenario -> generator arguments
	case $1 in
	adr004 | adr004-auto) echo "--conns 1000 --channels 1 --rate 100 --batch 10 --payload 80 --payload-style json --duration 10s" ;;
	json2k) echo "--conns 1000 --channels 1 --rate 50 --batch 5 --payload 2048 --payload-style json --duration 10s" ;;
	rss) echo "--conns 10000 --channels 1 --rate 10 --payload 2048 --payload-style json --duration 3s" ;;
	*) echo "unknown scenario $1" >&2; exit 1 ;;
	esac
}
mode() { # scenario -> compression.mode
	case $1 in adr004) echo on ;; *) echo auto ;; esac
}

printf '%-12s %-7s %10s %12s %12s %10s %10s %8s\n' scenario client "wire B/dlv" "cpu s/1M dlv" "rss/conn" compressed delivered lost
for scenario in $SCENARIOS; do
	for client in plain deflate; do
		sock=$(mktemp -u /tmp/fanout-deflate.XXXXXX.sock)
		port=$((18500 + RANDOM % 1000))
		FANOUTD_COMPRESSION_MODE=$(mode "$scenario") bin/fanoutd --listen "127.0.0.1:$port" --socket "$sock" --log-level error &
		pid=$!
		for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
		flag=""
		[ "$client" = deflate ] && flag="--deflate"
		out="$OUT/deflate-$scenario-$client.json"
		# Exit status 2 (something lost or behind) is a result, not a failure.
		bin/fanout-bench --url "ws://127.0.0.1:$port/ws" --socket "$sock" --label "$scenario/$client" \
			$(args "$scenario") $flag --json >"$out" 2>/dev/null || [ $? -eq 2 ]
		kill "$pid"; wait "$pid" 2>/dev/null || true
		rm -f "$sock"
		python3 - "$out" "$scenario" "$client" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); d = r["daemon"]
print("%-12s %-7s %10.1f %12.3f %10.2fKiB %10d %10d %8d" % (sys.argv[2], sys.argv[3], d["bytes_out_per_delivery"],
      d["cpu_seconds_per_1m_deliveries"], d["rss_per_conn_bytes"] / 1024, d["compressed_events"], d["delivered"], r["lost"]))
PY
		sleep 1 # let TIME_WAIT sockets and the CPU settle
	done
done
