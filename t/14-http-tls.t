#!/bin/sh
# http.c over TLS against an OpenSSL server with certificates made here:
# self-signed ones trusted through SSL_CERT_FILE, untrusted without it, and
# refused for a name or address the certificate does not hold; one from a
# private CA, trusted through ca_file or ca_path only; replies cut short
# without close_notify refused.
. "$(dirname "$0")/lib/fbtest.sh"
command -v openssl >/dev/null || skip_all "no openssl command"
d=$(fb_tmpdir)
for n in localhost wrong.example; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$d/$n.key" \
	    -out "$d/$n.crt" -subj "/CN=$n" \
	    -addext "subjectAltName=DNS:$n" >/dev/null 2>&1 ||
	    skip_all "openssl req cannot make a certificate"
done
# A private CA and a localhost certificate it signed; a hashed CA directory.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$d/ca.key" \
    -out "$d/ca.crt" -subj "/CN=financebee test CA" >/dev/null 2>&1 &&
openssl req -new -newkey rsa:2048 -nodes -keyout "$d/srv.key" \
    -out "$d/srv.csr" -subj "/CN=localhost" >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:localhost\n' >"$d/ext" &&
openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -extfile "$d/ext" -out "$d/srv.crt" \
    >/dev/null 2>&1 || skip_all "openssl cannot make a private CA"
mkdir "$d/cadir" && cp "$d/ca.crt" "$d/cadir/" &&
    openssl rehash "$d/cadir" >/dev/null 2>&1 ||
    skip_all "openssl rehash cannot hash a CA directory"
"$FB_BUILDDIR/t/test-http" tls "$d/localhost.crt" "$d/localhost.key" \
    "$d/wrong.example.crt" "$d/wrong.example.key" \
    "$d/ca.crt" "$d/srv.crt" "$d/srv.key" "$d/cadir"
