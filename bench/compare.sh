#!/usr/bin/env bash
# Runs the benchmark scenarios of BENCHMARKS.md against fanoutd and against the
# Node `ws` hub (bench/nodehub), RUNS times each, with the same load generator,
# and prints one JSON report per run to bench/results/<server>-<scenario>-<n>.json
# followed by a summary (medians, with min–max) made by bench/summarize.mjs.
#
#   bench/compare.sh            # 3 runs of every scenario on both servers
#   RUNS=5 SCENARIOS="broadcast" SERVERS="fanoutd" bench/compare.sh
#   SCENARIOS="publish publish-stream" bench/compare.sh   # the publish path only
#
# publish: 16 HTTP publishers of single events over the Unix socket;
# publish-stream: one publisher on POST /v1/publish/stream (fanoutd only: the
# Node hub has no stream). Both run bench/pubbench, with the runs of the
# servers interleaved (run 1 on each, then run 2, …) so drift in the
# machine's load hits both alike.
#
# Loopback only; each run is bounded by the generator's --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"fanoutd nodehub"}
SCENARIOS=${SCENARIOS:-"idle broadcast broadcast-single personal connect publish publish-stream"}
OUT=bench/results
export FANOUTD_AUTH_HMAC_SECRET=${FANOUTD_AUTH_HMAC_SECRET:-benchmark-secret-0123456789abcdef01234}
mkdir -p "$OUT" bin
go build -trimpath -o bin/fanoutd ./cmd/fanoutd
go build -trimpath -o bin/fanout-bench ./cmd/fanout-bench
go build -trimpath -o bin/pubbench ./bench/pubbench
[ -d bench/nodehub/node_modules ] || (cd bench/nodehub && npm ci --silent)

# scenario NAME -> generator arguments
args() {
	case $1 in
	idle) echo "--conns 19000 --channels 19000 --procs 2 --source-ips 2 --rate 10 --duration 3s" ;;
	broadcast) echo "--conns 10000 --channels 1 --rate 60 --batch 10 --duration 10s" ;;
	broadcast-single) echo "--conns 10000 --channels 1 --rate 60 --batch 1 --duration 10s" ;;
	personal) echo "--conns 10000 --channels 10000 --rate 1000 --batch 1 --duration 10s" ;;
	connect) echo "--conns 16000 --channels 16000 --procs 2 --source-ips 2 --rate 10 --duration 1s" ;;
	*) echo "unknown scenario $1" >&2; exit 1 ;;
	esac
}

start_server() { # NAME SOCKET PORT -> sets PID
	case $1 in
	fanoutd) bin/fanoutd --listen "127.0.0.1:$3" --socket "$2" --log-level error & ;;
	nodehub) node bench/nodehub/server.mjs --listen "127.0.0.1:$3" --socket "$2" >/dev/null & ;;
	esac
	PID=$!
	for _ in $(seq 100); do [ -S "$2" ] && return 0; sleep 0.1; done
	echo "$1 did not start" >&2
	return 1
}

# publish scenarios: bench/pubbench, runs interleaved across servers
pubbench_args() {
	case $1 in
	publish) echo "--mode http --conns 16 --duration 5s" ;;
	publish-stream) echo "--mode stream --duration 5s" ;;
	esac
}
for scenario in $SCENARIOS; do
	case $scenario in publish | publish-stream) ;; *) continue ;; esac
	for run in $(seq "$RUNS"); do
		for server in $SERVERS; do
			[ "$scenario" = publish-stream ] && [ "$server" != fanoutd ] && continue
			sock=$(mktemp -u /tmp/fanout-compare.XXXXXX.sock)
			port=$((18500 + RANDOM % 1000))
			start_server "$server" "$sock" "$port"
			echo "== $scenario on $server, run $run" >&2
			bin/pubbench --socket "$sock" --pid "$PID" --label "$server/$scenario" $(pubbench_args "$scenario") \
				>"$OUT/$server-$scenario-$run.json"
			kill "$PID"; wait "$PID" 2>/dev/null || true
			rm -f "$sock"
			sleep 1
		done
	done
done

for scenario in $SCENARIOS; do
	case $scenario in publish | publish-stream) continue ;; esac
	for server in $SERVERS; do
		for run in $(seq "$RUNS"); do
			sock=$(mktemp -u /tmp/fanout-compare.XXXXXX.sock)
			port=$((18500 + RANDOM % 1000))
			start_server "$server" "$sock" "$port"
			echo "== $scenario on $server, run $run" >&2
			# Exit status 2 (something lost or behind) is a result, not a failure.
			bin/fanout-bench --url "ws://127.0.0.1:$port/ws" --socket "$sock" \
				--label "$server/$scenario" $(args "$scenario") --json \
				>"$OUT/$server-$scenario-$run.json" 2>/dev/null || [ $? -eq 2 ]
			kill "$PID"; wait "$PID" 2>/dev/null || true
			rm -f "$sock"
			sleep 1 # let TIME_WAIT sockets and the CPU settle
		done
	done
done
node bench/summarize.mjs "$OUT"
