"""Device choice and thread sharing between the runs a launcher starts at once."""

import pytest
import torch

from cnn_study import hardware, launch
from cnn_study.errors import StudyError
from tests.conftest import CONF


def test_auto_picks_cuda_only_where_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert hardware.resolve_device("auto").type == expected


@pytest.mark.ci_may_skip
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


def _composed(*overrides):
    """A config as a Hydra job sees it: its own config, with hydra: interpolations resolvable."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from tests.conftest import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def hydra_config():
    from hydra.core.hydra_config import HydraConfig

    yield _composed
    HydraConfig.instance().cfg = None


def _share_before_presets_declared_it(hydra) -> int:
    """How launch.py guessed the share from the launcher's _target_ before each preset
    declared it: the shipped presets must declare what it computed."""
    target = str(hydra.launcher.get("_target_", ""))
    if "JoblibLauncher" in target:
        n_jobs = hydra.launcher.get("n_jobs") or 1
        return n_jobs if n_jobs > 0 else max(1, 4 + 1 + n_jobs)
    if "submitit_launcher.LocalLauncher" in target:
        return max(1, int(hydra.sweeper.get("max_batch_size") or 4))
    return 1


SHIPPED_PRESETS = sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))


@pytest.mark.parametrize(
    "overrides",
    [
        *([f"hydra/launcher={preset}"] for preset in SHIPPED_PRESETS),
        ["hydra/launcher=parallel", "hydra.launcher.n_jobs=-1"],
        ["hydra/launcher=gpu_shared", "hydra.launcher.n_jobs=3"],
        ["hydra/launcher=slurm_local", "hydra.sweeper.max_batch_size=3"],
        ["hydra/launcher=slurm_local", "hparams_search=chapter"],  # a sweeper without a batch
    ],
    ids=" ".join,
)
def test_each_shipped_launcher_preset_declares_its_share(
    monkeypatch, caplog, hydra_config, overrides
):
    monkeypatch.setattr(launch, "available_cores", lambda: 4)
    cfg = hydra_config(*overrides)
    assert "runs_per_machine" in cfg, "declare runs_per_machine in the preset (launch.py)"
    jobs = launch._parallel_jobs(cfg, cfg.hydra)
    assert jobs == _share_before_presets_declared_it(cfg.hydra)
    assert caplog.records == []


def test_hydras_own_launcher_runs_one_at_a_time_without_a_word(caplog, hydra_config):
    cfg = hydra_config()
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "basic"
    assert launch._parallel_jobs(cfg, cfg.hydra) == 1 and caplog.records == []


@pytest.mark.parametrize("preset", ["joblib", "submitit_local"])  # the plugins' own presets
def test_a_preset_that_does_not_declare_its_share_is_named_in_one_warning(
    caplog, hydra_config, monkeypatch, preset
):
    cfg = hydra_config(f"hydra/launcher={preset}")
    monkeypatch.setattr(launch, "available_cores", lambda: 8)
    # counted as one run per core, one thread each: a guess that never oversubscribes
    assert launch._parallel_jobs(cfg, cfg.hydra) == 8
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"hydra/launcher={preset}" in warning and "runs_per_machine: N" in warning
    assert "\n" not in warning


@pytest.mark.parametrize("value", ["0", "two", "true"])
def test_a_share_that_is_no_number_of_runs_is_named(hydra_config, value):
    cfg = hydra_config("hydra/launcher=parallel", f"runs_per_machine={value}")
    with pytest.raises(StudyError, match="^runs_per_machine must be a number of runs"):
        launch._parallel_jobs(cfg, cfg.hydra)


@pytest.mark.parametrize(
    ("gpus", "slot", "expected"), [(1, 5, "cuda"), (4, 5, "cuda:1"), (4, 8, "cuda:0")]
)
def test_runs_of_a_sweep_spread_over_the_gpus(monkeypatch, gpus, slot, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert str(hardware.resolve_device("auto", slot)) == expected


def test_the_gpu_shared_preset_splits_the_cores_between_its_runs(monkeypatch, hydra_config):
    cfg = hydra_config("hydra/launcher=gpu_shared", "hydra.launcher.n_jobs=4")
    monkeypatch.setattr(launch, "available_cores", lambda: 16)
    monkeypatch.setattr(hardware, "available_cores", lambda: 16)
    jobs = launch._parallel_jobs(cfg, cfg.hydra)
    assert jobs == 4 and hardware.resolve_threads("auto", jobs) == 4


@pytest.mark.ci_may_skip  # CI runs on CPUs: this one runs where a GPU is
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_graphed_training_and_evaluation_match_eager_on_cuda():
    """Two epochs graphed and two eager, from the same weights, batch order and CUDA random
    state, give the same numbers.

    Both paths run train.py's train_step and evaluation_pass, and a replay draws dropout at
    the offsets the eager step would, so with deterministic kernels they should agree to the
    last bit. The stated tolerance allows for what may still differ: cuBLAS/cuDNN picking
    another kernel inside a capture (float rounding: 1e-4 relative on losses, 1e-4 on
    weights) and an argmax tie flipping with it (one sample of 200 in accuracy).
    """
    from cnn_study.data import Split
    from cnn_study.graphs import GraphedEvaluation, GraphedTraining
    from cnn_study.model import ChapterCNN
    from cnn_study.train import evaluate, train_epoch

    hardware.configure_torch(torch.get_num_threads(), deterministic=True)
    device = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    data = Split(
        torch.randn(200, 1, 28, 28, generator=g).to(device),
        torch.randint(0, 10, (200,), generator=g).to(device),
    )

    def two_epochs(graphed: bool):
        torch.manual_seed(0)  # the same initial weights, then the same dropout masks
        model = ChapterCNN().to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
        order = torch.Generator().manual_seed(0)
        if graphed:
            epoch = GraphedTraining(model, optimizer, data, 64).train_epoch  # 3 full + 8 left
            test = GraphedEvaluation(model, data, 64, 10)
        else:

            def epoch(generator):
                return train_epoch(model, optimizer, data, 64, generator)

            def test():
                return evaluate(model, data, 64, 10)

        rows = []
        for _ in range(2):
            loss, acc = epoch(order)
            rows.append((loss, acc, test()))
        return rows, model.state_dict()

    eager, eager_weights = two_epochs(graphed=False)
    graphed, graphed_weights = two_epochs(graphed=True)
    for (loss, acc, evaluation), (g_loss, g_acc, g_evaluation) in zip(eager, graphed, strict=True):
        assert g_loss == pytest.approx(loss, rel=1e-4)
        assert g_acc == pytest.approx(acc, abs=1 / 200)
        assert g_evaluation.loss == pytest.approx(evaluation.loss, rel=1e-4)
        assert g_evaluation.accuracy == pytest.approx(evaluation.accuracy, abs=1 / 200)
        assert g_evaluation.confusion.sum() == 200
        assert (g_evaluation.confusion - evaluation.confusion).abs().sum() <= 2
    assert eager[0][0] != eager[1][0]  # it trained: the second epoch is another one
    for key, weight in eager_weights.items():
        torch.testing.assert_close(graphed_weights[key], weight, rtol=1e-4, atol=1e-4)
