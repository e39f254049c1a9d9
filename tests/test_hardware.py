"""Device choice and thread sharing between the runs a launcher starts at once."""

import pytest
import torch
from omegaconf import OmegaConf

from cnn_study import hardware, launch
from cnn_study.errors import StudyError


def test_auto_picks_cuda_only_where_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert hardware.resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_one_clear_error():
    with pytest.raises(StudyError, match="CUDA is not available here"):
        hardware.resolve_device("cuda")


@pytest.mark.parametrize(
    ("jobs", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8)]
)
def test_auto_threads_share_the_cores_between_parallel_runs(monkeypatch, jobs, cores, threads):
    monkeypatch.setattr(hardware, "available_cores", lambda: cores)
    assert hardware.resolve_threads("auto", jobs) == threads
    assert hardware.resolve_threads(3, jobs) == 3  # an explicit number wins


@pytest.mark.parametrize(
    ("target", "launcher", "sweeper", "expected"),
    [
        ("hydra._internal.core_plugins.basic_launcher.BasicLauncher", {}, {}, 1),
        (
            "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
            {"n_jobs": 2},
            {},
            2,
        ),
        (
            "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
            {"n_jobs": -1},
            {},
            4,
        ),
        (
            "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
            {},
            {"max_batch_size": 3},
            3,
        ),
        ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", {}, {}, 1),
    ],
)
def test_parallel_jobs_follow_the_launcher(monkeypatch, target, launcher, sweeper, expected):
    monkeypatch.setattr(launch, "available_cores", lambda: 4)
    hydra = OmegaConf.create({"launcher": {"_target_": target, **launcher}, "sweeper": sweeper})
    assert launch._parallel_jobs(hydra) == expected
