# fanoutd — `make help` lists the targets.
GO       ?= go
NODE     ?= node
BIN      ?= bin/fanoutd
FUZZTIME ?= 5s
# Each fuzz target as package:Name; `make fuzz FUZZTIME=5m` runs them longer.
FUZZ_TARGETS := ./netpoll:FuzzParseHeader ./daemon:FuzzDecodeCommand ./daemon/jwtauth:FuzzVerify \
                ./ipc:FuzzDecodePublish ./config:FuzzLoadYAML

.PHONY: help run build test test-go test-node fuzz bench vet fmt-check clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the daemon in dev mode (random secret, dev token printed)
	$(GO) run ./cmd/fanoutd --dev

build: ## build bin/fanoutd
	$(GO) build -trimpath -o $(BIN) ./cmd/fanoutd

test: fmt-check vet test-go fuzz test-node ## the whole suite: vet, go test -race, fuzz smoke, Node client tests

test-go: ## Go tests with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

test-node: build ## end-to-end tests with Node's built-in WebSocket client
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket test/node/

fuzz: ## every fuzz target for FUZZTIME (5s by default: a smoke run)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

bench: ## Go benchmarks of the hot paths, with allocations
	$(GO) test -run='^$$' -bench=. -benchmem ./...

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean: ## remove build output
	rm -rf bin
