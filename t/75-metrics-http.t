#!/bin/sh
# GET /metrics over HTTP (metrics.listen) and the periodic stats line
# (metrics.stats_interval), against the real daemon; the exposition is
# checked by Prometheus' own promtool.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

command -v promtool >/dev/null 2>&1 ||
    { echo "Bail out! promtool (Debian package prometheus) is not installed"; exit 1; }
port=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1,
    LocalAddr => "127.0.0.1:0", ReuseAddr => 1) or die; print $s->sockport')
FBD_BEES=2
FBD_METRICS="listen = \"127.0.0.1:$port\"; stats_interval = 0.5;"
fbd_setup || { echo "Bail out! PostgreSQL or minicolonies did not start"; exit 1; }
fbd_start || { echo "Bail out! financebeed did not start"; exit 1; }
fbd_wait_bees 2
fbd_submit_generated 5 1
fbd_wait_closed 60
ok $? "every process closed: $FBD_WAIT"

url=http://127.0.0.1:$port/metrics
code=$(curl -s -o "$FBD_DIR/m.txt" -D "$FBD_DIR/m.hdr" -w '%{http_code}' "$url")
is "$code" 200 "GET /metrics answers 200"
grep -qi '^content-type: text/plain; version=0.0.4' "$FBD_DIR/m.hdr"
ok $? "with Prometheus' text content type"
grep -q '^financebee_up 1$' "$FBD_DIR/m.txt"
ok $? "the exposition holds financebee_up 1"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics >"$FBD_DIR/ctl.txt"
is "$(grep -c '^# TYPE' "$FBD_DIR/m.txt")" "$(grep -c '^# TYPE' "$FBD_DIR/ctl.txt")" \
    "the same families as fbeectl metrics"
promtool check metrics <"$FBD_DIR/m.txt" >"$FBD_DIR/promtool.out" 2>&1
ok $? "promtool check metrics: clean ($(tr '\n' ' ' <"$FBD_DIR/promtool.out"))"
http_total() {
	curl -s "$url" | sed -n 's/^financebee_tasks_total{outcome="[a-z]*"} \([0-9]*\)$/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }'
}
all_counted() { [ "$(http_total)" = "$FBD_SUBMITTED" ]; }
until_ok 10 all_counted
is "$(http_total)" "$FBD_SUBMITTED" "every task counted over HTTP"

is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")" 404 \
    "another path answers 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$url")" 405 \
    "POST answers 405"

wait_log 'master.*stats: [0-9.]+ tasks/s, p95 [0-9.]+ ms, tasks [0-9]+ .*bees 2/2, queue [a-z0-9 ]+, rss master [0-9]+ kB' 10
ok $? "the stats line is logged"

kill -TERM "$FBD_PID"
fbd_wait_gone 20
is "$FBD_RC" 0 "the daemon stops cleanly"
curl -s -o /dev/null "$url"
[ $? -ne 0 ]
ok $? "and the metrics port is closed"
check_no_sanitizer_reports "$FBD_LOG"
done_testing
