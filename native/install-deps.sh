#!/usr/bin/env bash
# Installs what polyp needs from Debian's archive. Idempotent: installs only what is missing.
#   native/install-deps.sh          build + run (compiler, cmake, libjpeg-turbo, stb, XNNPACK)
#   native/install-deps.sh --test   also what the tests and fixture scripts use
set -euo pipefail
pkgs=(build-essential cmake pkg-config libstb-dev libjpeg62-turbo-dev libxnnpack-dev libpthreadpool-dev)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(check python3-numpy python3-pil python3-torch python3-torchvision python3-sklearn)
fi
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
