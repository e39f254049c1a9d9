"""The training state and its checkpoint: restored, a run goes on as if it never stopped."""

import torch

from cnn_study.data import Split
from cnn_study.runs import RunFolder
from cnn_study.state import TrainingState
from cnn_study.train import train_epoch

CPU = torch.device("cpu")


def split(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g))


def next_epoch(state: TrainingState, data: Split) -> tuple[float, float]:
    numbers = train_epoch(state.model, state.optimizer, data, 32, state.batch_order)
    state.scheduler.step()
    return numbers


def test_a_restored_state_trains_the_next_epoch_to_identical_numbers(make_cfg, tmp_path):
    cfg = make_cfg("scheduler=cosine", "trainer.epochs=3", "seed=7")
    data, folder = split(), RunFolder(tmp_path / "run")
    state = TrainingState.fresh(cfg, CPU)
    state.history.append({"epoch": 1, "train_loss": next_epoch(state, data)[0]})
    folder.path.mkdir()
    folder.save_checkpoint(state.checkpoint())  # through the disk, as a run resumes
    expected = next_epoch(state, data)

    again = TrainingState.fresh(cfg, CPU)
    torch.rand(100)  # a process that drew other numbers since: the checkpoint puts them back
    again.restore(folder.load_checkpoint())
    assert again.epoch == 1 and again.history == state.history[:1]
    assert next_epoch(again, data) == expected  # dropout, batch order and learning rate alike
    assert again.optimizer.param_groups[0]["lr"] == state.optimizer.param_groups[0]["lr"]
    weights, restored = state.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(weights[k], restored[k]) for k in weights)


def test_a_checkpoint_from_before_schedulers_keeps_the_fresh_schedule(make_cfg, tmp_path):
    cfg = make_cfg()
    state = TrainingState.fresh(cfg, CPU)
    old = state.checkpoint()
    del old["scheduler"]
    old["rng_cuda"] = []  # written on a machine without CUDA
    again = TrainingState.fresh(cfg, CPU)
    again.restore(old)
    assert again.scheduler.state_dict() == TrainingState.fresh(cfg, CPU).scheduler.state_dict()


def test_the_checkpoint_keeps_its_keys(make_cfg):
    """Old run folders resume only while the checkpoint's format stays as it is."""
    checkpoint = TrainingState.fresh(make_cfg(), CPU).checkpoint()
    assert sorted(checkpoint) == sorted(
        [
            "epoch",
            "model",
            "optimizer",
            "scheduler",
            "history",
            "rng_torch",
            "rng_cuda",
            "rng_batch_order",
        ]
    )
