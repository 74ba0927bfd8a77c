#!/bin/bash
# slurm-extract.sh - `polyp extract` as a Slurm job array: task I of the array extracts
# shard I of SHARDS into one shared output folder.
#
#   sbatch --array=0-39%10 native/jobs/slurm-extract.sh   # 40 shards, at most 10 at once
#   polyp status --points POINTS.csv --out OUT --shard-count 40 --weights WEIGHTS
#                                  # what is done / missing / corrupt / from other weights
#   sbatch --array=7,12 native/jobs/slurm-extract.sh      # rerun the shards status names
#   polyp train --features OUT --annotations ANNOTATIONS.csv --out MODEL   # once, at the end
#
# Edit the variables below (and the #SBATCH lines for your cluster). SHARDS is written here,
# on purpose, and never taken from SLURM_ARRAY_TASK_COUNT: a rerun of one index
# (sbatch --array=7) is an array of one task, and would otherwise split the images into a
# single shard and redo everything in task 7. Keep SHARDS equal to the size of the first
# submission (--array=0-39 -> 40); never change it for a run that has started, since an
# image's shard depends on N.
#
# Reruns are safe: a task skips images whose output already exists and checks out against the
# CSV, redoes missing or corrupt ones, and two tasks over the same images (a rerun while the
# first is still running) write identical bytes atomically. scancel, preemption and the time
# limit send SIGTERM first: polyp stops within one batch and never leaves a half-written file
# (Slurm's KillWait, 30 s by default, is plenty). Exit codes are no proof of completeness (a
# cancelled pending task leaves no trace, `sbatch --wait` still returns 0): ask
# `polyp status`, which reads the outputs.
#
#SBATCH --job-name=polyp-extract
#SBATCH --array=0-39%10
#SBATCH --cpus-per-task=4
#SBATCH --mem=2G
#SBATCH --time=04:00:00
#SBATCH --output=polyp-extract-%A_%a.log
set -euo pipefail

SHARDS=40                                   # N of --shard I/N: the array's size, fixed here
POLYP=polyp                                 # path to the polyp binary, or on PATH
WEIGHTS=/shared/polyp/coralnet-b0.safetensors
IMAGES=/shared/survey/images                # the CSV's image names are relative to this
POINTS=/shared/survey/points.csv
OUT=/shared/survey/features                 # one folder for all shards (a shared filesystem)

if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  echo "slurm-extract.sh: not an array task (submit with sbatch --array=0-$((SHARDS - 1)))" >&2
  exit 2
fi
if ((SLURM_ARRAY_TASK_ID >= SHARDS)); then
  echo "slurm-extract.sh: array index $SLURM_ARRAY_TASK_ID but SHARDS=$SHARDS (indices 0-$((SHARDS - 1)))" >&2
  exit 2
fi

# One polyp process per task, using the cores Slurm gave it. No exec: the shell stays to
# report the status line below; SIGTERM reaches polyp too (Slurm signals the whole step).
"$POLYP" extract --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" --threads "${SLURM_CPUS_PER_TASK:-1}" \
  --weights "$WEIGHTS" --images "$IMAGES" --points "$POINTS" --out "$OUT"
echo "slurm-extract.sh: shard $SLURM_ARRAY_TASK_ID/$SHARDS done on $(hostname)"
