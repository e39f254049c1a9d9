"""The search space: the Optuna sweeper's syntax (hydra_plugins/cnn_study_optuna_sweeper) and
cnn_study.search_space's conditional parameters. (Searches run: tests/e2e/test_search.py.)"""

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from cnn_study.search_space import sgd_momentum
from hydra_plugins.cnn_study_optuna_sweeper.optuna_sweeper import as_override, distribution


def _distribution(text: str):
    return distribution(OverridesParser.create().parse_override(f"key={text}"))


def test_search_space_syntax_is_the_official_plugins():
    log_lr = _distribution("tag(log, interval(1e-4, 0.3))")
    assert isinstance(log_lr, optuna.distributions.FloatDistribution)
    assert (log_lr.low, log_lr.high, log_lr.log) == (1e-4, 0.3, True)
    assert not _distribution("interval(0, 1)").log
    assert _distribution("choice(32, 64, 128)").choices == (32, 64, 128)
    assert _distribution("sgd,adam").choices == ("sgd", "adam")
    steps = _distribution("range(1, 8, 2)")
    assert (steps.low, steps.high, steps.step) == (1, 7, 2)
    with pytest.raises(Exception, match="is not a search space"):
        distribution(OverridesParser.create().parse_override("key=0.5"))
    assert as_override("optimizer.lr", 0.0123456789) == "optimizer.lr=0.01235"
    assert as_override("optimizer.weight_decay", 1.23456e-6) == "optimizer.weight_decay=1.235e-06"
    assert as_override("trainer.batch_size", 64) == "trainer.batch_size=64"


def test_momentum_is_searched_on_sgd_trials_only():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = {"optimizer": optuna.distributions.CategoricalDistribution(["sgd", "adam"])}
    seen = set()
    for _ in range(12):
        trial = study.ask(space)
        sgd_momentum(None, trial)
        seen.add((trial.params["optimizer"], "optimizer.momentum" in trial.params))
        study.tell(trial, 0.0)
    assert seen == {("sgd", True), ("adam", False)}
