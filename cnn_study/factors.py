"""The factors of a study, declared once: what a study varies and compares its runs by.

A factor is a config group chosen by name on the command line (dataset=fashion, model=cnn_bn)
or a plain label (recipe=tuned-fashion). From this list follow the run-folder levels
(conf/hydra/default.yaml, tied to it by tests/unit/test_config.py), the keys the analysis groups
runs by and the names it labels them with, the hparams sent to live loggers, and the
factor rows of a report's "what was run" table.

A new factor (augmentation, say) is more than its conf/<group>/*.yaml files and one line here:
run folders are named and found again by their config, so it also needs
  - conf/hydra/default.yaml: a folder level, or its incidental keys in exclude_keys;
  - cnn_study/run_identity.py: its incidental keys in INCIDENTAL_KEYS, and in LATER_DEFAULTS
    the value of each new key that means what older runs did (without it, every existing run
    folder stops with "holds a run with another config").
The steps, and the tests that check each: docs/adding-a-factor.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    name: str  # as on the command line: dataset=..., recipe=...
    key: str  # the config key that tells runs apart by this factor
    group: bool  # a config group: runs are labelled by the option's name (cnn_bn, adam)
    folder_level: bool  # a level of the run folder's path: outputs/<study>/<dataset>/...


FACTORS: tuple[Factor, ...] = (
    Factor("dataset", "dataset.name", group=True, folder_level=True),
    Factor("recipe", "recipe", group=False, folder_level=False),
    Factor("model", "model._target_", group=True, folder_level=True),
    Factor("optimizer", "optimizer._target_", group=True, folder_level=True),
    Factor("scheduler", "scheduler._target_", group=True, folder_level=False),
)

# Config groups whose option names (cnn_bn, adam...) label a run better than its _target_;
# the dataset is labelled by its own name.
CHOICE_GROUPS: tuple[str, ...] = tuple(f.name for f in FACTORS if f.group and f.name != "dataset")
# Folder levels below outputs/<study>/, in order (the rest of a run's overrides follows).
FOLDER_LEVELS: tuple[str, ...] = tuple(f.name for f in FACTORS if f.folder_level)
# Keys tried first when grouping runs, in this order. (The chapter's value of each factor,
# its cell of a grid, is the analysis's: cnn_study/analysis/chapter.py.)
GROUPING_KEYS: tuple[str, ...] = tuple(f.key for f in FACTORS)
