#!/bin/sh
# What `make test` needs, in one list, used by `make deps` (the first step of
# `make test`) and by CI (.ci/run). On Debian or Ubuntu as root it installs
# what is missing with apt-get; otherwise it names each missing prerequisite
# with the command that installs it, and exits 1.
#
#   scripts/deps.sh            check, and install as root where apt-get exists
#   scripts/deps.sh --check    check only (never installs)
#   scripts/deps.sh --list     print the Debian packages of the list
set -eu

# One line per prerequisite: command, Debian package, why the tests need it.
# (On Ubuntu the chromium package installs a snap, which containers cannot
# run; the browser tests take CHROMIUM_PATH for another Chromium binary.)
LIST='
gcc                     gcc            go test -race (the race detector needs cgo)
make                    make           the build and test targets
curl                    curl           the README publish examples and the unit checks
git                     git            versions from git tags; fmt-check lists files with git
npm                     npm            the Node.js and Chromium test suites install their packages
chromium                chromium       the dashboard and SSE tests drive Debian headless Chromium
redis-server            redis-server   the Redis broker tests start real redis-server processes
python3                 python3        the Python publisher library and its tests
systemd-analyze         systemd        unit checks: systemd-analyze verify and security
systemd-socket-activate systemd        socket activation tests
systemd-sysusers        systemd        the sysusers.d entry, applied to a test root
lintian                 lintian        make lint-packages: the .deb must pass lintian
rpm                     rpm            make lint-packages: the .rpm must install (rpm -i --test)
'

if [ "${1:-}" = --list ]; then
	echo "$LIST" | awk 'NF { print $2 }' | sort -u
	exit 0
fi

missing_pkgs=
missing_lines=
add_missing() { # package, message
	case " $missing_pkgs " in *" $1 "*) ;; *) missing_pkgs="$missing_pkgs $1" ;; esac
	missing_lines="$missing_lines
  $2"
}

while read -r cmd pkg why; do
	[ -n "$cmd" ] || continue
	command -v "$cmd" >/dev/null 2>&1 || add_missing "$pkg" "$cmd ($why): apt-get install -y $pkg"
done <<EOF_LIST
$LIST
EOF_LIST

if [ -n "$missing_pkgs" ] && [ "${1:-}" != --check ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing_pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -qq --no-install-recommends $missing_pkgs
	exec "$0" --check
fi

# Neither is a Debian package of the right version: Debian 12 ships Go 1.19
# and Node.js 18.
problems=$missing_lines
if ! command -v go >/dev/null 2>&1; then
	problems="$problems
  go (Go >= 1.26 builds and tests everything): install it from the Go project's release tarball into /usr/local/go and add /usr/local/go/bin to PATH"
else
	gov=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
	case "$gov" in
	1.2[6-9]* | 1.[3-9][0-9]* | [2-9].*) ;;
	*) problems="$problems
  go $gov is too old: Go >= 1.26 is needed (go.mod); install it from the Go project's release tarball" ;;
	esac
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
	problems="$problems
  node >= 20 (the WebSocket client tests; found: $(node --version 2>/dev/null || echo none)): install Node.js 20 or later from the Node.js project's release tarball or its Debian repository"
fi
if [ "$(id -u)" != 0 ]; then
	problems="$problems
  root: one systemd test chowns /run/fanoutd in a test root (systemd-tmpfiles): run the tests as root, e.g. sudo make test"
fi

if [ -n "$problems" ]; then
	echo "deps: make test needs:$problems" >&2
	if [ -n "$missing_pkgs" ]; then
		echo "deps: as root, scripts/deps.sh (or make deps) installs them: apt-get install -y$missing_pkgs" >&2
	fi
	exit 1
fi
