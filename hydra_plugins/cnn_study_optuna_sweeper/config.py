"""The sweeper's config schema, its sampler and pruner presets, registered with Hydra's
ConfigStore: hydra/sweeper=optuna, hydra/sweeper/sampler=<preset>, hydra/sweeper/pruner=<preset>.

The keys and sampler presets are the official hydra-optuna-sweeper's (1.3), with each sampler's
arguments as current Optuna takes them; a preset's other arguments can be added with
`+hydra.sweeper.sampler.<name>=...`. `motpe` is Optuna's TPESampler: MOTPESampler was folded
into it (Optuna 4 removed the name), and TPE handles several objectives itself.
"""

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
    # A batch's trials are asked before any of them is told: TPE treats the running ones as
    # poor results, so one batch does not draw the same point twice (Optuna's default).
    constant_liar: bool = True


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class CmaEsSamplerConfig:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    x0: dict[str, Any] | None = None
    sigma0: float | None = None
    n_startup_trials: int = 1
    consider_pruned_trials: bool = False
    restart_strategy: str | None = None
    use_separable_cma: bool = False
    with_margin: bool = False
    warn_independent_sampling: bool = True


@dataclass
class NSGAIISamplerConfig:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: int | None = None
    population_size: int = 50
    mutation_prob: float | None = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class QMCSamplerConfig:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: int | None = None
    qmc_type: str = "sobol"
    scramble: bool = False
    warn_independent_sampling: bool = True


@dataclass
class GridSamplerConfig:
    """The grid is the search space itself: the sweeper hands it over (every range, choice
    and stepped float; an interval without a step cannot be a grid)."""

    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True
    seed: int | None = None


@dataclass
class GPSamplerConfig:
    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class NopPrunerConfig:
    """No pruning: every trial trains its full length (the official plugin's behaviour)."""

    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    """Stop a trial whose epoch-k objective is worse than the median of earlier trials'."""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPrunerConfig:
    """Stop a trial whose objective leaves [lower, upper] (a diverged or stuck run)."""

    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.cnn_study_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    # The sweeper makes its sampler, pruner and storage itself: a resumed search reseeds its
    # sampler, and a grid sampler takes the search space (see OptunaSweeper).
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])

    sampler: Any = MISSING
    # Stops hopeless trials at an epoch boundary (each run reports its objective per epoch).
    pruner: Any = MISSING
    # minimize or maximize, or a list of them, one per objective (a multi-objective search).
    direction: Any = "minimize"
    # An Optuna storage: a URL (sqlite:///${hydra.sweep.dir}/optuna.db,
    # postgresql+psycopg://user@host/db) or an object to instantiate, e.g. a journal file:
    #   {_target_: optuna.storages.JournalStorage, log_storage: {_target_:
    #    optuna.storages.journal.JournalFileBackend, file_path: /shared/search.log}}
    # null keeps the study in memory (nothing to resume, nothing to prune from a worker).
    storage: Any = None
    # null: the search folder's name, so that the same command resumes the same study.
    study_name: str | None = None
    # The budget: trials finished (complete, pruned or failed) when the search ends, across
    # reruns and across every process working on the same study.
    n_trials: int = 20
    # Trials asked for at once and handed to the launcher as one batch.
    n_jobs: int = 2
    # Stop when more than this share of one batch's trials failed (as the official plugin).
    max_failure_rate: float = 0.0
    # key: interval(a, b) | tag(log, interval(a, b)) | choice(a, b, ...) | range(a, b[, step])
    params: dict[str, str] | None = None
    # module.function(cfg, trial) that suggests further, e.g. conditional, parameters.
    custom_search_space: str | None = None
    # Seconds between a worker's signs of life on its running trials; a running trial silent
    # for grace_period seconds belongs to a worker that died: it is failed and asked again.
    heartbeat_interval: int = 30
    grace_period: int = 180


_SAMPLERS = {
    "tpe": TPESamplerConfig,
    "motpe": TPESamplerConfig,
    "random": RandomSamplerConfig,
    "cmaes": CmaEsSamplerConfig,
    "nsgaii": NSGAIISamplerConfig,
    "qmc": QMCSamplerConfig,
    "grid": GridSamplerConfig,
    "gp": GPSamplerConfig,
}
_PRUNERS = {
    "none": NopPrunerConfig,
    "median": MedianPrunerConfig,
    "successive_halving": SuccessiveHalvingPrunerConfig,
    "hyperband": HyperbandPrunerConfig,
    "threshold": ThresholdPrunerConfig,
}

store = ConfigStore.instance()
store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="cnn_study")
for name, node in _SAMPLERS.items():
    store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="cnn_study")
for name, node in _PRUNERS.items():
    store.store(group="hydra/sweeper/pruner", name=name, node=node, provider="cnn_study")
