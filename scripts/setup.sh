#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install cnn-study into it.
#   bash scripts/setup.sh [python-executable]
# By default the versions come from constraints.txt (the tested set: torch 2.14.1 and
# torchvision 0.29.1, which the development machines install from local disk).
# CNN_STUDY_CONSTRAINTS=other.txt picks another file; CNN_STUDY_CONSTRAINTS= (empty) pins
# nothing, so pip takes any torch>=2.2 with its matching torchvision.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
constraints="${CNN_STUDY_CONSTRAINTS-constraints.txt}"
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet ${constraints:+-c "$constraints"} -e ".[dev]"
.venv/bin/python -c "import torch, torchvision, hydra; print('cnn-study environment ready: torch', torch.__version__, 'torchvision', torchvision.__version__, 'hydra', hydra.__version__)"
