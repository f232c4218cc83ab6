#!/bin/sh
# contrib/build.sh [DIR [configure options...]]: configure and build
# financebee out of tree in DIR (default build/), warnings as errors.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ Makefile -ot "$top/Makefile.in" ]; then
	"$top/configure" --enable-werror "$@" >/dev/null
fi
# Two goals in one -j make race: "all" recurses into a sub-make that builds
# the same objects as check-programs.  One after the other.
make -j"$(nproc)" all >/dev/null
make -j"$(nproc)" check-programs >/dev/null
