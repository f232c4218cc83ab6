#!/bin/sh
# financebeed -t: syntax errors, wrong types, ranges, unknown keys and
# cross-field rules each exit 78 naming file:line and the key.
. "$(dirname "$0")/lib/fbtest.sh"

T=$(fb_tmpdir)
n=0
out=
rc=

# run NAME CONTENT: write $T/NAME.conf (mode 600), run financebeed -t on it.
run() {
	printf '%s\n' "$2" >"$T/$1.conf"
	chmod 600 "$T/$1.conf"
	out=$("$FB_BUILDDIR/financebeed" -t -c "$T/$1.conf" 2>&1)
	rc=$?
}

# bad NAME CONTENT REGEX: exit 78 and stderr matching
# "financebeed: FILE:REGEX" (REGEX starts with the line number).
bad() {
	n=$((n + 1))
	run "bad$n" "$2"
	is "$rc" 78 "$1: exit 78"
	like "$out" "^financebeed: $T/bad$n.conf:$3" "$1: $3"
}

good() {
	run good "$2"
	is "$rc" 0 "$1: exit 0"
	like "$out" "configuration OK" "$1: says OK"
}

printf '%s\n' 5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed \
    >"$T/seed"
chmod 600 "$T/seed"
good "every default but an executor identity" \
    "colonies: { executor_seed_file = \"$T/seed\"; };"
# -t makes the checks the start makes: without an identity no bee can run.
run empty "# nothing"
is "$rc" 78 "empty file: exit 78 (no executor identity)"
like "$out" "^financebeed: $T/empty.conf: colonies: no executor identity: set executor_seed_file or executor_keys_file\$" \
    "empty file: says what is missing"
run nolog "colonies: { executor_seed_file = \"$T/seed\"; };
log: { target = \"$T/no/such/dir/fb.log\"; };"
is "$rc" 78 "log file in a missing directory: exit 78"
like "$out" "log.target: $T/no/such/dir/fb.log: No such file or directory" \
    "log file in a missing directory: names it"
[ ! -e "$T/no" ]
ok $? "... and -t created nothing"
good "a few settings" 'bees = 2;
colonies: { url = "https://colonies.example/api"; poll_timeout = 30;
  lease = 60; executor_seed_file = "'"$T/seed"'"; };
supervision: { task_timeout = 59.5; respawn_min = 0.1; respawn_max = 0.1; };
stripe: { tiers = [ "free", "pro" ];
  prices = ( { price = "price_1"; tier = "pro"; } );
  premium_statuses = [ "active", "trialing", "past_due" ]; };
admin: { mode = "0600"; groups = [ "daemon" ]; };
log: { level = "debug"; target = "'"$T/fb.log"'"; };'

# Syntax.
bad "missing value" 'bees = 4;
colonies: {
	url = ;
};' '3: syntax error: '
bad "unterminated string" 'bees = 4;
log: { level = "info; };
metrics: { interval = 1; };' '[0-9]+: syntax error: '
bad "double equals" 'bees = 4;
colonies: { poll_timeout = = 4; };' '2: syntax error: '
bad "duplicate key" 'bees = 4;
bees = 5;' '2: syntax error: '

# Types.
bad "string for an integer" 'bees = "4";' '1: bees: must be an integer'
bad "float for an integer" 'colonies: { poll_timeout = 1.5; };' \
    '1: colonies.poll_timeout: must be an integer'
bad "string for seconds" '
supervision: {
	respawn_min = "fast";
};' '3: supervision.respawn_min: must be a number of seconds'
bad "integer for a bool" 'stripe: { livemode = 1; };' \
    '1: stripe.livemode: must be true or false'
bad "string for a list" 'stripe: { tiers = "gold"; };' \
    '1: stripe.tiers: must be a list of strings'
bad "number in a list" 'colonies: { funcnames = [ "a" ]; };
stripe: {
	tiers = ( "a", 5 );
};' '3: stripe.tiers\[1\]: must be a string'
bad "integer for a mode" 'admin: { mode = 660; };' \
    '1: admin.mode: must be an octal mode'
bad "group given as a value" 'log = "debug";' '1: log: must be a group'
bad "list of non-groups for prices" 'stripe: { prices = [ "price_1" ]; };' \
    '1: stripe.prices: must be a list of groups'

# Ranges.
bad "bees = 0" 'bees = 0;' '1: bees: 0 is out of range 1..256'
bad "bees = 257" '# many
bees = 257;' '2: bees: 257 is out of range 1..256'
bad "poll_timeout above 600" 'colonies: { poll_timeout = 601; };' \
    '1: colonies.poll_timeout: 601 is out of range 1..600'
bad "an admin group that does not exist" \
    'admin: { groups = [ "root", "fbtest-no-such-group" ]; };' \
    '1: admin.groups: no such group: fbtest-no-such-group'
bad "a read-only group that does not exist" \
    'admin: { readonly_groups = [ "fbtest-no-such-group" ]; };' \
    '1: admin.readonly_groups: no such group: fbtest-no-such-group'
bad "shutdown_timeout below 1 s" 'supervision: { shutdown_timeout = 0.5; };' \
    '1: supervision.shutdown_timeout: 0.5 s is out of range 1\.\.'
# libconfig would wrap this to 4 without the scan in config.c.
bad "integer beyond 32 bits" 'bees = 4294967300;' \
    '1: integer 4294967300 does not fit in 32 bits'
bad "64-bit integer out of range" 'colonies: { lease = 4294967300L; };' \
    '1: colonies.lease: 4294967300 is out of range 1..86400'
bad "negative seconds" 'database: { statement_timeout = -1; };' \
    '1: database.statement_timeout: -1 s is out of range'
bad "mode not octal" 'admin: { mode = "0999"; };' '1: admin.mode: must be an octal'
bad "mode without leading zero" 'admin: { mode = "660"; };' '1: admin.mode: must be an octal'
bad "unknown log level" 'log: { level = "loud"; };' \
    '1: log.level: "loud" is not one of: error, warn, info, debug'
bad "relative log target" 'log: { target = "var/log/fb"; };' \
    '1: log.target: must be stderr, syslog or an absolute path'
bad "relative admin socket" 'admin: { socket = "fb.sock"; };' \
    '1: admin.socket: must be an absolute path'
bad "url not http" 'colonies: { url = "ftp://x/api"; };' \
    '1: colonies.url: must start with http:// or https://'
bad "url with a bad port" 'colonies: { url = "http://h:99999/api"; };' \
    '1: colonies.url: URL: bad port'
bad "empty colony" 'colonies: { colony = ""; };' '1: colonies.colony: must not be empty'
bad "bad executor prefix" 'colonies: { executor_prefix = "a b"; };' \
    '1: colonies.executor_prefix: may hold only'
bad "empty funcnames" 'colonies: { funcnames = [ ]; };' \
    '1: colonies.funcnames: must not be empty'
bad "empty tiers" 'stripe: { tiers = [ ]; };' '1: stripe.tiers: must not be empty'
bad "duplicate tier" 'stripe: { tiers = [ "a", "b", "a" ]; };' \
    '1: stripe.tiers\[2\]: duplicate "a"'
bad "unknown premium status" 'stripe: {
	premium_statuses = [ "active", "gone" ];
};' '2: stripe.premium_statuses\[1\]: "gone" is not one of: incomplete, '

# Unknown keys.
bad "unknown top-level key" 'bees = 4;
colour = "blue";' '2: colour: unknown key'
bad "unknown group" 'bees = 4;

frobnicate: { a = 1; };' '3: frobnicate: unknown key'
bad "unknown nested key" 'colonies: {
	url = "http://127.0.0.1:1/api";
	urll = "http://127.0.0.1:1/api";
};' '3: colonies.urll: unknown key'
bad "key in the wrong group" 'database: { poll_timeout = 5; };' \
    '1: database.poll_timeout: unknown key'
bad "nested group" 'log: { extra: { level = "info"; }; };' '1: log.extra: unknown key'
bad "unknown key in a price" 'stripe: {
	prices = ( { price = "price_1"; tier = "gold"; },
	           { price = "price_2"; tierr = "gold"; } );
};' '3: stripe.prices\[1\].tierr: unknown key'
bad "price without tier" 'stripe: { prices = ( { price = "price_1"; } ); };' \
    '1: stripe.prices\[0\].tier: missing'

# Cross-field rules.
bad "task_timeout not below lease" 'colonies: { lease = 30; };
supervision: {
	task_timeout = 30;
};' '3: supervision.task_timeout: supervision.task_timeout must be below colonies.lease'
bad "default task_timeout above a short lease" 'colonies: {
	lease = 10;
};' '2: colonies.lease: supervision.task_timeout must be below colonies.lease'
bad "respawn_min above respawn_max" 'supervision: { respawn_min = 5;
	respawn_max = 2; };' \
    '1: supervision.respawn_min: supervision.respawn_min must be at most supervision.respawn_max'
bad "heartbeat_timeout not above metrics.interval" 'metrics: { interval = 2; };
supervision: { heartbeat_timeout = 2; };' \
    '1: metrics.interval: metrics.interval must be below supervision.heartbeat_timeout'
bad "price tier not in tiers" 'stripe: {
	tiers = [ "basic", "pro" ];
	prices = ( { price = "price_1"; tier = "gold"; } );
};' '3: stripe.prices\[0\]: tier "gold" is not in stripe.tiers'
bad "price mapped twice" 'stripe: {
	prices = ( { price = "price_1"; tier = "gold"; },
		{ price = "price_1"; tier = "silver"; } );
};' '3: stripe.prices\[1\]: price "price_1" is mapped twice'
printf '%s\n' 0000000000000000000000000000000000000000000000000000000000000001 \
    >"$T/seed"
chmod 600 "$T/seed"
bad "both seed and keys file" "colonies: {
	executor_seed_file = \"$T/seed\";
	executor_keys_file = \"$T/seed\";
};" '3: colonies.executor_keys_file: set only one of'
bad "both conninfo and conninfo_file" "database: {
	conninfo = \"host=/tmp\";
	conninfo_file = \"$T/seed\";
};" '3: database.conninfo_file: set only one of'

"$FB_BUILDDIR/financebeed" -t -c "$T/does-not-exist.conf" >"$T/out" 2>&1
is "$?" 78 "missing file: exit 78"
like "$(cat "$T/out")" "$T/does-not-exist.conf: No such file or directory" \
    "missing file: says so"
done_testing
