#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install cnn-study into it with the
# tested versions from constraints.txt. Usage: bash scripts/setup.sh [python-executable]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
.venv/bin/python -c "import torch, torchvision, hydra; print('cnn-study environment ready: torch', torch.__version__, 'torchvision', torchvision.__version__, 'hydra', hydra.__version__)"
