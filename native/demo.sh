#!/usr/bin/env bash
# The main job for a new user: install the build dependencies (Debian), build polyp, and run
# CoralNet's whole workflow on the project's own sample images:
#   points -> extract -> train -> classify -> evaluate -> percent cover
#
# No pretrained EfficientNet-B0 weights can ship with polyp: the network used here is the
# seeded, UNTRAINED test network (generated, not downloaded), and the labels are made up by
# this script (top half of each photo "CCA", bottom half "SAND"). The arithmetic is the real
# thing (checked against PyTorch and scikit-learn), but the scores mean nothing. For real
# work, use your own weights and annotations: see README.md ("Using real weights").
#
#   POLYP_DEMO_OUT=DIR   where the outputs go (default build/demo)
#   POLYP_BUILD_DIR=DIR  the CMake build folder (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
bash native/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
build=${POLYP_BUILD_DIR:-build}
out=${POLYP_DEMO_OUT:-build/demo}

step() { printf '\n== %s\n' "$*"; }

step "build (cmake, $build/)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$jobs" --target polyp_cli >/dev/null
polyp=$build/polyp

rm -rf "$out"
mkdir -p "$out/images"
# Sample images: the project's own synthetic test photos (every decoder case: baseline,
# progressive and truncated JPEGs, gray, palette, 16-bit and alpha PNGs, photos smaller than
# the 224-pixel patch). Not survey photos: stand-ins so the demo needs nothing downloaded.
cp tests/fixtures/effnet/*.png "$out/images/"
for f in tests/fixtures/images/synthetic/*.jpg tests/fixtures/images/synthetic/*.png; do
  case "$(basename "$f")" in px1x1.*) continue ;; esac   # too small for 2 x 2 cells
  cp "$f" "$out/images/"
done
n_images=$(find "$out/images" -type f | wc -l)

step "points: CoralNet's stratified random points, 2 x 2 cells x 5 points, on $n_images photos"
"$polyp" points --images "$out/images" --method stratified:2,2,5 --seed 1 --out "$out/points.csv"

# Made-up labels: polyp points writes each photo's points cell by cell (row-major), so the
# first 10 of a photo lie in its top half.
awk -F, '{ sub(/\r$/, "") }
         NR == 1 { print $0 ",Label code"; next }
         { k = seen[$1]++; print $0 "," (k < 10 ? "CCA" : "SAND") }' \
  "$out/points.csv" > "$out/annotations.csv"
echo "labels: made up by position (top half CCA, bottom half SAND) -> $out/annotations.csv"

step "test network: seeded and UNTRAINED (its features carry no meaning)"
"$polyp" testnet --out "$out/testnet.safetensors"

step "extract: one 1280-value EfficientNet-B0 feature per point"
"$polyp" extract --weights "$out/testnet.safetensors" --images "$out/images" \
  --points "$out/points.csv" --out "$out/features"

step "train: CoralNet's splits (every 8th photo validates), MLP, calibration"
"$polyp" train --features "$out/features" --annotations "$out/annotations.csv" \
  --out "$out/classifier.safetensors"

step "classify: machine suggestions and confidences for every point"
"$polyp" classify --model "$out/classifier.safetensors" --features "$out/features" \
  --points "$out/points.csv" --out "$out/scores.csv"
head -n 3 "$out/scores.csv"

step "evaluate: accuracy, per-label metrics, confusion matrix, Alleviate curve"
"$polyp" evaluate --model "$out/classifier.safetensors" --features "$out/features" \
  --annotations "$out/annotations.csv" --out "$out/evaluation.txt"
head -n 12 "$out/evaluation.txt"

step "percent cover from the machine suggestions"
"$polyp" cover --annotations "$out/scores.csv" --out "$out/cover.csv"

cat <<EOF

== outputs
  photos and points      $out/images/  $out/points.csv
  made-up labels         $out/annotations.csv
  test network           $out/testnet.safetensors
  feature files          $out/features/<photo>.featurevector  (pyspacer's npz: numpy.load reads them)
  classifier             $out/classifier.safetensors
  machine suggestions    $out/scores.csv   (CoralNet's export columns)
  evaluation             $out/evaluation.txt
  percent cover          $out/cover.csv

The network is UNTRAINED and the labels are made up: every score above is meaningless.
For real work bring your own weights (README.md, "Using real weights") and annotations.
EOF
