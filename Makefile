# fanoutd — `make help` lists the targets.
GO       ?= go
NODE     ?= node
PYTHON   ?= python3
BIN      ?= bin/fanoutd
FUZZTIME ?= 5s
# Each fuzz target as package:Name; `make fuzz FUZZTIME=5m` runs them longer.
# config's FuzzLoadYAML is left out: Go's fuzzing engine stalls on it after a
# few executions (no input is slow: a 2 s guard inside never fires); its seed
# corpus still runs with every `go test`.
FUZZ_TARGETS := ./netpoll:FuzzParseHeader ./netpoll:FuzzHandshake ./netpoll:FuzzInflate ./daemon:FuzzDecodeCommand ./daemon/jwtauth:FuzzVerify \
                ./ipc:FuzzDecodePublish

.PHONY: help run demo build build-bench test test-go test-node test-publishers test-browser js-size fuzz bench bench-deflate loadtest compare vet fmt-check clean \
        install install-host uninstall deb

BENCH_BIN   ?= bin/fanout-bench
LOAD_SECRET ?= loadtest-secret-0123456789abcdef0123
LOAD_ARGS   ?= --conns 2000 --channels 1 --rate 100 --duration 10s

# `make install`: PREFIX and DESTDIR as usual. The units and the sysusers.d
# and tmpfiles.d entries go where systemd looks, whatever PREFIX is.
PREFIX      ?= /usr
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
CONFDIR      = $(SYSCONFDIR)/fanoutd
# A Debian version that sorts before the first release.
VERSION     ?= 0.1.0~git$(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
# nfpm runs from the module proxy at a pinned version, only for `make deb`:
# it is no dependency of the module, so `go mod download` and CI never fetch it.
# (v2.45.0 is the last release whose dependencies the module proxy serves.)
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the daemon in dev mode (random secret, dev token printed)
	$(GO) run ./cmd/fanoutd --dev

demo: build ## the dashboard demo: fanoutd, a publisher and the page server; prints the page's URL
	$(NODE) examples/dashboard/demo.mjs --bin $(BIN)

build: ## build bin/fanoutd
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/fanoutd

build-bench: ## build bin/fanout-bench (the load generator)
	$(GO) build -trimpath -o $(BENCH_BIN) ./cmd/fanout-bench

test: fmt-check vet test-go fuzz test-node test-publishers test-browser ## the whole suite: vet, go test -race, fuzz smoke, Node client tests, Chromium

test-go: ## Go tests with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

test-node: build ## end-to-end tests with Node's WebSocket clients (built-in, ws on the echo route, clients/js), and the Node ws baseline's own tests
	cd test/node && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket test/node/
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket clients/js/test/*.test.mjs
	cd bench/nodehub && npm ci --silent --no-audit --no-fund
	$(NODE) --test --experimental-websocket bench/nodehub/test.mjs

test-publishers: build ## the Node (@fanoutd/publish, its Fastify example) and Python (fanoutd-publish) publisher libraries against a real daemon
	cd clients/node && npm ci --silent --no-audit --no-fund && npm run -s typecheck && npm run -s lint-openapi
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket clients/node/test/*.test.mjs
	cd clients/node/examples/fastify-dashboard && npm ci --silent --no-audit --no-fund
	cd clients/node/examples/fastify-dashboard && FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket
	cd clients/python && FANOUTD_BIN=$(CURDIR)/$(BIN) PYTHONPATH=src:tests PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m unittest discover -s tests

test-browser: build ## the dashboard and the SSE route in headless Chromium (Debian's chromium, playwright-core)
	cd examples/dashboard/test && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test examples/dashboard/test/

js-size: ## the JS client's minified+gzipped size (esbuild)
	cd clients/js && npm ci --silent --no-audit --no-fund && $(NODE) size.mjs

fuzz: ## every fuzz target for FUZZTIME (5s by default: a smoke run)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

chaos: ## the broker chaos run for 60 s (make test runs it for 15 s)
	FANOUTD_CHAOS=60s $(GO) test -race -count=1 -run '^TestChaosBrokerBounces$$' -v .

bench: ## Go benchmarks of the hot paths, with allocations
	$(GO) test -run='^$$' -bench=. -benchmem ./...

loadtest: build build-bench ## fanout-bench against a fresh daemon on 127.0.0.1:18080 (LOAD_ARGS=…)
	@set -e; sock=$$(mktemp -u /tmp/fanoutd-load.XXXXXX.sock); \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BIN) --listen 127.0.0.1:18080 --socket $$sock --log-level warn & pid=$$!; \
	trap "kill $$pid" EXIT; for i in $$(seq 50); do [ -S $$sock ] && break; sleep 0.1; done; \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BENCH_BIN) --url ws://127.0.0.1:18080/ws --socket $$sock $(LOAD_ARGS)

bench-deflate: ## permessage-deflate side by side: wire bytes, CPU and RSS per connection, plain vs --deflate (BENCHMARKS.md)
	bench/deflate.sh

compare: ## BENCHMARKS.md's scenarios on fanoutd and the Node ws hub (RUNS=3)
	bench/compare.sh

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

install: build ## binary, systemd units, default config if absent (PREFIX=/usr DESTDIR=)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/fanoutd
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	for u in fanoutd.service fanoutd.socket; do \
		sed -e 's|/usr/bin/fanoutd|$(BINDIR)/fanoutd|g' -e 's|/etc/fanoutd/|$(CONFDIR)/|g' systemd/$$u \
			>$(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -D -m 0644 systemd/fanoutd.sysusers $(DESTDIR)$(SYSUSERSDIR)/fanoutd.conf
	install -D -m 0644 systemd/fanoutd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/fanoutd.conf
	@if [ -e $(DESTDIR)$(CONFDIR)/fanoutd.yaml ]; then \
		echo "kept $(DESTDIR)$(CONFDIR)/fanoutd.yaml"; \
	else \
		sed 's|/etc/fanoutd/|$(CONFDIR)/|g' systemd/fanoutd.yaml >$(DESTDIR)$(CONFDIR)/fanoutd.yaml && \
		chmod 0640 $(DESTDIR)$(CONFDIR)/fanoutd.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then $(MAKE) --no-print-directory install-host; fi

# The steps that change this machine, not a staging tree: the user and
# /run/fanoutd, the configuration's group, a random secret if none, and
# daemon-reload when systemd runs. The Debian package's postinst does the same.
install-host:
	systemd-sysusers $(SYSUSERSDIR)/fanoutd.conf
	systemd-tmpfiles --create $(TMPFILESDIR)/fanoutd.conf
	chgrp fanoutd $(CONFDIR)/fanoutd.yaml
	@if [ ! -e $(CONFDIR)/hmac_secret ]; then \
		(umask 027 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >$(CONFDIR)/hmac_secret.new) && \
		chgrp fanoutd $(CONFDIR)/hmac_secret.new && mv $(CONFDIR)/hmac_secret.new $(CONFDIR)/hmac_secret && \
		echo "wrote a random HMAC secret to $(CONFDIR)/hmac_secret: sign your application's tokens with it"; \
	fi
	@if [ -d /run/systemd/system ]; then systemctl daemon-reload; \
	else echo "systemd is not running: no daemon-reload"; fi
	@echo "next: systemctl enable --now fanoutd.socket fanoutd.service"

uninstall: ## remove what install put in place, except the configuration and the user
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now fanoutd.service fanoutd.socket || true; fi
	rm -f $(DESTDIR)$(BINDIR)/fanoutd $(DESTDIR)$(UNITDIR)/fanoutd.service $(DESTDIR)$(UNITDIR)/fanoutd.socket \
		$(DESTDIR)$(SYSUSERSDIR)/fanoutd.conf $(DESTDIR)$(TMPFILESDIR)/fanoutd.conf
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

deb: build ## Debian package bin/fanoutd_<version>_<arch>.deb (nfpm, fetched on first use)
	VERSION=$(VERSION) DEB_ARCH=$(DEB_ARCH) $(NFPM) package --config systemd/nfpm.yaml --packager deb --target bin/

clean: ## remove build output
	rm -rf bin
