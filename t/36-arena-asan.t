#!/bin/sh
# arena.c under AddressSanitizer: the arena stays on, and what it takes back
# is poisoned, so a read of a freed jansson value is reported.  In a plain
# build the same read goes unnoticed (and must not crash).
. "$(dirname "$0")/lib/fbtest.sh"
plan 2
bin=$FB_BUILDDIR/t/test-arena
dir=$(fb_tmpdir)
kind=$("$bin" -a)
ok $? "test-arena -a says which build this is ($kind)"
"$bin" -u >"$dir/out" 2>&1; rc=$?
if [ "$kind" = asan ]; then
	grep -q 'use-after-poison' "$dir/out" && [ "$rc" -ne 0 ]
	ok $? "ASan reports a read of a freed arena value (rc $rc)"
else
	[ "$rc" -eq 0 ]
	ok $? "plain build: the read goes unnoticed (rc $rc)"
fi
