#!/usr/bin/env bash
# The main job for a new user: install the build dependencies (Debian), build polyp, write the
# seeded test network, and extract features for the sample images with `polyp extract`.
#
# No pretrained EfficientNet-B0 weights can ship with polyp: the network used here is the
# seeded, UNTRAINED test network (generated, not downloaded). Its features are correct
# arithmetic (checked against PyTorch) but carry no meaning. For real work convert CoralNet's
# or torchvision's checkpoint: see models/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash native/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" --target polyp_cli

out=${POLYP_DEMO_OUT:-build/demo}
mkdir -p "$out"
./build/polyp testnet --out "$out/testnet.safetensors"

# Sample images: the project's own synthetic fixture photos; a 3x3 grid of points on each.
images=tests/fixtures/effnet
points="$out/points.csv"
echo "Name,Row,Column" >"$points"
for spec in synth_300x200.png:200:300 synth_57x41.png:41:57 synth_gray_64x64.png:64:64 synth_rgba_80x60.png:60:80; do
  IFS=: read -r name h w <<<"$spec"
  for r in 1 2 3; do for c in 1 2 3; do
    echo "$name,$((r * h / 4)),$((c * w / 4))" >>"$points"
  done; done
done

./build/polyp extract --weights "$out/testnet.safetensors" --images "$images" \
  --points "$points" --out "$out/features"
echo
echo "Feature files (pyspacer .featurevector, numpy.load reads them):"
ls -l "$out/features"
echo "These features come from the UNTRAINED test network: use your own weights for real work."
