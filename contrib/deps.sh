#!/bin/sh
# contrib/deps.sh: install what financebee needs to build, test and run its
# demo on Debian 12, skipping what is already there.  Needs root for apt.
set -eu
PKGS="build-essential autoconf automake pkg-config libevent-dev
libpq-dev libmsgpack-dev libconfig-dev libjansson-dev libsecp256k1-dev
libssl-dev libcurl4-openssl-dev nettle-dev openssl postgresql-15 mandoc jq
curl perl procps util-linux prometheus"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
