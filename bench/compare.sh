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
#   SCENARIOS="broadcast-5k-single broadcast-5k-b2b hold-5k" bench/compare.sh
#
# The hold-N scenarios (connect, memory, idle) are measured from outside the
# generator as well: hold() reads the server's /proc files itself. FLUSH_DELAY
# sets fanoutd's flush_delay for every scenario (default: the daemon's).
#
# Loopback only; each run is bounded by the generator's --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"fanoutd nodehub"}
SCENARIOS=${SCENARIOS:-"idle broadcast broadcast-single personal connect publish publish-stream"}
OUT=${OUT:-bench/results}
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
	# One event per publish to 5,000 subscribers: at a steady 60 publishes/s,
	# and back to back (asked for 2,000/s: the server sets the pace).
	broadcast-5k-single) echo "--conns 5000 --channels 1 --rate 60 --batch 1 --duration 10s" ;;
	broadcast-5k-b2b) echo "--conns 5000 --channels 1 --rate 2000 --batch 1 --duration 10s" ;;
	*) echo "unknown scenario $1" >&2; exit 1 ;;
	esac
}

start_server() { # NAME SOCKET PORT -> sets PID
	case $1 in
	fanoutd) env ${FLUSH_DELAY:+FANOUTD_FLUSH_DELAY=$FLUSH_DELAY} bin/fanoutd --listen "127.0.0.1:$3" --socket "$2" --log-level error & ;;
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

# hold N OUT: N subscribed connections (one channel each) held for IDLE
# seconds (default 30, one heartbeat interval). Measured from outside the
# generator: the server's CPU-seconds from start to the last subscribe (per
# new connection: token, upgrade, welcome, subscribe), VmRSS per connection
# after a 5 s settle, and CPU per second while idle (heartbeats, sweeps,
# metrics). The figures are merged into the generator's report.
hold() {
	local n=$1 out=$2 idle=${IDLE:-30} tck c0 r0 c1 c2 r2 procs g subs
	tck=$(getconf CLK_TCK)
	cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }
	rss() { awk '/VmRSS/{print $2}' "/proc/$PID/status"; }
	sleep 0.5
	c0=$(cpu); r0=$(rss)
	procs=$(((n + 9499) / 9500))
	bin/fanout-bench --url "ws://127.0.0.1:$port/ws" --socket "$sock" --label "$server/$scenario" \
		--conns "$n" --channels "$n" --procs "$procs" --source-ips "$procs" --rate 1 \
		--duration "$((idle + 15))s" --connect-timeout 120s --json >"$out" 2>/dev/null &
	g=$!
	for _ in $(seq 1200); do
		subs=$(curl -s --unix-socket "$sock" http://local/v1/stats | node -e \
			'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).subscriptions)}catch{}})')
		[ "$subs" = "$n" ] && break
		sleep 0.1
	done
	c1=$(cpu)
	sleep 5
	local c1b; c1b=$(cpu)
	sleep "$idle"
	c2=$(cpu); r2=$(rss)
	wait "$g" || true
	node -e '
		const fs = require("fs"); const [out, n, tck, c0, c1, c1b, c2, r0, r2, idle] = process.argv.slice(1);
		const r = JSON.parse(fs.readFileSync(out, "utf8"));
		r.outside = { connect_cpu_us_per_conn: (c1 - c0) / tck / n * 1e6, rss_per_conn_bytes: (r2 - r0) * 1024 / n,
			idle_cpu_percent: (c2 - c1b) / tck / idle * 100, idle_seconds: +idle };
		fs.writeFileSync(out, JSON.stringify(r, null, 1));' "$out" "$n" "$tck" "$c0" "$c1" "$c1b" "$c2" "$r0" "$r2" "$idle"
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
			if [[ $scenario == hold-* ]]; then
				n=${scenario#hold-}; n=${n%k}000
				hold "$n" "$OUT/$server-$scenario-$run.json"
				kill "$PID"; wait "$PID" 2>/dev/null || true
				rm -f "$sock"; sleep 1
				continue
			fi
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
