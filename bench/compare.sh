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
# DAEMON_ENV adds VAR=value words to fanoutd's environment only (not the
# generator's), e.g. DAEMON_ENV=GOGC=100.
#
# Centrifugo as a third peer: CENTRIFUGO=/path/to/centrifugo (v6) adds
# "centrifugo" to SERVERS (and a column and a fanoutd ÷ centrifugo ratio to
# the summary). The generator then speaks Centrifugo's JSON client protocol
# (--protocol centrifugo) on /connection/websocket and publishes through its
# server HTTP API on the same port; the publish and publish-stream scenarios
# (bench/pubbench, Unix socket) skip it.
#
#   CENTRIFUGO=/work/tools/centrifugo SCENARIOS="broadcast-5k-single hold-5k" bench/compare.sh
#
# Connect-time subscriptions: SUBSCRIBE_IN_URL=1 passes --subscribe-in-url to
# every fanout-bench run (the generator scenarios and hold-N; pubbench does not
# subscribe). Each connection then names its channel in the upgrade URL
# (ws://…/ws?channels=bench:N) and sends no subscribe command: fanoutd and the
# Node hub answer the upgrade with the welcome and the subscribed frame.
# Centrifugo gets the channel in its connect command's subs instead, which it
# honours for channels the client may subscribe to itself (the bench
# namespace's allow_subscribe_for_client, below). The reports say
# "subscribe_in_url": true and summarize.mjs titles their tables "(subscribe in
# URL)"; give such runs their own OUT so they do not replace the others:
#
#   SUBSCRIBE_IN_URL=1 OUT=bench/results-url SCENARIOS="connect hold-5k" bench/compare.sh
#
# Loopback only; each run is bounded by the generator's --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"fanoutd nodehub"}
if [ -n "${CENTRIFUGO:-}" ] && [[ " $SERVERS " != *" centrifugo "* ]]; then SERVERS="$SERVERS centrifugo"; fi
CENTRIFUGO_API_KEY=${CENTRIFUGO_API_KEY:-benchmark-api-key-0123456789}
SCENARIOS=${SCENARIOS:-"idle broadcast broadcast-single personal connect publish publish-stream"}
OUT=${OUT:-bench/results}
# Extra fanout-bench flags for every run (unquoted where used: no spaces).
BENCH_FLAGS=""
if [ "${SUBSCRIBE_IN_URL:-0}" = 1 ]; then BENCH_FLAGS="--subscribe-in-url"; fi
export FANOUTD_AUTH_HMAC_SECRET=${FANOUTD_AUTH_HMAC_SECRET:-benchmark-secret-0123456789abcdef01234}
mkdir -p "$OUT" bin
go build -trimpath -o bin/fanoutd ./cmd/fanoutd
go build -trimpath -o bin/fanout-bench ./cmd/fanout-bench
go build -trimpath -o bin/pubbench ./bench/pubbench
[ -d bench/nodehub/node_modules ] || (cd bench/nodehub && npm ci --silent)

# target SERVER SOCKET PORT -> generator arguments naming the server (no
# spaces in any of them)
target() {
	case $1 in
	centrifugo) echo "--url ws://127.0.0.1:$3/connection/websocket --protocol centrifugo" \
		"--api-url http://127.0.0.1:$3 --api-key $CENTRIFUGO_API_KEY --pid $PID" ;;
	*) echo "--url ws://127.0.0.1:$3/ws --socket $2" ;;
	esac
}

# subscriptions SERVER SOCKET PORT -> the server's current subscription count
subscriptions() {
	case $1 in
	centrifugo) { centrifugo_api "$3" info || true; } | node -e \
		'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).result.nodes[0].num_subs)}catch{}})' ;;
	*) curl -s --unix-socket "$2" http://local/v1/stats | node -e \
		'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).subscriptions)}catch{}})' ;;
	esac
}

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

# centrifugo_config PORT: the JSON config of a Centrifugo v6 run (checked
# with `centrifugo configdoc`). What is set, and why:
#   http_server: listen on 127.0.0.1:PORT only (WebSocket and HTTP API alike);
#   log.level error: as fanoutd's --log-level error;
#   client.token.hmac_secret_key: the same HS256 secret as fanoutd's, so the
#     generator mints both tokens from FANOUTD_AUTH_HMAC_SECRET;
#   http_api.key: the X-API-Key the generator's publisher sends;
#   channel.namespaces "bench" with allow_subscribe_for_client: the bench
#     channels are bench:N, and ":" is Centrifugo's namespace boundary, so
#     they live in namespace "bench"; clients may subscribe to them without
#     a subscription token (without_namespace likewise, for other names).
#     It also lets Centrifugo honour the channels of a connect command's
#     subs (SUBSCRIBE_IN_URL=1): it subscribes a connection with a valid
#     token to those it could subscribe to itself, and ignores the others.
# Everything else is Centrifugo's default, as fanoutd and the Node hub run
# with theirs: client.connection_limit, user_connection_limit and
# connection_rate_limit default to 0 (no limit), so 18,000 connections of
# one user ("fanout-bench") are accepted; the HTTP API has no rate limit;
# channel_limit (128) is per connection, which subscribes to one;
# queue_max_size (1 MiB per connection) is far above what a bench run queues;
# pings every 25 s (client.ping_interval), which the generator answers.
centrifugo_config() {
	cat <<-EOF
	{
	  "http_server": {"address": "127.0.0.1", "port": $1},
	  "log": {"level": "error"},
	  "client": {"token": {"hmac_secret_key": "$FANOUTD_AUTH_HMAC_SECRET"}},
	  "http_api": {"key": "$CENTRIFUGO_API_KEY"},
	  "channel": {
	    "without_namespace": {"allow_subscribe_for_client": true},
	    "namespaces": [{"name": "bench", "allow_subscribe_for_client": true}]
	  }
	}
	EOF
}

# centrifugo_api PORT METHOD: POST {} to Centrifugo's server API.
centrifugo_api() {
	curl -sf -X POST -H "X-API-Key: $CENTRIFUGO_API_KEY" -d '{}' "http://127.0.0.1:$1/api/$2"
}

start_server() { # NAME SOCKET PORT -> sets PID
	case $1 in
	fanoutd) env ${FLUSH_DELAY:+FANOUTD_FLUSH_DELAY=$FLUSH_DELAY} ${DAEMON_ENV:-} bin/fanoutd --listen "127.0.0.1:$3" --socket "$2" --log-level error & ;;
	nodehub) node bench/nodehub/server.mjs --listen "127.0.0.1:$3" --socket "$2" >/dev/null & ;;
	centrifugo)
		# No Unix socket: the config is written beside the socket's name
		# (.json: Centrifugo reads the format from the extension) and
		# removed once read; the server is up when its API answers.
		centrifugo_config "$3" >"$2.json"
		"$CENTRIFUGO" --config "$2.json" >/dev/null &
		PID=$!
		for _ in $(seq 100); do centrifugo_api "$3" info >/dev/null && rm -f "$2.json" && return 0; sleep 0.1; done
		rm -f "$2.json"
		echo "$1 did not start" >&2
		return 1
		;;
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
	bin/fanout-bench $(target "$server" "$sock" "$port") $BENCH_FLAGS --label "$server/$scenario" \
		--conns "$n" --channels "$n" --procs "$procs" --source-ips "$procs" --rate 1 \
		--duration "$((idle + 15))s" --connect-timeout 120s --json >"$out" 2>/dev/null &
	g=$!
	for _ in $(seq 1200); do
		subs=$(subscriptions "$server" "$sock" "$port")
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
			[ "$server" = centrifugo ] && continue # pubbench speaks fanoutd's Unix-socket API only
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
			bin/fanout-bench $(target "$server" "$sock" "$port") $BENCH_FLAGS \
				--label "$server/$scenario" $(args "$scenario") --json \
				>"$OUT/$server-$scenario-$run.json" 2>/dev/null || [ $? -eq 2 ]
			kill "$PID"; wait "$PID" 2>/dev/null || true
			rm -f "$sock"
			sleep 1 # let TIME_WAIT sockets and the CPU settle
		done
	done
done
node bench/summarize.mjs "$OUT"
