"""The sweeper's config schema and its sampler presets, registered with Hydra's ConfigStore."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TPESamplerConfig:
    """optuna.samplers.TPESampler: the default, as in the official plugin."""

    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.cnn_study_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    # The sweeper makes its sampler itself: a resumed search reseeds it (see _study).
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])

    sampler: Any = MISSING
    # minimize or maximize (what the task function returns)
    direction: str = "minimize"
    # An Optuna storage URL, e.g. sqlite:///${hydra.sweep.dir}/optuna.db; null keeps the
    # study in memory (nothing to resume).
    storage: Any = None
    study_name: str | None = None
    # The budget: trials finished (completed or failed) when the search ends, across reruns.
    n_trials: int = 20
    # Trials asked for at once and handed to the launcher as one batch.
    n_jobs: int = 2
    # Stop when more than this share of finished trials failed.
    max_failure_rate: float = 0.0
    # key: interval(a, b) | tag(log, interval(a, b)) | choice(a, b, ...) | range(a, b[, step])
    params: dict[str, str] | None = None
    # module.function(cfg, trial) that suggests further, e.g. conditional, parameters.
    custom_search_space: str | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="cnn_study"
)
ConfigStore.instance().store(
    group="hydra/sweeper/sampler", name="tpe", node=TPESamplerConfig, provider="cnn_study"
)
ConfigStore.instance().store(
    group="hydra/sweeper/sampler", name="random", node=RandomSamplerConfig, provider="cnn_study"
)
