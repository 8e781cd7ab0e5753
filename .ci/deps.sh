#!/bin/sh
# Install the Debian packages junction builds and tests with, when missing.
# Idempotent and quiet when everything is there.  Needs root (or sudo).
set -e
PKGS="build-essential pkg-config libosip2-dev libsmpp34-dev librabbitmq-dev
libsqlite3-dev sqlite3 libmicrohttpd-dev libevent-dev libjansson-dev libssl-dev
libsodium-dev libpcre2-dev libconfig-dev libc-ares-dev libcmocka-dev tzdata openssl"
# openssl (the command) makes `make run`'s self-signed HTTPS pair and the
# tests' certificates.
# Test peers: SIPp, RabbitMQ, Node.js for the SMPP/AMQP peers and Playwright;
# prometheus for promtool (tests/integration/metrics.test.mjs checks /metrics);
# groff-base to check the man pages (make check-install); tshark decodes the
# HEPv3 export (trace_hep.test.mjs).
# JUNCTION_DEPS=bench (make bench-sip, never make test): only the SIP
# bench's peers, Kamailio and SIPp; its kamailio service is not started.
case "${JUNCTION_DEPS:-all}" in
build) ;;
bench) PKGS="kamailio sip-tester" ;;
*) PKGS="$PKGS sip-tester rabbitmq-server nodejs npm chromium clang
prometheus groff-base tshark" ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# nodejs/npm may come from elsewhere than Debian: accept them when on PATH.
case "$missing" in *nodejs*|*npm*)
    command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//')
    command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//') ;;
esac
[ -z "$(echo $missing)" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The tests need only promtool of the prometheus package, not its server,
# and the bench runs its own kamailio: while installing, a policy-rc.d (when
# there is none) stops their maintainer scripts from starting the service,
# and it is not enabled at boot either.
guard=""
case "$missing" in *prometheus*|*kamailio*)
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi ;;
esac
rc=0
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -z "$guard" ] || $SUDO rm -f "$guard"
case "$missing" in *prometheus*)
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    $SUDO update-rc.d prometheus disable >/dev/null 2>&1 || true ;;
esac
case "$missing" in *kamailio*)
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now kamailio.service >/dev/null 2>&1 || true
    fi
    $SUDO update-rc.d kamailio disable >/dev/null 2>&1 || true ;;
esac
exit $rc
