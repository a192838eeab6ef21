#!/bin/sh
# gen-certs.sh DIR - a self-signed test CA and a server certificate for
# 127.0.0.1, ::1 and localhost, signed by it, for llmux-mock --tls-port.
# Writes DIR/ca.pem (trust this), DIR/ca.key, DIR/server.pem, DIR/server.key.
# Idempotent: keeps existing files while the server certificate is valid for
# another day. Never commit the keys: DIR belongs in a build directory.
set -eu
dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
# Tests start mocks in parallel: one generator at a time, the others then
# find a valid set.
exec 9>.lock
flock 9
if [ -s ca.pem ] && [ -s server.pem ] && [ -s server.key ] &&
    openssl x509 -in server.pem -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1; then
    exit 0
fi
tmp=$(mktemp -d "./.gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=llmux-mock test CA" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=localhost" -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$tmp/ext.cnf"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 825 -extfile "$tmp/ext.cnf" -out "$tmp/server.pem" 2>/dev/null
chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
for f in ca.key server.key ca.pem server.pem; do mv -f "$tmp/$f" "$f"; done
