"""The search space: the Optuna sweeper's grammar (hydra_plugins/cnn_study_optuna_sweeper) and
cnn_study.search_space's conditional parameters. (Searches run: tests/e2e/test_search.py and
tests/e2e/test_sweeper.py.)

The expected distributions are those the official hydra-optuna-sweeper's documentation gives
for its grammar and builds for its own example configs: `range` includes its end, a range with
a float is a stepped float distribution, choices keep their override text."""

from types import SimpleNamespace

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cnn_study.errors import StudyError
from cnn_study.search_space import sgd_momentum
from hydra_plugins.cnn_study_optuna_sweeper.optuna_sweeper import OptunaSweeper
from hydra_plugins.cnn_study_optuna_sweeper.space import distribution, grid_points, override

PARSER = OverridesParser.create()


def _distribution(text: str):
    return distribution(PARSER.parse_override(f"key={text}"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The official docs' example configs (sphere, multi-objective).
        ("range(-5.5, 5.5, step=0.5)", FloatDistribution(-5.5, 5.5, step=0.5)),
        ("choice(-5 ,0 ,5)", CategoricalDistribution([-5, 0, 5])),
        ("range(0, 5, step=0.5)", FloatDistribution(0, 5, step=0.5)),
        ("range(0, 3, step=0.5)", FloatDistribution(0, 3, step=0.5)),
        # The docs' table of the grammar.
        ("range(1, 4)", IntDistribution(1, 4)),
        ("range(1, 8, 2)", IntDistribution(1, 7, step=2)),  # Optuna's own rounding of high
        ("interval(1, 4)", FloatDistribution(1.0, 4.0)),  # Hydra's intervals are floats
        ("int(interval(1, 4))", IntDistribution(1, 4)),
        ("tag(log, interval(1, 4))", FloatDistribution(1.0, 4.0, log=True)),
        ("tag(log, int(interval(1, 4)))", IntDistribution(1, 4, log=True)),
        ("tag(log, interval(1e-4, 0.3))", FloatDistribution(1e-4, 0.3, log=True)),
        ("choice(32, 64, 128)", CategoricalDistribution([32, 64, 128])),
        ("sgd,adam", CategoricalDistribution(["sgd", "adam"])),
        # Choices keep their override text: a list is the text of one.
        ("choice('a b', c, [1,2])", CategoricalDistribution(["a b", "c", "[1,2]"])),
    ],
)
def test_the_official_grammar_builds_the_official_distributions(text, expected):
    assert _distribution(text) == expected


def test_values_sent_to_a_run_are_exactly_the_values_optuna_records():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = {
        "optimizer.lr": _distribution("tag(log, interval(1e-4, 0.3))"),
        "x": _distribution("range(-5.5, 5.5, step=0.5)"),
        "name": _distribution("choice('a b', 'a,b', \"it's\", c)"),
        "path": CategoricalDistribution(["a\\,b", "end\\", "x\\'y,z"]),  # backslashes
    }
    for _ in range(50):
        trial = study.ask(space)
        for key, value in trial.params.items():
            sent = PARSER.parse_override(override(key, value))
            assert not sent.is_sweep_override()  # 'a,b' quoted: one value, not a sweep
            assert sent.value() == value and type(sent.value()) is type(value)
        study.tell(trial, 0.0)
    assert PARSER.parse_override(override("key", "[1,2]")).value() == [1, 2]


def test_a_grid_is_every_point_of_each_range_and_choice():
    assert grid_points("x", _distribution("range(1, 4)")) == [1, 2, 3, 4]
    assert grid_points("x", _distribution("range(0, 1, step=0.25)")) == [0, 0.25, 0.5, 0.75, 1]
    assert grid_points("x", _distribution("choice(a, b)")) == ["a", "b"]
    with pytest.raises(StudyError, match="a grid search needs a finite set of values"):
        grid_points("x", _distribution("interval(0.0, 1.0)"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0.5", "is not a search space: use interval(a, b)"),
        ("range(5, 1)", "key=range(5, 1): `low <= high` must hold"),  # Optuna's reason
        ("tag(log, interval(0.0, 1.0))", "key=tag(log, interval(0.0, 1.0)): `low > 0` must"),
    ],
)
def test_what_is_not_a_search_space_is_said_in_one_line(text, says):
    with pytest.raises(StudyError) as raised:
        _distribution(text)
    assert says in str(raised.value) and "\n" not in str(raised.value)


def _sweeper(**params: str) -> OptunaSweeper:
    sweeper = OptunaSweeper(
        sampler=None,
        pruner=None,
        direction="minimize",
        storage=None,
        study_name=None,
        n_trials=4,
        n_jobs=2,
        max_failure_rate=0.0,
        params=params,
        custom_search_space=None,
    )
    sweeper.hydra_context = SimpleNamespace(config_loader=None)
    return sweeper


def test_fixed_overrides_reach_the_runs_as_written_and_a_command_line_value_wins():
    sweeper = _sweeper(**{"optimizer.lr": "interval(0.01, 0.1)", "seed": "choice(0, 1)"})
    space, fixed = sweeper._space(["~trainer.scheduler", "seed=3", "+tag='a b'", "y=1,2"])
    assert fixed == ["~trainer.scheduler", "seed=3", "+tag='a b'"]  # never ~key=null
    assert set(space) == {"optimizer.lr", "y"}
    assert space["y"] == CategoricalDistribution([1, 2])


def test_a_params_grammar_error_is_one_line():
    with pytest.raises(StudyError) as raised:
        _sweeper(x="range(1,")._space([])
    message = str(raised.value)
    assert message.startswith("hydra.sweeper.params: ") and "\n" not in message


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
