# fanoutd — `make help` lists the targets.
GO       ?= go
NODE     ?= node
BIN      ?= bin/fanoutd
FUZZTIME ?= 5s
# Each fuzz target as package:Name; `make fuzz FUZZTIME=5m` runs them longer.
# config's FuzzLoadYAML is left out: Go's fuzzing engine stalls on it after a
# few executions (no input is slow: a 2 s guard inside never fires); its seed
# corpus still runs with every `go test`.
FUZZ_TARGETS := ./netpoll:FuzzParseHeader ./netpoll:FuzzHandshake ./daemon:FuzzDecodeCommand ./daemon/jwtauth:FuzzVerify \
                ./ipc:FuzzDecodePublish

.PHONY: help run build build-bench test test-go test-node fuzz bench loadtest compare vet fmt-check clean

BENCH_BIN   ?= bin/fanout-bench
LOAD_SECRET ?= loadtest-secret-0123456789abcdef0123
LOAD_ARGS   ?= --conns 2000 --channels 1 --rate 100 --duration 10s

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the daemon in dev mode (random secret, dev token printed)
	$(GO) run ./cmd/fanoutd --dev

build: ## build bin/fanoutd
	$(GO) build -trimpath -o $(BIN) ./cmd/fanoutd

build-bench: ## build bin/fanout-bench (the load generator)
	$(GO) build -trimpath -o $(BENCH_BIN) ./cmd/fanout-bench

test: fmt-check vet test-go fuzz test-node ## the whole suite: vet, go test -race, fuzz smoke, Node client tests

test-go: ## Go tests with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

test-node: build ## end-to-end tests with Node's WebSocket clients (built-in, and ws on the echo route), and the Node ws baseline's own tests
	cd test/node && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket test/node/
	cd bench/nodehub && npm ci --silent --no-audit --no-fund
	$(NODE) --test --experimental-websocket bench/nodehub/test.mjs

fuzz: ## every fuzz target for FUZZTIME (5s by default: a smoke run)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

bench: ## Go benchmarks of the hot paths, with allocations
	$(GO) test -run='^$$' -bench=. -benchmem ./...

loadtest: build build-bench ## fanout-bench against a fresh daemon on 127.0.0.1:18080 (LOAD_ARGS=…)
	@set -e; sock=$$(mktemp -u /tmp/fanoutd-load.XXXXXX.sock); \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BIN) --listen 127.0.0.1:18080 --socket $$sock --log-level warn & pid=$$!; \
	trap "kill $$pid" EXIT; for i in $$(seq 50); do [ -S $$sock ] && break; sleep 0.1; done; \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BENCH_BIN) --url ws://127.0.0.1:18080/ws --socket $$sock $(LOAD_ARGS)

compare: ## BENCHMARKS.md's scenarios on fanoutd and the Node ws hub (RUNS=3)
	bench/compare.sh

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean: ## remove build output
	rm -rf bin
