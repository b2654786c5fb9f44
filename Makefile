# fanoutd — `make help` lists the targets.
GO       ?= go
NODE     ?= node
PYTHON   ?= python3
BIN      ?= bin/fanoutd
FUZZTIME ?= 50000x
# Each fuzz target as package:Name; `make fuzz FUZZTIME=5m` runs them longer.
# The default is a count, not a duration: Go 1.26's fuzzing coordinator can
# fail a target with "context deadline exceeded" at the end of a -fuzztime
# duration when a worker is mid-execution (go.dev/issue/75804, fixed in Go
# 1.27); a count has no deadline to race. A long FUZZTIME=5m run can still
# end that way: a failure without a written input is that race, not a find.
# config's FuzzLoadYAML is left out: Go's fuzzing engine stalls on it after a
# few executions (no input is slow: a 2 s guard inside never fires); its seed
# corpus still runs with every `go test`.
FUZZ_TARGETS := ./netpoll:FuzzParseHeader ./netpoll:FuzzHandshake ./netpoll:FuzzInflate ./daemon:FuzzDecodeCommand ./daemon/jwtauth:FuzzVerify \
                ./ipc:FuzzDecodePublish ./daemon/natsbroker:FuzzUnpack ./daemon:FuzzParsePositions

.PHONY: help run demo build build-bench test test-go test-allocs test-node test-publishers test-browser js-size fuzz handoff-scale test-handoff bench loadtest compare vet fmt-check clean \
        install install-host uninstall deb rpm deps release pkg-docs pkg-bin lint-packages bench-publishers bench-brokers bench-deflate bench-redisconn

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
# Versions come from git tags (scripts/version.sh says how): VERSION for the
# binary (0.0.0-<commits>-g<hash> before the first tag), PKG_VERSION for the
# packages (0.0.0~git<commits>.g<hash>, which sorts before any release).
VERSION     ?= $(shell scripts/version.sh)
PKG_VERSION ?= $(shell scripts/version.sh --pkg)
COMMIT      ?= $(shell scripts/version.sh --commit)
# Every date in the binaries, manual pages, tarballs and packages: the
# commit's, so that a release rebuilt from the same commit is identical.
SOURCE_DATE_EPOCH ?= $(shell scripts/version.sh --epoch)
export SOURCE_DATE_EPOCH
# Static (no cgo: nothing needs it, see CHANGELOG), stripped, reproducible.
LDFLAGS     = -s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOBUILD     = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "$(LDFLAGS)"
# The architecture of `make deb` / `make rpm` (Go's names: amd64, arm64).
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
PKG_DIR     ?= bin
DIST        ?= dist
STAGE        = bin/stage
# Linux only: the transport is epoll (netpoll/), so the daemon does not build
# for macOS (darwin would need a kqueue transport).
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
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

build: ## build bin/fanoutd (static, stripped, version from git)
	$(GOBUILD) -o $(BIN) ./cmd/fanoutd

build-bench: ## build bin/fanout-bench (the load generator)
	$(GO) build -trimpath -o $(BENCH_BIN) ./cmd/fanout-bench

test: deps fmt-check vet test-go test-allocs test-handoff fuzz test-node test-publishers test-browser js-size lint-packages ## the whole suite: prerequisites, vet, go test -race, fuzz smoke, Node client tests, Chromium, JS size, package lint

deps: ## install the test prerequisites (as root on Debian/Ubuntu) or name the missing ones
	@scripts/deps.sh

test-go: ## Go tests with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

test-allocs: ## the allocation tests once more without the race detector, under which sync.Pool drops at random and they skip
	$(GO) test -count=1 -run 'Alloc|NotCopied' ./daemon/... ./netpoll/...

test-node: build ## end-to-end tests with Node's WebSocket clients (built-in, ws on the echo route, clients/js), and the Node ws baseline's own tests
	cd test/node && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket test/node/
	cd clients/js && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket clients/js/test/*.test.mjs
	cd bench/nodehub && npm ci --silent --no-audit --no-fund
	$(NODE) --test --experimental-websocket bench/nodehub/test.mjs

test-publishers: build ## the Node (@fanoutd/publish, its Fastify example) and Python (fanoutd-publish) publisher libraries against a real daemon
	cd clients/node && npm ci --silent --no-audit --no-fund && npm run -s typecheck && npm run -s lint-openapi
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket clients/node/test/*.test.mjs
	cd clients/node/examples/fastify-dashboard && npm ci --silent --no-audit --no-fund
	cd clients/node/examples/fastify-dashboard && FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test --experimental-websocket
	cd clients/python && FANOUTD_BIN=$(CURDIR)/$(BIN) PYTHONPATH=src:tests PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m unittest discover -s tests

test-browser: build ## the dashboard, the admin console, the SSE route and the JS client's tabs, hints and React hooks in headless Chromium (Debian's chromium, playwright-core)
	cd examples/dashboard/test && npm ci --silent --no-audit --no-fund
	cd clients/js && npm ci --silent --no-audit --no-fund
	FANOUTD_BIN=$(CURDIR)/$(BIN) $(NODE) --test examples/dashboard/test/

js-size: ## the JS client's minified+gzipped size (esbuild); fails when the core is over 5 KB
	cd clients/js && npm ci --silent --no-audit --no-fund && $(NODE) size.mjs

fuzz: ## every fuzz target for FUZZTIME (50000 executions each by default: a smoke run)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

chaos: ## the broker chaos run for 60 s (make test runs it for 15 s), then the Redis fault tests (snapshot restore, stall, NOAUTH, cluster failover)
	FANOUTD_CHAOS=60s $(GO) test -race -count=1 -run '^TestChaosBrokerBounces$$' -v .
	$(GO) test -race -count=1 -run '^TestRedis(RestoredFromOlderSnapshot|StallPastReadTimeout|AuthLost|ClusterFailover)' -v .

test-handoff: ## the hand-off process tests once more without the race detector, where the new process's memory is compared with the old one's
	$(GO) test -count=1 -run '^Test(UpgradeKeepsEveryClient|RestartThroughFDStoreKeepsEveryClient)$$' -v ./cmd/fanoutd/

handoff-scale: ## the hand-off tests at scale (make test holds 2,000): upgrade at 18,000 clients, fd-store restart at 9,000; pause, phases and RSS logged
	FANOUTD_HANDOFF_CLIENTS=18000 $(GO) test -count=1 -timeout 20m -run '^TestUpgradeKeepsEveryClient$$' -v ./cmd/fanoutd/
	# The fake service manager is a test process with 20,000 open files at most, and starting the next
	# process (os/exec) moves every passed descriptor once: 9,000 is what it can pass. systemd can pass more.
	FANOUTD_HANDOFF_CLIENTS=9000 $(GO) test -count=1 -timeout 20m -run '^TestRestartThroughFDStoreKeepsEveryClient$$' -v ./cmd/fanoutd/

bench-brokers: ## publishes/s with 16 concurrent publishers, memory and Redis brokers side by side (BENCHMARKS.md)
	$(GO) test -run='^$$' -bench='^BenchmarkPublishThroughput$$' -benchtime=5s .

bench-redisconn: ## go-redis (pub/sub on its own connection) vs rueidis (one RESP3 connection) for the broker's call shape (BENCHMARKS.md)
	cd bench/redisconn && $(GO) run . -runs 9 -events 300000

bench: ## Go benchmarks of the hot paths, with allocations
	$(GO) test -run='^$$' -bench=. -benchmem ./...

bench-publishers: ## 16 concurrent publishers, memory vs NATS side by side (BENCHMARKS.md)
	$(GO) test -run='^$$' -bench=ConcurrentPublishers -benchtime=30000x .

loadtest: build build-bench ## fanout-bench against a fresh daemon on 127.0.0.1:18080 (LOAD_ARGS=…)
	@set -e; sock=$$(mktemp -u /tmp/fanoutd-load.XXXXXX.sock); \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BIN) --listen 127.0.0.1:18080 --socket $$sock --log-level warn & pid=$$!; \
	trap "kill $$pid" EXIT; for i in $$(seq 50); do [ -S $$sock ] && break; sleep 0.1; done; \
	FANOUTD_AUTH_HMAC_SECRET=$(LOAD_SECRET) $(BENCH_BIN) --url ws://127.0.0.1:18080/ws --socket $$sock $(LOAD_ARGS)

bench-deflate: ## permessage-deflate side by side: wire bytes, CPU and RSS per connection, plain vs --deflate (BENCHMARKS.md)
	bench/deflate.sh

compare: ## BENCHMARKS.md's scenarios on fanoutd and the Node ws hub (RUNS=3)
	bench/compare.sh

vet: ## go vet, of the module and of bench/redisconn (a module of its own)
	$(GO) vet ./...
	cd bench/redisconn && $(GO) vet .

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

# The packages' documentation, arch-independent: manual pages and
# completions generated by the host's build of the commands, the docs, the
# Debian changelog and copyright, the third-party notices; every file dated
# SOURCE_DATE_EPOCH.
pkg-docs: build
	rm -rf $(STAGE)/doc && mkdir -p $(STAGE)/doc/examples
	$(BIN) gen-docs --dir $(STAGE)/doc
	gzip -9n $(STAGE)/doc/man1/*.1
	cp README.md PROTOCOL.md SECURITY.md CHANGELOG.md NOTICE LICENSE systemd/deb/copyright $(STAGE)/doc/
	cp config/testdata/full.yaml $(STAGE)/doc/examples/fanoutd.yaml
	gzip -9n <CHANGELOG.md >$(STAGE)/doc/CHANGELOG.md.gz
	scripts/third-party.sh | gzip -9n >$(STAGE)/doc/third-party-notices.gz
	{ echo "fanoutd ($(PKG_VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Commit $(COMMIT)."; echo "    The changes are in changelog.gz."; echo; \
	  echo " -- fanoutd developers <dev@fanoutd.invalid>  $$(date -u -R -d @$(SOURCE_DATE_EPOCH))"; } \
	  | gzip -9n >$(STAGE)/doc/changelog.Debian.gz
	find $(STAGE)/doc -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +

# The Linux binary of DEB_ARCH that the packages hold.
pkg-bin:
	GOOS=linux GOARCH=$(DEB_ARCH) $(GOBUILD) -o $(STAGE)/linux_$(DEB_ARCH)/fanoutd ./cmd/fanoutd
	touch -d @$(SOURCE_DATE_EPOCH) $(STAGE)/linux_$(DEB_ARCH)/fanoutd

deb: pkg-docs pkg-bin ## Debian package bin/fanoutd_<version>_<arch>.deb for DEB_ARCH (default: this machine; nfpm, fetched on first use)
	@mkdir -p $(PKG_DIR)
	PKG_VERSION=$(PKG_VERSION) PKG_ARCH=$(DEB_ARCH) $(NFPM) package --config systemd/nfpm.yaml --packager deb --target $(PKG_DIR)/

rpm: pkg-docs pkg-bin ## RPM package bin/fanoutd-<version>-1.<arch>.rpm for DEB_ARCH
	@mkdir -p $(PKG_DIR)
	PKG_VERSION=$(PKG_VERSION) PKG_ARCH=$(DEB_ARCH) $(NFPM) package --config systemd/nfpm.yaml --packager rpm --target $(PKG_DIR)/

# make test runs this on the amd64 packages only (one cross build is enough
# to check the packaging; make release checks every package).
lint-packages: ## build the amd64 .deb and .rpm, then check them (lintian clean, rpm installs, binary arch = label)
	rm -rf bin/lint
	timeout 600 $(MAKE) --no-print-directory deb rpm DEB_ARCH=amd64 PKG_DIR=bin/lint
	timeout 300 scripts/check-packages.sh bin/lint/*.deb bin/lint/*.rpm

release: pkg-docs ## dist/: Linux amd64 and arm64 tarballs, a .deb and an .rpm each, SHA256SUMS
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=fanoutd_$(VERSION)_$${os}_$${arch}; dir=$(STAGE)/$$name; \
		echo "build $$name"; rm -rf $$dir; mkdir -p $$dir; \
		GOOS=$$os GOARCH=$$arch $(GOBUILD) -o $$dir/fanoutd ./cmd/fanoutd; \
		cp -R $(STAGE)/doc/man1 $(STAGE)/doc/completions $(STAGE)/doc/examples $$dir/; \
		cp LICENSE NOTICE README.md PROTOCOL.md SECURITY.md CHANGELOG.md $$dir/; \
		gunzip -c $(STAGE)/doc/third-party-notices.gz >$$dir/third-party-notices; \
		find $$dir -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +; \
		tar --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
			-C $(STAGE) -cf - $$name | gzip -9n >$(DIST)/$$name.tar.gz; \
	done
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		case $$p in linux/*) $(MAKE) --no-print-directory deb rpm DEB_ARCH=$${p#*/} PKG_DIR=$(DIST);; esac; \
	done
	scripts/check-packages.sh $(DIST)/*.deb $(DIST)/*.rpm
	cd $(DIST) && sha256sum *.tar.gz *.deb *.rpm >SHA256SUMS
	@echo "release $(VERSION) in $(DIST)/:" && ls $(DIST)

clean: ## remove build output
	rm -rf bin $(DIST)
