#!/usr/bin/env bash
# The GPU check: the same code on a CUDA machine, unchanged (trainer.device=auto).
#   bash benchmarks/gpu_check.sh DATA_DIR OUT_DIR [STUDY_SECONDS]
# 1. two epochs of each dataset through the real command line (device auto -> cuda);
# 2. the same MNIST run again in another folder: are the metrics identical on this GPU?
# 3. benchmarks/speed.py on the GPU (plain loop vs cnn_study's trainer);
# 4. the chapter's full recipe (40 epochs) on both datasets, then the analysis.
# Writes a few flat files to OUT_DIR: check.log, speed_gpu.json, runs.tar.gz, analysis files.
set -uo pipefail
data=$1 out=$2 budget=${3:-240}
work=$(mktemp -d)
common=(trainer.progress=false "paths.data_dir=$data" "paths.cache_dir=$work/cache")
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"

  echo "== 1. two epochs per dataset, device auto"
  python -m cnn_study -m dataset=mnist,fashion trainer.epochs=2 "paths.output_dir=$work/a" "${common[@]}"
  echo "== 2. the same MNIST run again: identical metrics?"
  python -m cnn_study -m dataset=mnist trainer.epochs=2 "paths.output_dir=$work/b" "${common[@]}"
  python - "$work" <<'PY'
import csv, json, sys
from pathlib import Path
work = Path(sys.argv[1])
def rows(root):
    (f,) = root.rglob("mnist/**/metrics.csv")
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f.open())]
a, b = rows(work / "a"), rows(work / "b")
print("identical on this GPU:", a == b)
for r in (work / "a").rglob("results.json"):
    d = json.loads(r.read_text())
    print(d["dataset"], d["device"], d["device_name"], "final test acc", d["final_test_acc"],
          "s/epoch", round(d["train_seconds"] / d["epochs"], 2))
PY
  echo "== 3. speed on the GPU"
  python benchmarks/speed.py --data-dir "$data" --batches 900 --skip-sweep --json "$out/speed_gpu.json"
  echo "== 4. the full recipe, 40 epochs, both datasets (at most ${budget}s)"
  timeout "$budget" python -m cnn_study -m dataset=mnist,fashion seed=0 study=gpu \
      "paths.output_dir=$work/study" "${common[@]}"
  python -m cnn_study.analysis "$work/study" --out "$work/analysis"
  cp "$work/analysis/summary.md" "$work/analysis/learning_curves.png" "$out/" 2>/dev/null
  tar -czf "$out/runs.tar.gz" --exclude='*.pt' -C "$work" study
} 2>&1 | tee "$out/check.log"
