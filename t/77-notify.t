#!/bin/sh
# sd_notify without systemd: a Unix datagram listener stands for the
# service manager.  READY=1 comes once every bee has said hello (the STATUS=
# in it says so), RELOADING=1 then READY=1 around fbeectl reload, STOPPING=1
# on stop, WATCHDOG=1 pings while WATCHDOG_USEC is set; the bees do not
# inherit NOTIFY_SOCKET; an abstract socket ("@name") works too; a fatal
# start-up error reaches stderr when the log goes to a file.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

command -v perl >/dev/null 2>&1 || skip_all "perl not installed"
FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"

# listen ADDRESS FILE: every datagram to ADDRESS as one line of FILE
# (newlines as "|"); FILE starts with "bound" once it listens.
listen() {
	: >"$2"
	perl -MSocket -MIO::Handle -e '
	    my ($p, $out) = @ARGV;
	    socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
	    my $a = $p =~ /^@(.*)/ ? pack_sockaddr_un("\0$1")
	        : pack_sockaddr_un($p);
	    bind($s, $a) or die "bind: $!";
	    open(my $f, ">>", $out) or die "$out: $!";
	    $f->autoflush(1);
	    print $f "bound\n";
	    while (defined(recv($s, my $b, 4096, 0))) {
	        $b =~ s/\n/|/g; print $f "$b\n";
	    }' "$1" "$2" &
	fb_track_pid $!
	until_ok 10 grep -q bound "$2"
}
N=$FBD_DIR/notify.log
seen() { grep -Eq -- "$1" "$N"; }
first() { grep -En -- "$1" "$N" | head -1 | cut -d: -f1; }

listen "$FBD_DIR/notify.sock" "$N"
ok $? "listener bound"
NOTIFY_SOCKET=$FBD_DIR/notify.sock WATCHDOG_USEC=400000 fbd_start
ok $? "financebeed started with NOTIFY_SOCKET and WATCHDOG_USEC"
until_ok 30 seen '^READY=1'
ok $? "READY=1 sent"
like "$(grep '^READY=1' "$N" | head -1)" 'STATUS=2 of 2 bees up, ' \
    "READY=1 only once both bees are up (its STATUS=)"
like "$(grep '^READY=1' "$N" | head -1)" "MAINPID=$FBD_PID" "... with MAINPID"
until_ok 10 sh -c "[ \$(grep -c '^WATCHDOG=1' '$N') -ge 3 ]"
ok $? "WATCHDOG=1 pings every WATCHDOG_USEC/2"
leak=0
for p in $(fbd_bee_pids); do
	tr '\0' '\n' <"/proc/$p/environ" | grep -q '^NOTIFY_SOCKET=' && leak=1
done
[ -n "$(fbd_bee_pids)" ] && [ "$leak" -eq 0 ]
ok $? "the bees do not inherit NOTIFY_SOCKET"

n0=$(wc -l <"$N")
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" reload >/dev/null
ok $? "fbeectl reload"
tail -n +"$((n0 + 1))" "$N" | grep -v '^WATCHDOG=1$' >"$FBD_DIR/after-reload"
like "$(sed -n 1p "$FBD_DIR/after-reload")" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' \
    "RELOADING=1 first"
like "$(sed -n 2p "$FBD_DIR/after-reload")" '^READY=1\|STATUS=reloaded: generation 2$' \
    "then READY=1 with the new generation"

"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" stop >/dev/null
fbd_wait_gone 30
is "$FBD_RC" 0 "stopped, exit 0"
seen '^STOPPING=1'
ok $? "STOPPING=1 sent"
[ "$(first '^STOPPING=1')" -gt "$(first '^READY=1\|STATUS=reloaded')" ]
ok $? "... after the reload's READY=1"

# An abstract socket, no watchdog.
A=$FBD_DIR/abstract.log
listen "@fbtest-notify-$$" "$A"
N=$A
: >"$FBD_LOG"
NOTIFY_SOCKET=@fbtest-notify-$$ fbd_start
until_ok 30 seen '^READY=1'
ok $? "abstract socket: READY=1"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" stop >/dev/null
fbd_wait_gone 30
seen '^STOPPING=1'
ok $? "abstract socket: STOPPING=1"
seen '^WATCHDOG=1' && ok 1 "no WATCHDOG_USEC: no pings" || ok 0 "no WATCHDOG_USEC: no pings"

# A fatal start-up error with the log in a file: on stderr too.
cp "$FBD_CONF" "$FBD_DIR/bad.conf"
sed -i "s|^admin: .*|admin: { socket = \"$FBD_DIR/no/such/dir/s.sock\"; };|;
    s|target = \"stderr\"|target = \"$FBD_DIR/file.log\"|" "$FBD_DIR/bad.conf"
out=$("$FB_BUILDDIR/financebeed" -c "$FBD_DIR/bad.conf" 2>&1 </dev/null)
rc=$?
[ "$rc" -ne 0 ]
ok $? "a daemon that cannot open its admin socket exits (status $rc)"
like "$out" 'admin socket: .*no/such/dir' "... saying why on stderr"
grep -q 'admin socket: .*no/such/dir' "$FBD_DIR/file.log"
ok $? "... and in its log file"
done_testing
