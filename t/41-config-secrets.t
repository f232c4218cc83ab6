#!/bin/sh
# Secret files and inline secrets: group/other permission bits are refused
# (like ssh), mode 600 is accepted, and no secret ever appears in output.
. "$(dirname "$0")/lib/fbtest.sh"

T=$(fb_tmpdir)
ALL=$T/all-output
: >"$ALL"
out=
rc=

SEED=5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed
KEY1=fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d
KEY2=ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05
OWNER=0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de
WHSEC=whsec_s3cr3t_file_value_0001
WHSEC_INLINE=whsec_s3cr3t_inline_value_0002
PGPASS=pgs3cr3tpassw0rd
PGPASS_URI=pgs3cr3turipassw0rd

# secret NAME MODE CONTENT: a secret file in $T.
secret() {
	printf '%s\n' "$3" >"$T/$1"
	chmod "$2" "$T/$1"
}

# run CONFMODE CONTENT: financebeed -t on $T/c.conf.
run() {
	printf '%s\n' "$2" >"$T/c.conf"
	chmod "$1" "$T/c.conf"
	out=$("$FB_BUILDDIR/financebeed" -t -c "$T/c.conf" 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$ALL"
}

refused() {	# refused DESC REGEX
	is "$rc" 78 "$1: refused (78)"
	like "$out" "$2" "$1: message"
}
accepted() {
	is "$rc" 0 "$1: accepted"
	[ "$rc" -eq 0 ] || diag "$out"
}

for m in 644 640 604 660 620 601; do
	secret seed "$m" "$SEED"
	run 600 "colonies: { executor_seed_file = \"$T/seed\"; };"
	refused "seed file mode $m" \
	    "^financebeed: $T/c.conf:1: colonies.executor_seed_file: $T/seed: is readable by group or others; chmod 600 it\$"
done
secret seed 600 "$SEED"
run 644 "colonies: { executor_seed_file = \"$T/seed\"; };"
accepted "seed file mode 600 (config 644, no inline secret)"
secret seed 400 "$SEED"
run 644 "colonies: { executor_seed_file = \"$T/seed\"; };"
accepted "seed file mode 400"
secret seed 600 "not-hex-$SEED"
run 600 "colonies: { executor_seed_file = \"$T/seed\"; };"
refused "seed file not 64 hex" "$T/seed: must hold 64 hex characters"
run 600 "colonies: { executor_seed_file = \"$T/missing\"; };"
refused "seed file missing" "colonies.executor_seed_file: $T/missing: No such file or directory"
run 600 "colonies: { executor_seed_file = \"seed\"; };"
refused "seed file relative" "colonies.executor_seed_file: must be an absolute path"

printf '%s\n%s\n' "$KEY1" "$KEY2" >"$T/keys"
chmod 644 "$T/keys"
run 600 "bees = 2; colonies: { executor_keys_file = \"$T/keys\"; };"
refused "keys file mode 644" "colonies.executor_keys_file: $T/keys: is readable by group or others"
chmod 600 "$T/keys"
run 600 "bees = 2; colonies: { executor_keys_file = \"$T/keys\"; };"
accepted "keys file mode 600"
printf '%s\nzz%s\n' "$KEY1" "$KEY2" >"$T/keys"
run 600 "bees = 2; colonies: { executor_keys_file = \"$T/keys\"; };"
refused "keys file with a bad line" "$T/keys:2: must be one key of 64 hex characters per line"

secret owner 664 "$OWNER"
run 600 "colonies: { owner_key_file = \"$T/owner\"; };"
refused "owner key file mode 664" "colonies.owner_key_file: $T/owner: is readable by group or others"
chmod 600 "$T/owner"
run 600 "colonies: { owner_key_file = \"$T/owner\"; };"
accepted "owner key file mode 600"

secret whsec 644 "$WHSEC"
run 600 "stripe: { webhook_secrets = [ \"$T/whsec\" ]; };"
refused "webhook secret file mode 644" \
    "stripe.webhook_secrets\\[0\\]: $T/whsec: is readable by group or others; chmod 600 it"
chmod 600 "$T/whsec"
run 644 "stripe: { webhook_secrets = [ \"$T/whsec\" ]; };"
accepted "webhook secret file mode 600"
secret whsec2 600 "sk_live_notawebhooksecret"
run 600 "stripe: { webhook_secrets = [ \"$T/whsec\", \"$T/whsec2\" ]; };"
refused "webhook secret file without whsec_" \
    "stripe.webhook_secrets\\[1\\]: $T/whsec2: must hold one whsec_ secret"

run 644 "stripe: { webhook_secrets = [ \"$T/whsec\", \"$WHSEC_INLINE\" ]; };"
refused "inline whsec_ in a 644 config" \
    "$T/c.conf:1: stripe.webhook_secrets\\[1\\]: holds an inline secret and $T/c.conf: is readable by group or others; chmod 600 it"
run 600 "stripe: { webhook_secrets = [ \"$T/whsec\", \"$WHSEC_INLINE\" ]; };"
accepted "inline whsec_ in a 600 config"

run 644 "database: {
	conninfo = \"host=/tmp dbname=fb password=$PGPASS\";
};"
refused "inline password conninfo in a 644 config" \
    "$T/c.conf:2: database.conninfo: holds an inline secret and $T/c.conf: is readable by group or others; chmod 600 it"
run 640 "database: { conninfo = \"postgresql://fb:$PGPASS_URI@db.example/fb\"; };"
refused "password in a conninfo URI in a 640 config" "database.conninfo: holds an inline secret"
run 600 "database: { conninfo = \"host=/tmp dbname=fb password=$PGPASS\"; };"
accepted "inline password conninfo in a 600 config"
run 644 "database: { conninfo = \"host=/tmp dbname=fb user=fb\"; };"
accepted "conninfo without a password in a 644 config"
run 644 "database: { conninfo = \"host=/tmp dbname='fb password=$PGPASS\"; };"
refused "malformed conninfo" "database.conninfo: not a valid libpq connection string"

secret conninfo 644 "host=/tmp password=$PGPASS"
run 644 "database: { conninfo_file = \"$T/conninfo\"; };"
refused "conninfo file mode 644" "database.conninfo_file: $T/conninfo: is readable by group or others"
chmod 600 "$T/conninfo"
run 644 "database: { conninfo_file = \"$T/conninfo\"; };"
accepted "conninfo file mode 600"

# The TLS client key of the ColonyOS transport is a secret file too; the
# certificate, CA file and CA path must exist; the proxy's password is an
# inline secret.
TLSKEY="-----BEGIN PRIVATE KEY-----tlss3cr3tkey"
secret tls.key 640 "$TLSKEY"
secret tls.crt 644 "not checked here"
run 600 "colonies: { tls_cert_file = \"$T/tls.crt\"; tls_key_file = \"$T/tls.key\"; };"
refused "TLS key file mode 640" \
    "colonies.tls_key_file: $T/tls.key: is readable by group or others; chmod 600 it"
chmod 600 "$T/tls.key"
run 644 "colonies: { tls_cert_file = \"$T/tls.crt\"; tls_key_file = \"$T/tls.key\"; };"
accepted "TLS key file mode 600"
run 644 "colonies: { tls_key_file = \"$T/tls.key\"; };"
refused "TLS key without a certificate" "colonies.tls_key_file: needs colonies.tls_cert_file"
run 644 "colonies: { ca_file = \"$T/nope.pem\"; };"
refused "missing CA file" "colonies.ca_file: $T/nope.pem: No such file or directory"
run 644 "colonies: { ca_path = \"$T/tls.crt\"; };"
refused "CA path not a directory" "colonies.ca_path: $T/tls.crt: not a directory"
run 644 "colonies: { ca_path = \"$T\"; ca_file = \"$T/tls.crt\"; };"
accepted "CA file and CA path"
run 644 "colonies: { proxy = \"http://u:pr0xys3cr3t@127.0.0.1:3128\"; };"
refused "proxy password in a config file mode 644" \
    "colonies.proxy: holds an inline secret"
run 600 "colonies: { proxy = \"http://u:pr0xys3cr3t@127.0.0.1:3128\"; };"
accepted "proxy password in a config file mode 600"

# Every message so far, the refusals included: no secret value.
for s in "$SEED" "$KEY1" "$KEY2" "$OWNER" "$WHSEC" "$WHSEC_INLINE" "$PGPASS" \
    "$PGPASS_URI" tlss3cr3tkey pr0xys3cr3t s3cr3t; do
	if grep -q -- "$s" "$ALL"; then
		ok 1 "no secret in any output: found one"
	else
		ok 0 "no secret in any output (${s%"${s#????????}"}...)"
	fi
done
done_testing
