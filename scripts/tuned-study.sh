#!/usr/bin/env bash
# The tuned study, published in analysis/tuned/: tune the chapter's CNN's recipe on each
# dataset's validation split (the same budget for both), then train the chapter's recipe and
# each tuned recipe on both datasets with 3 seeds, and analyse. Every step is a command a
# user can type; a rerun skips what finished and resumes what was interrupted.
#   CNN_STUDY_DATA_DIR=../shared/datasets bash scripts/tuned-study.sh [extra overrides]
# Extra overrides go to every step, e.g. hydra/launcher=slurm.
# OUTPUTS and REPORT move the run folders and the report (a trial of the script elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
outputs="${OUTPUTS:-outputs}"
report="${REPORT:-analysis/tuned}"
launcher=(hydra/launcher=parallel "paths.output_dir=$(realpath -m "$outputs")" "$@")

for dataset in mnist fashion; do
  python -m cnn_study hparams_search=chapter dataset="$dataset" "${launcher[@]}"
done
python -m cnn_study -m experiment=tuned recipe=chapter "${launcher[@]}"
for dataset in mnist fashion; do
  best="$outputs/tune-chapter-$dataset/best_overrides.txt"
  if [ ! -s "$best" ]; then
    echo "error: $best is missing or empty: the $dataset search has no completed trial" >&2
    exit 1
  fi
  # shellcheck disable=SC2046  # the best trial's overrides, one word each
  python -m cnn_study -m experiment=tuned recipe="tuned-$dataset" \
    $(cat "$best") "${launcher[@]}"
done
# At convergence: the chapter's recipe on both datasets, and each dataset's own tuned recipe
# on it, at the chapter's 40 epochs (is the tuned "gain" at 20 epochs only speed?).
python -m cnn_study -m experiment=tuned recipe=chapter trainer.epochs=40 "${launcher[@]}"
for dataset in mnist fashion; do
  # shellcheck disable=SC2046
  python -m cnn_study -m experiment=tuned recipe="tuned-$dataset" dataset="$dataset" \
    trainer.epochs=40 $(cat "$outputs/tune-chapter-$dataset/best_overrides.txt") "${launcher[@]}"
done
python -m cnn_study.analysis "$outputs/tuned" "$outputs/tune-chapter-mnist" \
  "$outputs/tune-chapter-fashion" --out "$report"
