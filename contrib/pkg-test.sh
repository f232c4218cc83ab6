#!/bin/sh
# contrib/pkg-test.sh PHASE: the release checks contrib/test.sh runs after
# "make distcheck", each a phase of its own.  Needs root (it installs and
# purges the Debian package on this machine), Debian 12, contrib/deps.sh
# with its packaging list, and a build tree in build/ (minicolonies for
# the smoke test, the release tarball that "make distcheck" left).
#
#   dist  every file git tracks is in the release tarball (tar-pax keeps
#         the fixtures' long paths), except the few listed below
#   deb   dpkg-buildpackage -us -uc -b from a fresh clone of HEAD
#         (committed work only), lintian without errors or warnings
#   smoke install the .deb, check its layout, run the installed
#         financebeed as the service user (as the unit would) against a
#         throwaway PostgreSQL and the bundled ColonyOS server, submit the
#         real Stripe fixtures, check fbeectl as a member of
#         admin.readonly_groups; then purge and check that nothing of the
#         package is left but the service user and group (kept, as
#         Debian's sysusers.d packages do)
#   rpm   rpmbuild -bb --nodeps contrib/financebee.spec from the tarball
#         with Debian's rpm, and the package's file list
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
phase=${1:?usage: pkg-test.sh dist|deb|smoke|rpm}
work=$top/build/pkg
version=$(sed -n 's/^AC_INIT(\[financebee\], \[\([^]]*\)\].*/\1/p' configure.ac)
tarball=$top/build/financebee-$version.tar.gz

fail() { echo "pkg-test: $phase: $*" >&2; exit 1; }

# same WANT GOT WHAT: two file lists agree, or show how they differ.
same() {
	if ! diff -u "$1" "$2" >"$work/diff" 2>&1; then
		cat "$work/diff" >&2
		fail "$3 differ (- expected, + found)"
	fi
}

case $phase in
dist)
	[ -f "$tarball" ] || (cd build && make -s dist >/dev/null)
	mkdir -p "$work"
	# Not shipped: CI and git configuration only.
	git ls-files | grep -v -e '^\.gitignore$' | sort >"$work/git-files"
	tar -tzf "$tarball" | sed "s|^financebee-$version/||" |
	    grep -v '/$' | sort >"$work/tar-files"
	comm -23 "$work/git-files" "$work/tar-files" >"$work/missing"
	if [ -s "$work/missing" ]; then
		cat "$work/missing" >&2
		fail "$(wc -l <"$work/missing") tracked files are not in $tarball"
	fi
	long=$(tar -tzf "$tarball" | awk 'length > 99' | wc -l)
	echo "   $(wc -l <"$work/tar-files") files in the tarball," \
	    "$long with paths over 99 characters; every tracked file is there"
	;;
deb)
	rm -rf "$work/deb"
	mkdir -p "$work/deb"
	git clone -q "$top" "$work/deb/src"
	(cd "$work/deb/src" && dpkg-buildpackage -us -uc -b \
	    >"$work/deb/build.log" 2>&1) || {
		tail -n 60 "$work/deb/build.log" >&2
		fail "dpkg-buildpackage failed (log: $work/deb/build.log)"
	}
	# lintian refuses nothing as root but says so; it reads as nobody.
	lintian --fail-on error,warning -I "$work"/deb/financebee_*.changes \
	    >"$work/deb/lintian.log" 2>&1 || {
		cat "$work/deb/lintian.log" >&2
		fail "lintian reports errors or warnings"
	}
	grep -E '^[EW]: ' "$work/deb/lintian.log" >&2 &&
	    fail "lintian reports errors or warnings"
	ls "$work"/deb/*.deb | sed 's|.*/|   |'
	;;
smoke)
	deb=$(ls "$work"/deb/financebee_"$version"-*_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || fail "no package: run the deb phase first"
	[ -x build/minicolonies ] || sh contrib/build.sh build
	dpkg -s financebee >/dev/null 2>&1 && fail "financebee is already installed"
	snap() {
		find /etc /usr /lib /var/lib/systemd /var/log /run -xdev \
		    \( -iname '*financebee*' -o -name 'fbeectl*' \) 2>/dev/null |
		    sort
		dpkg-statoverride --list | grep -i financebee || true
	}
	mkdir -p "$work/smoke"
	snap >"$work/smoke/before"
	dpkg -i "$deb" >"$work/smoke/install.log" 2>&1 || {
		cat "$work/smoke/install.log" >&2; fail "dpkg -i failed"; }

	# The layout.
	for f in /usr/sbin/financebeed /usr/bin/fbeectl \
	    /lib/systemd/system/financebeed.service \
	    /usr/lib/sysusers.d/financebee.conf \
	    /usr/share/financebee/sql/001_init.sql \
	    /usr/share/man/man8/financebeed.8.gz \
	    /usr/share/man/man8/fbeectl.8.gz \
	    /usr/share/man/man5/financebee.conf.5.gz \
	    /usr/share/bash-completion/completions/fbeectl \
	    /etc/logrotate.d/financebee /usr/share/doc/financebee/copyright; do
		[ -e "$f" ] || fail "$f is not installed"
	done
	dpkg -L financebee | grep -q minicolonies && fail "minicolonies is packaged"
	grep -qx /etc/financebee.conf /var/lib/dpkg/info/financebee.conffiles ||
	    fail "/etc/financebee.conf is not a conffile"
	id financebee >/dev/null 2>&1 || fail "no user financebee"
	[ "$(stat -c '%a %U %G' /etc/financebee.conf)" = "640 root financebee" ] ||
	    fail "/etc/financebee.conf: $(stat -c '%a %U %G' /etc/financebee.conf)"
	[ "$(stat -c '%a %U %G' /etc/financebee)" = "750 root financebee" ] ||
	    fail "/etc/financebee: $(stat -c '%a %U %G' /etc/financebee)"
	grep -q '^ExecStart=/usr/sbin/financebeed -c /etc/financebee.conf$' \
	    /lib/systemd/system/financebeed.service || fail "unit paths"
	st=$(systemctl is-enabled financebeed.service 2>/dev/null || true)
	[ "$st" = disabled ] || fail "financebeed.service is $st, not disabled"
	# The sample configuration: -t names what is missing, exit 78.
	rc=0; out=$(/usr/sbin/financebeed -t 2>&1) || rc=$?
	[ "$rc" -eq 78 ] || fail "financebeed -t on the sample: exit $rc"
	case $out in
	*"/etc/financebee/"*"No such file or directory"*) ;;
	*) fail "financebeed -t on the sample: $out" ;;
	esac
	if command -v logrotate >/dev/null 2>&1; then
		logrotate -d /etc/logrotate.d/financebee >"$work/smoke/logrotate" 2>&1 ||
		    { cat "$work/smoke/logrotate" >&2; fail "logrotate -d"; }
	fi
	echo "   installed: layout, conffile, user, modes, unit disabled; -t: $out"

	# The smoke test: the installed programs, run as the unit runs them.
	FB_BUILDDIR=$top/build FB_SRCDIR=$top
	export FB_BUILDDIR FB_SRCDIR
	. "$top/t/lib/fbtest.sh"
	set -e
	unset FINANCEBEE_SQLDIR		# the packaged migrations
	as_fb() { setpriv --reuid financebee --regid financebee --init-groups "$@"; }
	dir=$(fb_tmpdir)
	pg_start
	mc_start
	umask 077
	printf '%s\n' "$FB_OWNER_KEY" >"$dir/owner.key"
	printf '%s\n' "$FB_SERVER_KEY" >"$dir/server.key"
	printf '%s\n' "$FB_SUBMITTER_KEY" >"$dir/submitter.key"
	mc setup --colony "$FB_COLONY" --server-key-file "$dir/server.key" \
	    --owner-key-file "$dir/owner.key" \
	    --submitter-key-file "$dir/submitter.key" >/dev/null
	# The seed file as the README says: fbeectl key generate's output.
	fbeectl key generate >/etc/financebee/executor.seed
	cp "$dir/owner.key" /etc/financebee/owner.key
	chown financebee: /etc/financebee/executor.seed /etc/financebee/owner.key
	umask 022
	getent group fbsmoke >/dev/null || groupadd -r fbsmoke
	id fbsmoke >/dev/null 2>&1 ||
	    useradd -r -g fbsmoke -M -d /nonexistent -s /usr/sbin/nologin fbsmoke
	# On any failure too: no test user, no daemon, no package left.
	cleanup_smoke() {
		fb_cleanup
		userdel fbsmoke 2>/dev/null; groupdel fbsmoke 2>/dev/null
		if dpkg -s financebee >/dev/null 2>&1; then
			dpkg --purge financebee >/dev/null 2>&1
			rm -rf /run/financebee
		fi
	}
	trap cleanup_smoke EXIT
	cat >/etc/financebee.conf <<-CONF
	bees = 2;
	colonies: {
		url = "$FB_COLONIES_URL";
		colony = "$FB_COLONY";
		executor_prefix = "smoke";
		executor_seed_file = "/etc/financebee/executor.seed";
		owner_key_file = "/etc/financebee/owner.key";
		poll_timeout = 2;
	};
	database: { conninfo = ""; };
	$(fb_stripe_conf)
	admin: { mode = "0666"; readonly_groups = [ "fbsmoke" ]; };
	log: { target = "/var/log/financebee/financebeed.log"; };
	CONF
	# What RuntimeDirectory= and LogsDirectory= make.
	install -d -o financebee -g financebee -m 0755 /run/financebee
	install -d -o financebee -g financebee -m 0750 /var/log/financebee
	as_fb /usr/sbin/financebeed -t >/dev/null 2>&1 ||
	    fail "financebeed -t as financebee: $(as_fb /usr/sbin/financebeed -t 2>&1)"
	as_fb /usr/sbin/financebeed --migrate >"$dir/migrate.log" 2>&1 || {
		cat "$dir/migrate.log" >&2; fail "--migrate failed"; }
	# Not through as_fb: $! must be the daemon (setpriv execs it).
	setpriv --reuid financebee --regid financebee --init-groups \
	    /usr/sbin/financebeed &
	fbpid=$!
	fb_track_pid "$fbpid"
	until_ok 30 fbeectl ping >/dev/null 2>&1 || fail "the daemon does not answer"
	n=$(ls "$FB_FIXTURES"/stripe-events/*.json | wc -l)
	mc submit --key-file "$dir/submitter.key" --colony "$FB_COLONY" \
	    --type financebee --maxexectime 30 --maxretries 3 \
	    "$FB_FIXTURES"/stripe-events/*.json >"$dir/ids" </dev/null
	mc wait --colony "$FB_COLONY" --count "$n" --timeout 120 >/dev/null ||
	    fail "the $n fixtures were not all closed"
	mc dump --colony "$FB_COLONY" >"$dir/dump.jsonl"
	good=$(jq -s '[.[] | select(.state == 2)] | length' "$dir/dump.jsonl")
	[ "$good" -ge 1 ] || fail "no process closed successful"
	# A member of admin.readonly_groups through the runtime directory.
	setpriv --reuid fbsmoke --regid fbsmoke --init-groups fbeectl status \
	    >"$dir/status" 2>&1 || { cat "$dir/status" >&2;
		fail "fbeectl status as a readonly_groups member"; }
	rc=0
	setpriv --reuid fbsmoke --regid fbsmoke --init-groups fbeectl pause \
	    >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 77 ] || fail "fbeectl pause as a readonly_groups member: exit $rc"
	ps -o args= --ppid "$fbpid" >"$dir/ps"
	grep -q '^financebeed: bee 1' "$dir/ps" ||
	    { cat "$dir/ps" >&2; fail "ps does not show financebeed: bee 1"; }
	kill -USR1 "$fbpid"
	fbeectl stop >/dev/null
	wait "$fbpid" || fail "financebeed exited $?"
	grep -q 'logs reopened' /var/log/financebee/financebeed.log ||
	    fail "no log in /var/log/financebee/financebeed.log"
	echo "   smoke: $n fixtures closed ($good successful) by the installed" \
	    "daemon as user financebee; readonly group: status yes, pause no"

	dpkg --purge financebee >"$work/smoke/purge.log" 2>&1 || {
		cat "$work/smoke/purge.log" >&2; fail "dpkg --purge failed"; }
	rm -rf /run/financebee		# systemd removes RuntimeDirectory=
	snap >"$work/smoke/after"
	same "$work/smoke/before" "$work/smoke/after" "files before install and after purge"
	id financebee >/dev/null 2>&1 || fail "purge removed the user"
	echo "   purged: nothing left but the user and group financebee"
	;;
rpm)
	[ -f "$tarball" ] || (cd build && make -s dist >/dev/null)
	r=$work/rpm
	rm -rf "$r"
	mkdir -p "$r/SOURCES"
	cp "$tarball" contrib/financebee.sysusers "$r/SOURCES/"
	rpmbuild -bb --nodeps contrib/financebee.spec \
	    --define "_topdir $r" \
	    --define "_unitdir /usr/lib/systemd/system" \
	    --define "_sysusersdir /usr/lib/sysusers.d" \
	    --define "debug_package %{nil}" \
	    --define "_build_id_links none" >"$r/build.log" 2>&1 || {
		tail -n 60 "$r/build.log" >&2
		fail "rpmbuild failed (log: $r/build.log)"
	}
	rpmf=$(ls "$r"/RPMS/*/financebee-"$version"-1*.rpm)
	rpm -qlp "$rpmf" 2>/dev/null | sort >"$r/files"
	sort >"$r/want" <<-LIST
	/etc/financebee
	/etc/financebee.conf
	/etc/logrotate.d/financebee
	/usr/bin/fbeectl
	/usr/lib/systemd/system/financebeed.service
	/usr/lib/sysusers.d/financebee.conf
	/usr/sbin/financebeed
	/usr/share/bash-completion/completions/fbeectl
	/usr/share/doc/financebee-$version
	/usr/share/doc/financebee-$version/NEWS
	/usr/share/doc/financebee-$version/README.md
	/usr/share/doc/financebee-$version/financebee.conf
	/usr/share/financebee
	/usr/share/financebee/sql
	$(cd sql && ls *.sql | sed 's|^|/usr/share/financebee/sql/|')
	/usr/share/licenses/financebee-$version
	/usr/share/licenses/financebee-$version/LICENSE
	/usr/share/man/man5/financebee.conf.5
	/usr/share/man/man8/fbeectl.8
	/usr/share/man/man8/financebeed.8
	LIST
	same "$r/want" "$r/files" "the RPM's files"
	rpm -qlvp "$rpmf" 2>/dev/null | grep -q '^-rw-r-----.*root *financeb.* /etc/financebee.conf$' ||
	    fail "/etc/financebee.conf is not 0640 root:financebee in the RPM"
	echo "   $(basename "$rpmf"): $(wc -l <"$r/files") files as listed"
	;;
*)
	fail "unknown phase (dist, deb, smoke, rpm)"
	;;
esac
