"""A search space from Hydra sweep overrides, read exactly as the official
hydra-optuna-sweeper reads them, and each trial's parameters back into overrides.

    interval(a, b)            float (or int, if a and b are both whole) in [a, b]
    tag(log, interval(a, b))  the same on a log scale
    range(a, b[, step])       a, a+step, ..., b included; a float range if any part is a float
    choice(a, b, ...), a,b    one of the values, each kept as its override text ('x y', [1,2])
    int(interval(a, b))       Hydra's casts apply before the distribution is made
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from cnn_study.errors import StudyError

log = logging.getLogger(__name__)

_PARSER = OverridesParser.create()

SYNTAX = "interval(a, b), tag(log, interval(a, b)), range(a, b[, step]) or choice(a, b, ...)"


def distribution(override: Override) -> BaseDistribution:
    """An Optuna distribution from a sweep override; StudyError for anything else."""
    key = override.get_key_element()
    value = override.value()
    try:
        if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
            return CategoricalDistribution(list(override.sweep_iterator(Transformer.encode)))
        if isinstance(value, RangeSweep):
            if value.tags:
                log.warning("%s: range() takes no tags (%s): ignored", key, ", ".join(value.tags))
            if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
                return FloatDistribution(value.start, value.stop, step=value.step)
            return IntDistribution(int(value.start), int(value.stop), step=int(value.step))
        if isinstance(value, IntervalSweep):
            log_scale = "log" in value.tags
            if isinstance(value.start, int) and isinstance(value.end, int):
                return IntDistribution(value.start, value.end, log=log_scale)
            return FloatDistribution(value.start, value.end, log=log_scale)
    except ValueError as exc:  # Optuna's own check: empty range, log of 0, bad step
        raise StudyError(f"{key}={override.get_value_string()}: {exc}") from None
    raise StudyError(f"{override.input_line!r} is not a search space: use {SYNTAX}")


def grid_points(key: str, space: BaseDistribution) -> list[Any]:
    """Every value a grid search tries for one parameter."""
    if isinstance(space, CategoricalDistribution):
        return list(space.choices)
    if isinstance(space, IntDistribution) and not space.log:
        return list(range(space.low, space.high + 1, space.step))
    if isinstance(space, FloatDistribution) and space.step is not None:
        count = math.floor((space.high - space.low) / space.step + 1e-9) + 1
        return [space.low + i * space.step for i in range(count)]
    raise StudyError(
        f"{key}: a grid search needs a finite set of values, and {space!r} is not one: "
        "give it as choice(...), range(a, b, step), or interval with a fixed step, "
        "e.g. range(0.1, 0.5, 0.1)"
    )


def override(key: str, value: Any) -> str:
    """key=value as a run receives it: the value Optuna recorded, in full. A choice's value
    is override text, as the official plugin keeps it ([1,2] stays a list), quoted where it
    would not be one value as it stands ('a,b' would be a sweep)."""
    if isinstance(value, str):
        try:
            parsed = _PARSER.parse_override(f"{key}={value}")
            # Text that reads as one value: a list or a number stays override text (the
            # official plugin's way); a string must read back as itself (a\,b would not).
            same = not isinstance(parsed.value(), str) or parsed.value() == value
            if not parsed.is_sweep_override() and same:
                return f"{key}={value}"
        except HydraException:
            pass
        # In a quoted value a backslash is itself only before a quote or at the end.
        quoted = re.sub(
            r"(\\*)('|$)", lambda m: 2 * m.group(1) + ("\\'" if m.group(2) else ""), value
        )
        return f"{key}='{quoted}'"
    return f"{key}={value}"
