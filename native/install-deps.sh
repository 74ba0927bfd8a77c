#!/usr/bin/env bash
# Installs what polyp needs from Debian's archive. Idempotent: installs only what is missing.
#   native/install-deps.sh          build + run (compiler, cmake, libjpeg-turbo, stb, XNNPACK)
#   native/install-deps.sh --test   also what the tests use (Check, Python references,
#                                   Emscripten, node, Chromium for the browser test, Slurm
#                                   and munge for tests/slurm)
#   native/install-deps.sh --bench  also the benchmark's peers (allocators, ONNX)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libstb-dev libjpeg62-turbo-dev libxnnpack-dev libpthreadpool-dev)
case "${1:-}" in
  --test|--bench)
    pkgs+=(check python3-numpy python3-pil python3-torch python3-torchvision python3-sklearn
           python3-yaml emscripten chromium)
    # tests/slurm: a real single-node Slurm cluster (started without systemd by the test).
    pkgs+=(slurmctld slurmd slurm-client munge)
    command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
    ;;&
  --bench)
    pkgs+=(libjemalloc2 libtcmalloc-minimal4 python3-onnx)
    ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "polyp: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
