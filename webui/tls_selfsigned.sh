#!/bin/sh
# tls_selfsigned.sh DIR - the HTTPS pair `make run` uses when none is given:
# DIR/cert.pem and DIR/key.pem (mode 0600), a self-signed certificate for
# 127.0.0.1, ::1 and localhost made with the openssl command on the first
# run and kept after (a new one when it is about to expire; delete DIR to
# force one).  Quiet when the pair is there; says what it made otherwise.
set -e
dir=${1:?usage: tls_selfsigned.sh DIR}
cert=$dir/cert.pem
key=$dir/key.pem
if [ -s "$cert" ] && [ -s "$key" ] &&
   openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1; then
    exit 0
fi
command -v openssl >/dev/null 2>&1 ||
    { echo "$0: needs the openssl command (apt-get install openssl)" >&2; exit 1; }
umask 077
mkdir -p "$dir"
if ! out=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 825 -subj "/CN=junction self-signed" \
        -addext "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" \
        -keyout "$key.tmp" -out "$cert.tmp" 2>&1); then
    echo "$0: openssl could not make the pair: $out" >&2
    rm -f "$key.tmp" "$cert.tmp"
    exit 1
fi
chmod 600 "$key.tmp"
chmod 644 "$cert.tmp"
mv "$key.tmp" "$key"
mv "$cert.tmp" "$cert"
echo "made a self-signed HTTPS certificate $cert (key $key, mode 0600), kept for later runs;"
echo "browsers warn until you trust it: $(openssl x509 -in "$cert" -noout -fingerprint -sha256)"
