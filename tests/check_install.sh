#!/bin/sh
# `make install` into a temporary DESTDIR, then check what it put there:
# every file in its place with its mode, the unit's paths rewritten for
# PREFIX and SYSCONFDIR, an existing configuration kept, the installed
# binaries run, the man pages free of groff warnings, and the unit
# accepted by `systemd-analyze verify` when systemd is installed (it is not
# installed for this).  Run by `make check-install` and `make test`; each
# failure says which file and why.
set -eu
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/junction-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "check-install: $*" >&2; exit 1; }

$MAKE --no-print-directory -s install BUILD="$BUILD" DESTDIR="$tmp" PREFIX=/opt/jn \
    SYSCONFDIR=/opt/jn/etc >/dev/null || fail "make install failed"

# file, mode
while read -r f mode; do
    [ -f "$tmp/$f" ] || fail "$f was not installed"
    m=$(stat -c %a "$tmp/$f")
    [ "$m" = "$mode" ] || fail "$f has mode $m, not $mode"
done <<EOF_LIST
opt/jn/sbin/junction 755
opt/jn/bin/junctionctl 755
opt/jn/share/man/man8/junction.8 644
opt/jn/share/man/man8/junctionctl.8 644
opt/jn/lib/systemd/system/junction.service 644
opt/jn/lib/sysusers.d/junction.conf 644
opt/jn/etc/junction/junction.cfg 644
EOF_LIST

unit="$tmp/opt/jn/lib/systemd/system/junction.service"
grep -qx 'ExecStart=/opt/jn/sbin/junction -c /opt/jn/etc/junction/junction.cfg' "$unit" ||
    fail "the unit's ExecStart does not name the installed binary and configuration"
! grep -q '/usr/local' "$unit" || fail "the unit still names /usr/local"
"$tmp/opt/jn/sbin/junction" -V | grep -q '^junction ' || fail "the installed junction does not run"
"$tmp/opt/jn/sbin/junction" -c "$tmp/opt/jn/etc/junction/junction.cfg" -t >/dev/null ||
    fail "the installed configuration file does not check"
"$tmp/opt/jn/bin/junctionctl" --help | grep -q '^usage: junctionctl' ||
    fail "the installed junctionctl does not run"

# an operator's configuration survives a second install
echo '# mine' > "$tmp/opt/jn/etc/junction/junction.cfg"
$MAKE --no-print-directory -s install BUILD="$BUILD" DESTDIR="$tmp" PREFIX=/opt/jn \
    SYSCONFDIR=/opt/jn/etc >/dev/null || fail "make install failed the second time"
[ "$(cat "$tmp/opt/jn/etc/junction/junction.cfg")" = '# mine' ] ||
    fail "a second make install overwrote the configuration file"

# man pages: rendered without a single warning (groff-base, .ci/deps.sh)
for page in junction.8 junctionctl.8; do
    out=$(groff -man -Tutf8 -ww "$tmp/opt/jn/share/man/man8/$page" 2>&1 >/dev/null) ||
        fail "groff cannot render $page"
    [ -z "$out" ] || fail "$page: $out"
    for section in SYNOPSIS OPTIONS "EXIT STATUS" FILES EXAMPLES; do
        grep -q "^\.SH $section\$" "$tmp/opt/jn/share/man/man8/$page" ||
            fail "$page has no $section section"
    done
done

# the unit, when systemd-analyze is there: against the staged tree, with
# the man pages it names findable
if command -v systemd-analyze >/dev/null 2>&1; then
    cp "$unit" "$tmp/junction.service"
    sed -i "s|^ExecStart=/opt/jn|ExecStart=$tmp/opt/jn|" "$tmp/junction.service"
    out=$(MANPATH="$tmp/opt/jn/share/man" systemd-analyze verify "$tmp/junction.service" 2>&1) ||
        fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
fi
echo "check-install: ok"
