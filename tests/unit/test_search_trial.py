"""A run's link to its Optuna trial (cnn_study/search_trial.py): what it reports after each
epoch, what the pruner decides from it, and that it never costs a run its training."""

import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from cnn_study.errors import StudyError
from cnn_study.search_trial import PRUNED_AT, TrialLink, per_epoch
from tests.conftest import CONF


def _rows(*accuracies: float) -> list[dict[str, float]]:
    return [{"epoch": i + 1, "val_acc": a, "val_loss": 1 - a} for i, a in enumerate(accuracies)]


@pytest.fixture
def search(tmp_path):
    storage = optuna.storages.get_storage(f"sqlite:///{tmp_path}/optuna.db")
    study = optuna.create_study(
        storage=storage,
        study_name="s",
        direction="maximize",
        pruner=optuna.pruners.ThresholdPruner(lower=0.5, n_warmup_steps=2),
    )
    return study, storage


def test_each_epoch_is_reported_once_and_the_pruner_decides_from_them(search, monkeypatch):
    study, storage = search
    trial = study.ask()
    link = TrialLink(study, storage, trial.number, "final_val_acc")
    reported = []
    real = storage.set_trial_intermediate_value
    monkeypatch.setattr(
        storage,
        "set_trial_intermediate_value",
        lambda trial_id, step, value: reported.append(step) or real(trial_id, step, value),
    )
    assert link.should_stop(_rows(0.3)) is False  # still warming up
    assert link.should_stop(_rows(0.3, 0.6)) is False  # above the threshold
    assert link.should_stop(_rows(0.3, 0.6, 0.4)) is True
    assert storage.get_trial(link.trial_id).intermediate_values == {1: 0.3, 2: 0.6, 3: 0.4}
    assert reported == [1, 2, 3]  # once each, though every call saw every epoch so far
    link.pruned(3)
    assert storage.get_trial(link.trial_id).user_attrs[PRUNED_AT] == 3


def test_a_resumed_run_reports_the_epochs_its_trial_has_not_seen(search):
    study, storage = search
    trial = study.ask()
    link = TrialLink(study, storage, trial.number, "best_val_acc")
    link.should_stop(_rows(0.7, 0.9, 0.8))  # epochs 1-3 at once, as after a resume
    assert storage.get_trial(link.trial_id).intermediate_values == {1: 0.7, 2: 0.9, 3: 0.9}


def test_a_trial_taken_from_its_run_leaves_the_run_training(search):
    study, storage = search
    trial = study.ask()
    link = TrialLink(study, storage, trial.number, "final_val_acc")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)  # its worker was given up as stale
    assert link.should_stop(_rows(0.1, 0.1, 0.1)) is False
    assert link.should_stop(_rows(0.1, 0.1, 0.1, 0.1)) is False  # and stays quiet after


def test_an_objective_without_a_value_per_epoch_cannot_be_pruned():
    assert per_epoch("final_val_loss")(_rows(0.25)) == 0.75
    with pytest.raises(StudyError, match="objective='train_seconds' has none"):
        per_epoch("train_seconds")


PRESETS = {
    "sampler": {
        "tpe": "TPESampler",
        "motpe": "TPESampler",
        "random": "RandomSampler",
        "cmaes": "CmaEsSampler",
        "nsgaii": "NSGAIISampler",
        "qmc": "QMCSampler",
        "grid": "GridSampler",
        "gp": "GPSampler",
        "tpe8": "TPESampler",  # the tuned search's (conf/hydra/sweeper/sampler/)
    },
    "pruner": {
        "none": "NopPruner",
        "median": "MedianPruner",
        "successive_halving": "SuccessiveHalvingPruner",
        "hyperband": "HyperbandPruner",
        "threshold": "ThresholdPruner",
        "patient_median": "MedianPruner",  # the tuned search's (conf/hydra/sweeper/pruner/)
    },
}


@pytest.mark.parametrize(
    ("group", "preset"), [(g, p) for g, presets in PRESETS.items() for p in presets]
)
def test_every_preset_composes_into_its_optuna_class_and_a_pruner_judges_a_trial(
    group, preset, tmp_path
):
    overrides = ["hparams_search=chapter", f"hydra/sweeper/{group}={preset}"]
    if preset == "threshold":  # it needs a bound
        overrides.append("hydra.sweeper.pruner.lower=0.5")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    made = instantiate(cfg.hydra.sweeper[group])
    if group == "sampler" and preset == "grid":  # partial: the sweeper gives it the grid
        made = made(search_space={"x": [1, 2]})
    assert type(made).__name__ == PRESETS[group][preset]
    if group == "pruner":
        storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/optuna.db")
        study = optuna.create_study(storage=storage, direction="maximize", pruner=made)
        for _ in range(6):  # finished trials for the median and the rungs to compare
            done = study.ask()
            for epoch in range(1, 5):
                done.report(0.9, epoch)
                done.should_prune()  # as each run's link asks: rungs are recorded then
            study.tell(done, 0.9)
        link = TrialLink(study, storage, study.ask().number, "final_val_acc")
        stops = [link.should_stop(_rows(*[0.1] * k)) for k in range(1, 5)]
        assert not link.broken  # the pruner ran on every report
        if preset == "none":
            assert not any(stops)
        elif preset != "patient_median":  # (it judges from epoch 5 on; these have 4)
            assert any(stops)  # far below every finished trial, and the bound: stopped
