#!/bin/sh
# Prints the copyright notices and licence texts of every Go module linked
# into the package given (default ./cmd/fanoutd), at the versions go.mod
# selects, read from the module cache: the packages ship it as
# third-party-notices, which the MIT and BSD licences of those modules ask
# for with binary distributions.
set -eu
cd "$(dirname "$0")/.."
pkg=${1:-./cmd/fanoutd}
go mod download
go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' "$pkg" | sort -u |
	while read -r path version dir; do
		echo "================================================================"
		echo "$path $version"
		echo "================================================================"
		found=
		for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
			[ -f "$f" ] || continue
			found=1
			echo "--- $(basename "$f")"
			cat "$f"
			echo
		done
		if [ -z "$found" ]; then
			echo "no licence file found in $path $version" >&2
			exit 1
		fi
	done
echo "================================================================"
echo "The Go standard library and runtime"
echo "================================================================"
cat "$(go env GOROOT)/LICENSE"
