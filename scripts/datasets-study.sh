#!/usr/bin/env bash
# The datasets study, published in analysis/datasets/: the chapter's CNN and recipe, 10 epochs,
# 3 seeds, on MNIST, FashionMNIST, and FashionMNIST's own images read from a folder of PNG
# files (an image_folder dataset, described by scripts/datasets-study/conf/dataset/
# fashion_png.yaml), analysed against MNIST. The same images by two routes should land on the
# same accuracy: a check of the image-folder route on real data. A rerun skips what finished.
#   CNN_STUDY_DATA_DIR=../shared/datasets bash scripts/datasets-study.sh [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
outputs="${OUTPUTS:-outputs}"
report="${REPORT:-analysis/datasets}"
data="${CNN_STUDY_DATA_DIR:-data}"

python scripts/export_images.py torchvision.datasets.FashionMNIST "$data" \
  "$outputs/images/fashion-png"
python -m cnn_study -m dataset=mnist,fashion,fashion_png seed=0,1,2 trainer.epochs=10 \
  study=datasets hydra/launcher=parallel "paths.output_dir=$(realpath -m "$outputs")" \
  "hydra.searchpath=[file://$(realpath scripts/datasets-study/conf)]" "$@"
python -m cnn_study.analysis "$outputs/datasets" --out "$report" --reference mnist
