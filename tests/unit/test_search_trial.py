"""A run's link to its Optuna trial (cnn_study/search_trial.py): what it reports after each
epoch, what the pruner decides from it, and that it never costs a run its training."""

import optuna
import pytest

from cnn_study.errors import StudyError
from cnn_study.search_trial import PRUNED_AT, TrialLink, per_epoch


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


def test_each_epoch_is_reported_once_and_the_pruner_decides_from_them(search):
    study, storage = search
    trial = study.ask()
    link = TrialLink(study, storage, trial.number, "final_val_acc")
    assert link.should_stop(_rows(0.3)) is False  # still warming up
    assert link.should_stop(_rows(0.3, 0.6)) is False  # above the threshold
    assert link.should_stop(_rows(0.3, 0.6, 0.4)) is True
    assert storage.get_trial(link.trial_id).intermediate_values == {1: 0.3, 2: 0.6, 3: 0.4}
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
