#!/usr/bin/env bash
# check_install.sh BUILD_DIR C_COMPILER - what a user of the C library gets from `cmake --install`.
# Installs the (already built) BUILD_DIR into a temporary prefix, then:
#  1. the header, both libraries, polyp.pc, the CMake package files, the BN statistics and the
#     CLI are in place;
#  2. every function polyp.h declares carries POLYP_API, and libpolyp.so exports exactly those;
#  3. tests/install/consumer.c, built with `pkg-config --cflags --libs polyp` against the
#     shared library and with `pkg-config --static` against the archive, and built by a scratch
#     CMake project with find_package(polyp CONFIG) (polyp::polyp and polyp::polyp_static),
#     extracts features at one point of a fixture image that match PyTorch's (each binary runs).
# Run by ctest (tests/CMakeLists.txt: install_consumer) in the Release build.
set -euo pipefail
build=$(cd "$1" && pwd)
cc=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "check_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name polyp.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "no polyp.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")

# ---- 1. the files
for f in "$prefix/include/polyp.h" "$prefix/share/polyp/testnet-bnstats.safetensors" "$prefix/bin/polyp" \
         "$libdir/libpolyp.a" "$libdir/cmake/polyp/polypConfig.cmake" \
         "$libdir/cmake/polyp/polypConfigVersion.cmake" "$libdir/cmake/polyp/polypTargets.cmake"; do
  [ -f "$f" ] || fail "missing ${f#"$prefix"/}"
done
so=$(readlink -f "$libdir/libpolyp.so") || fail "missing libpolyp.so"
[ -f "$so" ] || fail "libpolyp.so is a dangling link"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -e "$libdir/$soname" ] || fail "the soname link $soname is missing"

# The installed CLI's `testnet` reads the statistics installed beside it, not the source tree's
# (which may be gone): its help names the default it resolved.
want_bn=$(readlink -f "$prefix/share/polyp/testnet-bnstats.safetensors")
got_bn=$("$prefix/bin/polyp" testnet --help | sed -n 's/.*--bn-stats PATH .*(default \(.*\))$/\1/p')
[ -n "$got_bn" ] && [ "$(readlink -f "$got_bn")" = "$want_bn" ] ||
  fail "installed polyp testnet defaults to '$got_bn', not $want_bn"
"$prefix/bin/polyp" testnet --out "$tmp/testnet.safetensors" 2>/dev/null || fail "installed polyp testnet failed"

# ---- 2. exported symbols = POLYP_API functions of the installed header
header=$prefix/include/polyp.h
grep -o 'POLYP_API[^(]*(' "$header" | grep -o 'polyp_[A-Za-z0-9_]*($' | tr -d '(' | sort -u >"$tmp/declared"
# Every function the header declares (outside comments and typedefs) must carry POLYP_API, or
# it would be hidden in the shared library.
sed -e 's|/\*.*\*/||g' -e 's|//.*||' -e 's/^[[:space:]]*//' "$header" | grep -v -e '^\*' -e '^/\*' -e '^typedef' |
  grep -o 'polyp_[A-Za-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/functions"
if ! diff "$tmp/functions" "$tmp/declared" >"$tmp/apidiff"; then
  echo "< declared without POLYP_API:" >&2
  cat "$tmp/apidiff" >&2
  fail "polyp.h declares functions without POLYP_API"
fi
nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$tmp/exported"
[ "$(wc -l <"$tmp/declared")" -gt 40 ] || fail "found only $(wc -l <"$tmp/declared") POLYP_API functions in polyp.h"
if ! diff "$tmp/declared" "$tmp/exported" >"$tmp/symdiff"; then
  echo "< declared in polyp.h but not exported, > exported but not declared:" >&2
  cat "$tmp/symdiff" >&2
  fail "libpolyp.so exports something other than the POLYP_API functions"
fi
echo "check_install: libpolyp.so exports exactly the $(wc -l <"$tmp/exported") POLYP_API functions"

# ---- 3. a program built against the installed package
# One fixture point: the first case on synth_57x41.png (an image smaller than the patch).
cases=$src/tests/fixtures/effnet/cases.csv
read -r index row col < <(awk -F, 'NR > 1 && $1 == "fixtures" && $2 == "synth_57x41.png" { print NR - 2, $3, $4; exit }' "$cases")
[ -n "${index:-}" ] || fail "no synth_57x41.png case in $cases"
image=$src/tests/fixtures/effnet/synth_57x41.png
features=$src/tests/fixtures/effnet/features.f32

run() { # run NAME BINARY BN_STATS: runs it, checks the version it prints
  local out
  out=$("$2" "$3" "$image" "$row" "$col" "$features" "$index") || fail "$1: the consumer failed"
  echo "$1: ${out%%$'\n'*}"
  [ "${out##*version }" = "$version" ] || fail "$1: header version ${out##*version } != package version $version"
}

export PKG_CONFIG_PATH=$libdir/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
version=$(pkg-config --modversion polyp) || fail "pkg-config does not find polyp"
bn_pc=$(pkg-config --variable=testnet_bn_stats polyp)
cflags="-std=c11 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags polyp)"

# shellcheck disable=SC2086 # word splitting of the flags is intended
"$cc" $cflags "$here/consumer.c" -o "$tmp/pc_shared" $(pkg-config --libs polyp) -lm -Wl,-rpath,"$libdir"
readelf -d "$tmp/pc_shared" | grep -q "NEEDED.*\[$soname\]" || fail "pkg-config shared: not linked to $soname"
run "pkg-config, shared" "$tmp/pc_shared" "$bn_pc"

# Static: the archive by name (-l:libpolyp.a), everything else from Libs.private and
# Requires.private. A missing dependency there is an undefined symbol here.
static_libs=$(pkg-config --libs --static polyp)
static_libs=${static_libs/-lpolyp/-l:libpolyp.a}
# shellcheck disable=SC2086
"$cc" $cflags "$here/consumer.c" -o "$tmp/pc_static" $static_libs -lm
if readelf -d "$tmp/pc_static" | grep -q 'NEEDED.*libpolyp'; then fail "pkg-config static: linked to libpolyp.so"; fi
run "pkg-config, static" "$tmp/pc_static" "$bn_pc"

cmake -S "$here/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "find_package(polyp) configure failed"; }
cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "find_package(polyp) build failed"; }
bn_cmake=$(cat "$tmp/cmake/bn_stats_path.txt")
readelf -d "$tmp/cmake/consumer_shared" | grep -q "NEEDED.*\[$soname\]" || fail "polyp::polyp: not linked to $soname"
if readelf -d "$tmp/cmake/consumer_static" | grep -q 'NEEDED.*libpolyp'; then fail "polyp::polyp_static: linked to libpolyp.so"; fi
run "find_package, polyp::polyp" "$tmp/cmake/consumer_shared" "$bn_cmake"
run "find_package, polyp::polyp_static" "$tmp/cmake/consumer_static" "$bn_cmake"
echo "check_install: all 4 builds against the installed package match PyTorch"
