#!/bin/sh
# Checks built packages (make lint-packages, make release):
#   .deb  lintian reports no error and no warning (overrides, each with its
#         reason, in systemd/deb/lintian-overrides), and the binary inside is
#         of the architecture the package's label says;
#   .rpm  rpm reads it (rpm -qpi, rpm -qpl), it installs into an empty test
#         database (rpm -i --test: file conflicts, scripts' syntax), and its
#         binary is of the labelled architecture.
# Both must hold the manual page, the completions, the licence, PROTOCOL.md,
# SECURITY.md and the example configuration.
set -eu

# Files every package ships besides the binary and the units (the licence:
# the Debian copyright file, or the RPM's /usr/share/licenses/).
WANT='/usr/share/man/man1/fanoutd.1.gz
/usr/share/bash-completion/completions/fanoutd
/usr/share/zsh/vendor-completions/_fanoutd
/usr/share/fish/vendor_completions.d/fanoutd.fish
/usr/share/doc/fanoutd/PROTOCOL.md
/usr/share/doc/fanoutd/SECURITY.md
/usr/share/doc/fanoutd/examples/fanoutd.yaml'

# has_files checks that the listing on stdin holds WANT and $1.
has_files() {
	cat >"$tmp/list"
	for f in $WANT "$1"; do
		grep -qx "$f" "$tmp/list" || { echo "$pkg: no $f" >&2; exit 1; }
	done
}

# elf_machine prints the ELF machine of the file on stdin: amd64, arm64 or
# the raw number (bytes 18-19, little-endian, of the ELF header).
elf_machine() {
	m=$(od -An -tu2 -j18 -N2 | tr -d ' ')
	case "$m" in
	62) echo amd64 ;;
	183) echo arm64 ;;
	*) echo "elf-machine-$m" ;;
	esac
}

[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for pkg in "$@"; do
	case "$pkg" in
	*.deb)
		echo "lintian $pkg"
		lintian --fail-on error,warning --display-level '>=warning' "$pkg"
		dpkg-deb -c "$pkg" | awk '{ print substr($6, 2) }' | has_files /usr/share/doc/fanoutd/copyright
		label=$(dpkg-deb -f "$pkg" Architecture)
		dpkg-deb --fsys-tarfile "$pkg" | tar -xOf - ./usr/bin/fanoutd >"$tmp/fanoutd"
		got=$(elf_machine <"$tmp/fanoutd")
		;;
	*.rpm)
		echo "rpm $pkg"
		rpm -qpi "$pkg" >/dev/null
		rpm -qpl "$pkg" | has_files /usr/share/licenses/fanoutd/LICENSE
		db="$tmp/rpmdb.$(basename "$pkg")"
		mkdir -p "$db"
		rpm --dbpath "$db" --initdb
		# --nodeps: the test database knows no systemd; --ignorearch: an
		# arm64 package is checked on an amd64 machine too.
		# Debian's rpm warns on every install that it is not the system's
		# package manager: shown only when the install fails.
		if ! rpm --dbpath "$db" -i --test --nodeps --ignorearch "$pkg" 2>"$tmp/rpm.err"; then
			cat "$tmp/rpm.err" >&2
			exit 1
		fi
		case $(rpm -qp --qf '%{ARCH}' "$pkg") in
		x86_64) label=amd64 ;;
		aarch64) label=arm64 ;;
		*) label=$(rpm -qp --qf '%{ARCH}' "$pkg") ;;
		esac
		rpm2archive - <"$pkg" | tar -xzOf - ./usr/bin/fanoutd >"$tmp/fanoutd"
		got=$(elf_machine <"$tmp/fanoutd")
		;;
	*)
		echo "$pkg: not a .deb or .rpm" >&2
		exit 2
		;;
	esac
	if [ "$got" != "$label" ]; then
		echo "$pkg: labelled $label, but its /usr/bin/fanoutd is $got" >&2
		exit 1
	fi
	echo "  $label, binary $got: OK"
done
