#!/bin/sh
# etc/financebee.conf passes financebeed -t once its secret files exist:
# the same file with its /etc/financebee/ paths moved to a temp dir.
. "$(dirname "$0")/lib/fbtest.sh"
plan 7

T=$(fb_tmpdir)
SAMPLE=$FB_SRCDIR/etc/financebee.conf

# As shipped, only the missing secret files stand in the way.
out=$("$FB_BUILDDIR/financebeed" -t -c "$SAMPLE" 2>&1)
is "$?" 78 "the sample as shipped needs its secret files"
like "$out" ": /etc/financebee/[a-z.]+: No such file or directory" \
    "and names one of them under /etc/financebee/"

sed "s|\"/etc/financebee/|\"$T/|g" "$SAMPLE" >"$T/financebee.conf"
chmod 644 "$T/financebee.conf"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
    >"$T/executor.seed"
printf '%s\n' whsec_sample_test_secret >"$T/whsec"
chmod 600 "$T/executor.seed" "$T/whsec"
ok "$(grep -c "$T/" "$T/financebee.conf" | awk '{ print ($1 >= 2) ? 0 : 1 }')" \
    "the variant points at the temp dir"

out=$("$FB_BUILDDIR/financebeed" -t -c "$T/financebee.conf" 2>&1)
is "$?" 0 "the sample with temp paths passes -t"
like "$out" "configuration OK" "and says so"

chmod 644 "$T/whsec"
out=$("$FB_BUILDDIR/financebeed" -t -c "$T/financebee.conf" 2>&1)
is "$?" 78 "the sample with a 644 webhook secret file is refused"
like "$out" "stripe.webhook_secrets\\[0\\]: $T/whsec: is readable by group or others" \
    "naming the key and the file"
