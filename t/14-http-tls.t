#!/bin/sh
# http.c over TLS against an OpenSSL server with self-signed certificates
# made here: trusted through SSL_CERT_FILE, untrusted without it, and
# refused for a name or address the certificate does not hold.
. "$(dirname "$0")/lib/fbtest.sh"
command -v openssl >/dev/null || skip_all "no openssl command"
d=$(fb_tmpdir)
for n in localhost wrong.example; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$d/$n.key" \
	    -out "$d/$n.crt" -subj "/CN=$n" \
	    -addext "subjectAltName=DNS:$n" >/dev/null 2>&1 ||
	    skip_all "openssl req cannot make a certificate"
done
"$FB_BUILDDIR/t/test-http" tls "$d/localhost.crt" "$d/localhost.key" \
    "$d/wrong.example.crt" "$d/wrong.example.key"
