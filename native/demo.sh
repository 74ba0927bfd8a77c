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

# Sample images: the project's own synthetic fixture photos; CoralNet's uniform grid of
# 3 x 3 points on each (polyp points reads every image's size).
images=tests/fixtures/effnet
points="$out/points.csv"
./build/polyp points --images "$images" --method grid:3,3 --out "$points"

./build/polyp extract --weights "$out/testnet.safetensors" --images "$images" \
  --points "$points" --out "$out/features"
echo
echo "Feature files (pyspacer .featurevector, numpy.load reads them):"
ls -l "$out/features"
echo "These features come from the UNTRAINED test network: use your own weights for real work."
