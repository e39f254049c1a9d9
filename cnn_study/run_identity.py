"""Which run a config is: the keys that tell two runs apart, and how older runs read.

A run folder is found again by its config: training resumes or skips a folder only where the
saved config and the new one differ in no key that changes what the run measures, and the
analysis counts two runs as the same setting by the same test. INCIDENTAL_KEYS names the keys
that do not count; three tables keep runs made before a key existed comparable with runs made
after:

    LATER_DEFAULTS  keys added after runs were published, with the value the older runs had
    LATER_GROUPS    config groups added since, with the option the older runs had in effect
    RENAMED         keys renamed after runs were published, old name -> new name

A new factor (a config key that varies between runs) touches this module: see
docs/adding-a-factor.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnn_study.config_checks import flatten

# Config keys that change where or how fast a run goes, never what it measures: a run may be
# resumed, or counted as finished, with these changed. A key ending in "." stands for every
# key below it. Each is also left out of run-folder names (conf/hydra/default.yaml's
# exclude_keys; tests/unit/test_config.py ties the two together).
INCIDENTAL_KEYS = (
    "paths.",
    "force",
    "runs_per_machine",  # set by the launcher preset
    "trainer.device",
    "trainer.num_threads",
    "trainer.progress",
    "trainer.eval_batch_size",
    "trainer.cuda_graphs",
    "logger.",
    "dataset.download",
    "dataset.verify",
    "dataset.label",  # a display name
    "dataset.files",  # their names and checksums: what is checked, not what is measured
    "dataset.sha256.",  # the checksums' key before dataset.files
    "dataset.max_memory_gb",
    "objective",
)
# Keys added after runs were published, with the value that means what the older runs did: an
# older run lacking the key is the same run as a new one with this value. Without an entry,
# every run folder made before the key existed stops with "holds a run with another config".
LATER_DEFAULTS: dict[str, Any] = {
    "dataset.val_size": 0,
    "dataset.split_seed": 0,
    "recipe": None,
}
# Config groups added after runs were published, with the option that means what the older
# runs did. Filled in only where a run has no key of the group at all: a group's options have
# keys of their own (a cosine schedule has no `factor`), so one option's keys must never be
# added to a run of another.
LATER_GROUPS: dict[str, dict[str, Any]] = {
    # Before schedules were a factor, the rate stayed constant: conf/scheduler/none.yaml.
    "scheduler": {
        "_target_": "torch.optim.lr_scheduler.ConstantLR",
        "_partial_": True,
        "factor": 1.0,
        "total_iters": 0,
    },
}
# Keys renamed after runs were published: an older run's key is read under its new name.
RENAMED = {"dataset.torchvision_class": "dataset.source"}


def is_incidental(key: str) -> bool:
    """Does this flat key (trainer.device) change only where or how fast a run goes?"""
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in INCIDENTAL_KEYS)


def flat_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's config as flat keys, with the keys added after older runs were made filled in
    with the values that mean what those runs did: an old run and its new twin read alike."""
    flat = LATER_DEFAULTS | {RENAMED.get(k, k): v for k, v in flatten(config).items()}
    for group, option in LATER_GROUPS.items():
        if not any(k.startswith(f"{group}.") for k in flat):
            flat.update({f"{group}.{k}": v for k, v in option.items()})
    source = flat.get("dataset.source")
    if "dataset.folder" not in flat and isinstance(source, str):
        # Before dataset.folder, a torchvision dataset's files lay in <ClassName>/raw.
        flat["dataset.folder"] = f"{source.rsplit('.', 1)[-1]}/raw"
    return flat


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two configs, incidental keys left out."""
    a, b = flat_config(old), flat_config(new)
    return sorted(k for k in a.keys() | b.keys() if not is_incidental(k) and a.get(k) != b.get(k))
