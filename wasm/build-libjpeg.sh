#!/usr/bin/env bash
# Builds libjpeg-turbo's C code for WebAssembly from Debian's source package, so the browser
# decodes JPEG with the same library (and therefore the same pixels) as Pillow and the native
# build (DESIGN.md: stb_image's JPEG decoder differs by up to 7 levels per channel).
#
#   wasm/build-libjpeg.sh [PREFIX]    (default PREFIX: build-libjpeg-wasm/ at the repo root)
#
# Leaves PREFIX/install/{include,lib/libjpeg.a} and the same built with -pthread in
# PREFIX/install-pthread/ (wasm-ld refuses to put objects compiled without atomics into the
# shared memory of the threaded module). Idempotent: returns at once when both are there. The x86 SIMD code is not built (wasm has none of it); the scalar ISLOW
# IDCT + fancy upsampling are the code paths Pillow's defaults use anyway.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-$root/build-libjpeg-wasm}"
install="$prefix/install"

built() { [[ -f "$1/lib/libjpeg.a" && -f "$1/include/jpeglib.h" ]]; }
if built "$install" && built "$install-pthread"; then
  echo "libjpeg-turbo (wasm): already built in $install{,-pthread}"
  exit 0
fi

for tool in emcmake emcc cmake; do
  command -v "$tool" >/dev/null || { echo "build-libjpeg.sh: $tool not found (apt-get install emscripten cmake)" >&2; exit 1; }
done
# Debian's emscripten needs its JS dependencies (acorn...) from the system node path.
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"

mkdir -p "$prefix"
src_dir="$(find "$prefix" -maxdepth 1 -type d -name 'libjpeg-turbo-*' | head -n1)"
if [[ -z "$src_dir" ]]; then
  # apt-get source needs a deb-src entry: add one that mirrors the existing deb822 entry
  # (same archive, suites and key), so no new host is ever named here.
  sources=/etc/apt/sources.list.d/debian.sources
  srcfile=/etc/apt/sources.list.d/polyp-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    [[ -f "$sources" ]] || { echo "build-libjpeg.sh: no $sources to copy a deb-src entry from" >&2; exit 1; }
    echo "build-libjpeg.sh: adding a deb-src copy of $sources as $srcfile"
    sed -e 's/^Types:.*/Types: deb-src/' "$sources" > "$srcfile"
    apt-get update -qq
  fi
  command -v dpkg-source >/dev/null || apt-get install -y -qq dpkg-dev
  (cd "$prefix" && apt-get source -qq libjpeg-turbo)
  src_dir="$(find "$prefix" -maxdepth 1 -type d -name 'libjpeg-turbo-*' | head -n1)"
  [[ -n "$src_dir" ]] || { echo "build-libjpeg.sh: apt-get source libjpeg-turbo produced no source tree" >&2; exit 1; }
fi
echo "libjpeg-turbo (wasm): building $src_dir"

# Only the static libjpeg with the libjpeg (not TurboJPEG) API: polyp uses jpeg_read_*.
# CMake's configure checks run emcc's CommonJS output under node; the repository's
# package.json says "type": "module", which would make node refuse them (every check then
# "fails" and libjpeg cannot tell its word size). Scope the build folder as CommonJS.
printf '{ "type": "commonjs" }\n' > "$prefix/package.json"

build_variant() {  # $1 = install dir, $2 = extra C flags
  local dest="$1" flags="$2" bdir="$prefix/cmake${2:+-pthread}"
  built "$dest" && return 0
  emcmake cmake -S "$src_dir" -B "$bdir" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$dest" \
    -DCMAKE_C_FLAGS="-O2 -msimd128 $flags" \
    -DWITH_SIMD=0 -DENABLE_SHARED=0 -DENABLE_STATIC=1 \
    -DWITH_TURBOJPEG=0 -DWITH_JAVA=0 -DWITH_12BIT=0 \
    -DCMAKE_CROSSCOMPILING_EMULATOR="/usr/bin/node;--no-experimental-fetch" >/dev/null
  cmake --build "$bdir" -j"$(nproc 2>/dev/null || echo 2)" --target jpeg-static >/dev/null
  # Install by hand: the project's install rules also want the programs we did not build.
  mkdir -p "$dest/include" "$dest/lib"
  cp "$src_dir/jpeglib.h" "$src_dir/jmorecfg.h" "$src_dir/jerror.h" "$bdir/jconfig.h" "$dest/include/"
  cp "$bdir/libjpeg.a" "$dest/lib/libjpeg.a"
  echo "libjpeg-turbo (wasm): installed $dest/lib/libjpeg.a"
}
build_variant "$install" ""
build_variant "$install-pthread" "-pthread"
