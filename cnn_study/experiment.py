"""One run of the study: config in, run folder out. Plain Python: tests call it without Hydra.

A run that finds its folder already finished is skipped; one that finds a checkpoint resumes
from it exactly (weights, optimizer, batch order and dropout random states); one that finds
another config in its folder stops and names the keys that differ (cnn_study.lifecycle).
"""

from __future__ import annotations

import logging
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from cnn_study import lifecycle, loggers
from cnn_study.config_checks import validate
from cnn_study.data import Dataset, check_source, load_dataset, source_for
from cnn_study.errors import RunFailed, StudyError
from cnn_study.factors import CHOICE_GROUPS
from cnn_study.hardware import configure_torch, device_name, resolve_device, resolve_threads
from cnn_study.loggers import RunLogger
from cnn_study.model import count_parameters
from cnn_study.results import Results
from cnn_study.runs import RunFolder, now
from cnn_study.signals import Stopped
from cnn_study.state import TrainingState, channels_last
from cnn_study.train import Evaluation, evaluate, train_epoch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    """Where and how a run was launched; recorded in its results."""

    launcher: str = "basic"
    parallel_jobs: int = 1
    job_id: str | None = None
    host: str = field(default_factory=socket.gethostname)
    overrides: Sequence[str] = ()
    hydra_config: DictConfig | None = None
    slot: int = 0  # the job's number in its sweep: which GPU it takes where there are several
    sweep_id: str | None = None  # the sweep this job belongs to (callbacks.ReportFailures)


# Asked after each epoch with the run's epochs so far (metrics.csv's rows): True stops the run
# there, as pruned (an Optuna search's pruner: cnn_study.search_trial).
ShouldStop = Callable[[Sequence[dict[str, float]]], bool]


def run(
    cfg: DictConfig,
    run_dir: str | Path,
    launch: Launch | None = None,
    should_stop: ShouldStop | None = None,
) -> dict[str, Any]:
    """Train (or resume, or skip) the run that cfg describes in run_dir; return its results.

    One process at a time trains a run folder: a second one waits for the first (the lock),
    then finds the run finished (skips it) or unfinished (resumes it). A run that fails once
    it has begun raises RunFailed from its error, naming the failure.json it wrote.
    """
    launch = launch or Launch()
    try:
        validate(cfg)
        check_source(cfg.dataset)  # the settings only the dataset's source reads
        loggers.check_available(cfg.logger)  # a missing package stops the run before anything
    except StudyError as exc:
        log.error("invalid config: %s", exc)  # into the log Hydra opened in run_dir
        raise
    folder = RunFolder(run_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    with lifecycle.held(folder):
        try:
            return _run_held(cfg, config, folder, launch, should_stop)
        except Stopped as stop:
            log.warning(
                "stopped by %s: %s keeps its last checkpoint; rerun the same command to resume",
                stop.signal_name,
                folder.path,
            )
            raise


def _run_held(
    cfg: DictConfig,
    config: dict[str, Any],
    folder: RunFolder,
    launch: Launch,
    should_stop: ShouldStop | None,
) -> dict[str, Any]:
    job = lifecycle.Job(
        force=bool(cfg.force),
        job_id=launch.job_id,
        sweep_id=launch.sweep_id,
        searching=should_stop is not None,
    )
    found = lifecycle.prepare_folder(folder, config, job, _data_now(config))
    if found.results is not None:
        return found.results
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_hydra_files(cfg, launch.hydra_config, launch.overrides)
    folder.archive_failure()
    try:
        return _train(cfg, config, folder, launch, found.checkpoint, should_stop)
    except Exception as exc:
        folder.record_failure(exc)
        log.error("run %s failed: %s", folder.path, exc)
        raise RunFailed(str(exc), folder.failure_file) from exc


def _data_now(config: dict[str, Any]) -> Callable[[], str | None]:
    """The data's fingerprint as it is now, where its source's files may change under the
    same config (an image folder's): a finished run made from other files is not skipped."""
    dataset, paths = config["dataset"], config["paths"]
    source = source_for(dataset)
    return lambda: source.current_fingerprint(dataset, paths["data_dir"], paths["cache_dir"])


def _train(
    cfg: DictConfig,
    config: dict[str, Any],
    folder: RunFolder,
    launch: Launch,
    checkpoint: dict[str, Any] | None,
    should_stop: ShouldStop | None,
) -> dict[str, Any]:
    """cfg and config are the same settings: config resolved once into plain containers."""
    device = resolve_device(cfg.trainer.device, launch.slot)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # streams and graph captures follow the current device
    threads = resolve_threads(cfg.trainer.num_threads, launch.parallel_jobs)
    configure_torch(threads, cfg.trainer.deterministic)
    started = time.perf_counter()

    state = TrainingState.fresh(cfg, device)
    data = load_dataset(
        config["dataset"],
        cfg.paths.data_dir,
        cfg.paths.cache_dir,
        device,
        channels_last(cfg, state.model),
        launch.parallel_jobs,
    )
    if checkpoint is not None:
        state.restore(checkpoint)
        log.info("resumed %s after epoch %d of %d", folder.path, state.epoch, cfg.trainer.epochs)
    log.info(
        "training %s seed %d on %s (%d threads), %d train / %d validation / %d test images",
        data.name,
        cfg.seed,
        device,
        threads,
        len(data.train),
        len(data.val) if data.val is not None else 0,
        len(data.test),
    )

    live = loggers.open_logger(
        config["logger"],
        folder.path,
        _run_name(folder, cfg),
        _hparams(config, launch),
        state.history,
    )
    try:
        last, pruned = _epochs(cfg, state, data, folder, live, should_stop)
        results = Results(
            **_measurements(config, data, state, last, time.perf_counter() - started),
            **_provenance(config, device, threads, launch),
            config=config,
        )
        if pruned:
            results["pruned_at_epoch"] = len(state.history)
        folder.write_results(results)
        live.log_final(results)
    finally:
        live.close()
    log.info("finished %s: final test accuracy %.4f", folder.path, results["final_test_acc"])
    return results


def _epochs(
    cfg: DictConfig,
    state: TrainingState,
    data: Dataset,
    folder: RunFolder,
    live: RunLogger,
    should_stop: ShouldStop | None,
) -> tuple[Evaluation, bool]:
    """The remaining epochs; each one checkpointed, written and logged, until the last one or
    until should_stop says so. (The last evaluation, whether the run was stopped early.)"""
    train, test = _steps(cfg, state, data)
    validation = _validation(cfg, state.model, data)
    epochs = _progress_bar(cfg, data, state.epoch)
    last: Evaluation | None = None
    pruned = False
    for epoch in epochs:
        epoch_start = time.perf_counter()
        lr = state.optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train(state.batch_order)
        state.scheduler.step()  # per epoch: the rate of the next epoch
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc}
        if validation is not None:
            val = validation()
            row |= {"val_loss": val.loss, "val_acc": val.accuracy}
        last = test()
        row |= {"test_loss": last.loss, "test_acc": last.accuracy, "lr": lr}
        row["seconds"] = time.perf_counter() - epoch_start
        state.history.append(row)
        folder.save_checkpoint(state.checkpoint())
        folder.write_metrics(state.history)
        live.log_epoch(row)
        _show(epochs, cfg.trainer.epochs, row)
        if should_stop is not None and epoch < cfg.trainer.epochs and should_stop(state.history):
            log.info("pruned after epoch %d of %d: %s", epoch, cfg.trainer.epochs, folder.path)
            pruned = True
            break
    epochs.close()

    if last is None:  # a crash after the last checkpoint but before results.json
        last = evaluate(state.model, data.test, cfg.trainer.eval_batch_size, len(data.classes))
    return last, pruned


def _steps(
    cfg: DictConfig, state: TrainingState, data: Dataset
) -> tuple[Callable[[torch.Generator], tuple[float, float]], Callable[[], Evaluation]]:
    """One epoch of training and one evaluation, as CUDA graphs where asked for and possible."""
    model, optimizer = state.model, state.optimizer
    device = data.train.labels.device
    classes = len(data.classes)
    if cfg.trainer.cuda_graphs and device.type == "cuda":
        from cnn_study.graphs import GraphedEvaluation, GraphedTraining

        graphed = GraphedTraining(model, optimizer, data.train, cfg.trainer.batch_size)
        evaluation = GraphedEvaluation(model, data.test, cfg.trainer.eval_batch_size, classes)
        return graphed.train_epoch, evaluation

    for group in optimizer.param_groups:
        if group.get("capturable"):  # restored from a checkpoint of a graphed run on a GPU
            group["capturable"] = device.type == "cuda"

    def train(generator: torch.Generator) -> tuple[float, float]:
        return train_epoch(model, optimizer, data.train, cfg.trainer.batch_size, generator)

    def test() -> Evaluation:
        return evaluate(model, data.test, cfg.trainer.eval_batch_size, classes)

    return train, test


def _validation(
    cfg: DictConfig, model: torch.nn.Module, data: Dataset
) -> Callable[[], Evaluation] | None:
    """The validation pass, or None without a validation split. Eager even where training is
    graphed: it reads no random state, so it leaves the training numbers as they are."""
    if data.val is None:
        return None
    classes = len(data.classes)
    return lambda: evaluate(model, data.val, cfg.trainer.eval_batch_size, classes)


def _progress_bar(cfg: DictConfig, data: Dataset, done: int) -> tqdm:
    """The epochs still to train, as a progress bar (off with trainer.progress=false)."""
    return tqdm(
        range(done + 1, cfg.trainer.epochs + 1),
        initial=done,
        total=cfg.trainer.epochs,
        desc=f"{data.name} seed {cfg.seed}",
        unit="epoch",
        disable=None if cfg.trainer.progress else True,
        dynamic_ncols=True,
    )


def _show(epochs: tqdm, planned: int, row: dict[str, float]) -> None:
    """One finished epoch, on the progress bar and in the log."""
    validated = "val_acc" in row
    shown = {"val_acc": row["val_acc"]} if validated else {"test_acc": row["test_acc"]}
    epochs.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, loss=f"{row['train_loss']:.3f}")
    log.info(
        "epoch %d/%d  train loss %.4f acc %.4f  %stest loss %.4f acc %.4f  (%.1f s)",
        row["epoch"],
        planned,
        row["train_loss"],
        row["train_acc"],
        f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}  " if validated else "",
        row["test_loss"],
        row["test_acc"],
        row["seconds"],
    )


def _run_name(folder: RunFolder, cfg: DictConfig) -> str:
    """The run folder's path below the outputs, as runs are named in loggers: grid/mnist/..."""
    try:
        return str(folder.path.absolute().relative_to(Path(cfg.paths.output_dir).absolute()))
    except ValueError:
        return folder.path.name


def _hparams(config: dict[str, Any], launch: Launch) -> dict[str, Any]:
    """What a sweep's runs are compared by, flat: the choices and the recipe's numbers."""
    choices = launch.hydra_config.runtime.choices if launch.hydra_config is not None else {}

    def chosen(group: str) -> str:
        return str(choices.get(group) or config[group]["_target_"].rsplit(".", 1)[-1])

    hparams = {"study": config["study"], "dataset": config["dataset"]["name"]}
    hparams |= {group: chosen(group) for group in CHOICE_GROUPS}
    if config.get("recipe"):
        hparams["recipe"] = config["recipe"]
    hparams |= {
        "epochs": config["trainer"]["epochs"],
        "batch_size": config["trainer"]["batch_size"],
        "seed": config["seed"],
    }
    for key, value in config["optimizer"].items():
        if not key.startswith("_"):
            hparams[f"optimizer.{key}"] = value
    return hparams


def _measurements(
    config: dict[str, Any],
    data: Dataset,
    state: TrainingState,
    last: Evaluation,
    session_seconds: float,
) -> dict[str, Any]:
    """What the run measured: results.json's numbers, up to when it finished (the keys and
    their meaning: cnn_study/results.py)."""
    history = state.history
    # Chosen on the test set: an optimistic bound, never a model-selection number.
    best = max(history, key=lambda row: row["test_acc"])  # the first epoch at the best accuracy
    confusion = last.confusion
    per_class = (confusion.diag().double() / confusion.sum(1).clamp(min=1).double()).tolist()
    return {
        "dataset": data.name,
        "seed": config["seed"],
        "epochs": config["trainer"]["epochs"],
        "epochs_completed": len(history),
        **_validation_results(config, data, history),
        "final_test_acc": history[-1]["test_acc"],
        "final_test_loss": history[-1]["test_loss"],
        "final_train_acc": history[-1]["train_acc"],
        "best_test_acc": best["test_acc"],
        "best_epoch": best["epoch"],
        "per_class_test_acc": dict(zip(data.classes, per_class, strict=True)),
        "confusion_matrix": confusion.tolist(),
        "classes": data.classes,
        # What the images were: their contents' fingerprint and the normalisation used.
        "data_fingerprint": data.fingerprint,
        "mean": list(data.mean),
        "std": list(data.std),
        "parameters": count_parameters(state.model),
        "train_size": len(data.train),
        "test_size": len(data.test),
        "train_seconds": sum(row["seconds"] for row in history),
        "last_session_seconds": session_seconds,
        "finished": now(),
    }


def _validation_results(
    config: dict[str, Any], data: Dataset, history: list[dict[str, float]]
) -> dict[str, Any]:
    """The split, and the numbers chosen on it: the best validation epoch and the test
    accuracy at that epoch (the honest counterpart of best_test_acc)."""
    split = {"val_size": config["dataset"].get("val_size") or 0}
    if data.val is None:
        return split
    best = max(history, key=lambda row: row["val_acc"])  # the first epoch at the best
    return split | {
        "split_seed": config["dataset"]["split_seed"],
        "split_fingerprint": data.split_fingerprint,
        "final_val_acc": history[-1]["val_acc"],
        "final_val_loss": history[-1]["val_loss"],
        "best_val_acc": best["val_acc"],
        "best_val_epoch": best["epoch"],
        "test_acc_at_best_val": best["test_acc"],
    }


def _provenance(
    config: dict[str, Any], device: torch.device, threads: int, launch: Launch
) -> dict[str, Any]:
    """Where, on what and by which job the run was made."""
    return {
        "device": str(device),
        "device_name": device_name(device),
        "num_threads": threads,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "git_commit": _git_commit(config["paths"]["root_dir"]),
        "host": launch.host,
        "launcher": launch.launcher,
        "job_id": launch.job_id,
        "sweep_id": launch.sweep_id,
    }


def _git_commit(cwd: str | Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
