#!/bin/sh
# bench/colonies-bench.sh [COUNT]: assign+close cycles/s of minicolonies
# with 1, 4 and 8 no-op executors (each its own process, key and client).
# A fresh minicolonies per run; COUNT processes are pre-submitted each time.
#
#   FB_BUILDDIR=build sh bench/colonies-bench.sh 20000
#
# Needs "make bench" (bench/colonies-bench) and minicolonies in FB_BUILDDIR.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
FB_BUILDDIR=${FB_BUILDDIR:-$top/build}
count=${1:-20000}
mc=$FB_BUILDDIR/minicolonies
bench=$FB_BUILDDIR/bench/colonies-bench
[ -x "$mc" ] && [ -x "$bench" ] || {
	echo "build first: make all bench (in $FB_BUILDDIR)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcbench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Test keys from the protocol's vectors (never real keys).
umask 077
echo 0000000000000000000000000000000000000000000000000000000000000001 \
    >"$tmp/server.key"
echo fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d \
    >"$tmp/owner.key"
echo ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05 \
    >"$tmp/sub.key"
umask 022

echo "# minicolonies assign+close benchmark, $count processes per run," \
    "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 4 8; do
	rm -f "$tmp/port"
	"$mc" serve --listen 127.0.0.1:0 --port-file "$tmp/port" \
	    --server-key-file "$tmp/server.key" 2>>"$tmp/mc.log" &
	pid=$!
	for _ in $(seq 1 100); do
		[ -s "$tmp/port" ] && break
		sleep 0.05
	done
	url=http://127.0.0.1:$(cat "$tmp/port")/api
	"$bench" --url "$url" --server-key-file "$tmp/server.key" \
	    --owner-key-file "$tmp/owner.key" \
	    --submitter-key-file "$tmp/sub.key" --executors "$n" \
	    --count "$count" --server-pid "$pid"
	echo "# server: $(curl -s "${url%/api}/stats")"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
