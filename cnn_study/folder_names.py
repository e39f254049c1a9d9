"""Run-folder names from the command line's values, one folder level each.

Hydra's own ${hydra.job.override_dirname} writes a value as it was typed, so a path
(dataset.folder=/data/pets) would file a run several folders deep. Here a value with a path
separator becomes its last part and a short digest of the whole (dataset.folder=pets-1a2b3c4d):
one folder, stable, and different for any other path. Every other override is written exactly
as Hydra writes it, so existing run folders keep their paths. Registered as OmegaConf
resolvers in cnn_study/__init__.py, used by conf/hydra/default.yaml.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

DIGEST_LENGTH = 8


def folder_name(value: Any) -> str:
    """value as one folder name: unchanged without a "/", else its last part and a digest."""
    text = str(value)
    if "/" not in text:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]
    last = text.rstrip("/").rsplit("/", 1)[-1]
    return f"{last}-{digest}" if last else digest


def override_dirname(task: Sequence[str], settings: Mapping[str, Any]) -> str:
    """Hydra's override_dirname of these task overrides (hydra.job.config.override_dirname:
    exclude_keys, item_sep, kv_sep), with every value made one folder name."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    excluded = set(settings.get("exclude_keys") or ())
    overrides = OverridesParser.create().parse_overrides(overrides=[str(t) for t in task])
    lines = sorted(str(o.input_line) for o in overrides if o.key_or_group not in excluded)
    named = []
    for line in lines:
        key, equals, value = line.partition("=")
        named.append(f"{key}{equals}{folder_name(value)}" if equals else line)
    return settings.get("item_sep", ",").join(named).replace("=", settings.get("kv_sep", "="))
