#!/bin/sh
# fanoutd's version, from git tags (vX.Y.Z). The Makefile stamps it into the
# binary and the packages; nothing else decides a version.
#
#   scripts/version.sh           the binary's version:
#                                  on a tag:         1.2.0
#                                  after a tag:      1.2.0-5-g1a2b3c4d5e6f
#                                  before any tag:   0.0.0-<commits>-g1a2b3c4d5e6f
#                                  (-dirty appended when the tree has changes)
#   scripts/version.sh --pkg     the .deb/.rpm version, which must sort right:
#                                  1.2.0, 1.2.0+git5.g1a2b3c4d5e6f, 0.0.0~git<commits>.g1a2b3c4d5e6f
#                                  (~ sorts before the release, + after it; .dirty appended;
#                                  a pre-release tag v1.2.0-rc1 gives 1.2.0~rc1)
#   scripts/version.sh --commit  the full commit hash
#   scripts/version.sh --epoch   the commit's time in seconds (SOURCE_DATE_EPOCH)
#
# Outside a git checkout: 0.0.0-unknown, commit "unknown", epoch 0.
set -eu
cd "$(dirname "$0")/.."

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	case "${1:-}" in
	--pkg) echo 0.0.0~unknown ;;
	--commit) echo unknown ;;
	--epoch) echo 0 ;;
	*) echo 0.0.0-unknown ;;
	esac
	exit 0
fi

case "${1:-}" in
--commit) git rev-parse HEAD; exit 0 ;;
--epoch) git log -1 --format=%ct; exit 0 ;;
esac

dirty=
git diff --quiet HEAD -- 2>/dev/null || dirty=1
if desc=$(git describe --tags --match 'v[0-9]*' --abbrev=12 2>/dev/null); then
	desc=${desc#v}
else
	desc="0.0.0-$(git rev-list --count HEAD)-g$(git rev-parse --short=12 HEAD)"
fi

if [ "${1:-}" != --pkg ]; then
	echo "$desc${dirty:+-dirty}"
	exit 0
fi
case "$desc" in
0.0.0-*-g*) pkg="0.0.0~git$(echo "${desc#0.0.0-}" | sed 's/-g/.g/')" ;;
*-*-g*) base=${desc%-*-g*}; rest=${desc#"$base"-}; pkg="$(echo "$base" | tr - '~')+git$(echo "$rest" | sed 's/-g/.g/')" ;;
*) pkg=$(echo "$desc" | tr - '~') ;; # a pre-release tag, v1.2.0-rc1: 1.2.0~rc1 sorts before 1.2.0

esac
echo "$pkg${dirty:+.dirty}"
