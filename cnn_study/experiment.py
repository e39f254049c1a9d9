"""One run of the study: config in, run folder out. Plain Python: tests call it without Hydra.

A run that finds its folder already finished is skipped; one that finds a checkpoint resumes
from it exactly (weights, optimizer, batch order and dropout random states); one that finds
another config in its folder stops and names the keys that differ.
"""

from __future__ import annotations

import logging
import platform
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from cnn_study import loggers
from cnn_study.data import Dataset, load_dataset
from cnn_study.errors import RunFailed, StudyError
from cnn_study.hardware import configure_torch, device_name, resolve_device, resolve_threads
from cnn_study.model import count_parameters, has_convolutions
from cnn_study.runs import RunFolder, config_differences, now
from cnn_study.settings import validate
from cnn_study.signals import Stopped, stop_on_signals
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


def run(cfg: DictConfig, run_dir: str | Path, launch: Launch | None = None) -> dict[str, Any]:
    """Train (or resume, or skip) the run that cfg describes in run_dir; return its results.

    One process at a time trains a run folder: a second one waits for the first (the lock),
    then finds the run finished (skips it) or unfinished (resumes it). A run that fails once
    it has begun raises RunFailed from its error, naming the failure.json it wrote.
    """
    launch = launch or Launch()
    try:
        validate(cfg)
        loggers.check_available(cfg.logger)  # a missing package stops the run before anything
    except StudyError as exc:
        log.error("invalid config: %s", exc)  # into the log Hydra opened in run_dir
        raise
    folder = RunFolder(run_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    with folder.lock(), stop_on_signals():
        for stale in folder.remove_stale_temp_files():
            log.info("removed %s, left by a process that was killed mid-write", stale)
        try:
            return _run_locked(cfg, config, folder, launch)
        except Stopped as stop:
            log.warning(
                "stopped by %s: %s keeps its last checkpoint; rerun the same command to resume",
                stop.signal_name,
                folder.path,
            )
            raise


def _run_locked(
    cfg: DictConfig, config: dict[str, Any], folder: RunFolder, launch: Launch
) -> dict[str, Any]:
    finished, checkpoint = _inspect(cfg, config, folder, launch)
    if finished is not None:
        return finished
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_hydra_files(cfg, launch.hydra_config, launch.overrides)
    folder.archive_failure()
    try:
        return _train(cfg, config, folder, launch, checkpoint)
    except Exception as exc:
        folder.record_failure(exc)
        log.error("run %s failed: %s", folder.path, exc)
        raise RunFailed(str(exc), folder.failure_file) from exc


Found = tuple[dict[str, Any] | None, dict[str, Any] | None]  # (finished results, checkpoint)


def _inspect(cfg: DictConfig, config: dict[str, Any], folder: RunFolder, launch: Launch) -> Found:
    """What the folder holds: a finished run (skip it), a checkpoint (resume), or nothing
    (start). force=true moves aside only what cannot be kept: another config, unreadable
    files, or a run finished by another job."""
    try:
        saved = folder.read_config()
    except StudyError as exc:
        return _forced(cfg, folder, exc)
    if saved is None:
        return None, None
    differences = config_differences(saved, config)
    if differences:
        problem = StudyError(
            f"{folder.path} holds a run with another config (differs in: {', '.join(differences)})",
            "rerun with that config, choose another study=NAME, or add force=true to move the "
            "old run aside",
            separator="; ",
        )
        return _forced(cfg, folder, problem)
    if folder.is_finished():
        results = folder.read_results()
        if cfg.force and not _same_job(results, launch):
            _move_aside(folder, "force=true retrains a finished run")
            return None, None
        log.info(
            "skipped %s: already finished (final test accuracy %.4f)",
            folder.path,
            results["final_test_acc"],
        )
        return results, None
    # Unfinished, same config: resume, force or not. A requeued or retried job that was
    # started with force=true must not throw away its own progress.
    try:
        return None, folder.load_checkpoint()
    except StudyError as exc:
        return _forced(cfg, folder, exc)


def _same_job(results: dict[str, Any], launch: Launch) -> bool:
    """Was this finished run made by this very job (a requeue) or an earlier job of this
    very sweep (two overrides that map to one folder)? force=true keeps it then."""
    same_job = launch.job_id and results.get("job_id") == launch.job_id
    same_sweep = launch.sweep_id and results.get("sweep_id") == launch.sweep_id
    return bool(same_job or same_sweep)


def _forced(cfg: DictConfig, folder: RunFolder, problem: StudyError) -> Found:
    """A folder that cannot be kept: an error, or with force=true moved aside for a new run."""
    if not cfg.force:
        raise problem
    _move_aside(folder, problem.reason)
    return None, None


def _move_aside(folder: RunFolder, why: str) -> None:
    aside = folder.move_aside()
    folder.path.mkdir(parents=True)
    _reopen_log_files(folder.path)
    log.warning("force=true: moved %s aside to %s (%s)", folder.path, aside, why)


def _train(
    cfg: DictConfig,
    config: dict[str, Any],
    folder: RunFolder,
    launch: Launch,
    checkpoint: dict[str, Any] | None,
) -> dict[str, Any]:
    """cfg and config are the same settings: config resolved once into plain containers."""
    device = resolve_device(cfg.trainer.device, launch.slot)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # streams and graph captures follow the current device
    threads = resolve_threads(cfg.trainer.num_threads, launch.parallel_jobs)
    configure_torch(threads, cfg.trainer.deterministic)
    started = time.perf_counter()

    torch.manual_seed(cfg.seed)  # initial weights, then dropout
    model = instantiate(cfg.model)
    channels_last = cfg.trainer.channels_last and has_convolutions(model)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    data = load_dataset(
        config["dataset"], cfg.paths.data_dir, cfg.paths.cache_dir, device, channels_last
    )
    optimizer = instantiate(cfg.optimizer)(model.parameters())
    scheduler = instantiate(cfg.scheduler)(optimizer)
    batch_order = torch.Generator().manual_seed(cfg.seed)

    history: list[dict[str, float]] = []
    if checkpoint is not None:
        history = _restore(checkpoint, model, optimizer, scheduler, batch_order)
        log.info("resumed %s after epoch %d of %d", folder.path, len(history), cfg.trainer.epochs)
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
        config["logger"], folder.path, _run_name(folder, cfg), _hparams(config, launch), history
    )
    try:
        last = _epochs(cfg, model, optimizer, scheduler, batch_order, data, folder, history, live)
        results = _results(
            config,
            data,
            model,
            history,
            last,
            device,
            threads,
            launch,
            time.perf_counter() - started,
        )
        folder.write_results(results)
        live.log_final(results)
    finally:
        live.close()
    log.info("finished %s: final test accuracy %.4f", folder.path, results["final_test_acc"])
    return results


def _epochs(cfg, model, optimizer, scheduler, batch_order, data, folder, history, live):
    """The remaining epochs; each one checkpointed, written and logged. The last evaluation."""
    device = data.train.labels.device
    last: Evaluation | None = None
    epochs = tqdm(
        range(len(history) + 1, cfg.trainer.epochs + 1),
        initial=len(history),
        total=cfg.trainer.epochs,
        desc=f"{data.name} seed {cfg.seed}",
        unit="epoch",
        disable=None if cfg.trainer.progress else True,
        dynamic_ncols=True,
    )
    train, test = _steps(cfg, model, optimizer, data, device)
    validate = _validation(cfg, model, data)
    for epoch in epochs:
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train(batch_order)
        scheduler.step()  # per epoch: the rate of the next epoch
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc}
        if validate is not None:
            val = validate()
            row |= {"val_loss": val.loss, "val_acc": val.accuracy}
        last = test()
        row |= {"test_loss": last.loss, "test_acc": last.accuracy, "lr": lr}
        row["seconds"] = time.perf_counter() - epoch_start
        history.append(row)
        folder.save_checkpoint(_checkpoint(model, optimizer, scheduler, batch_order, history))
        folder.write_metrics(history)
        live.log_epoch(row)
        shown = {"val_acc": row["val_acc"]} if "val_acc" in row else {"test_acc": last.accuracy}
        epochs.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, loss=f"{train_loss:.3f}")
        log.info(
            "epoch %d/%d  train loss %.4f acc %.4f  %stest loss %.4f acc %.4f  (%.1f s)",
            epoch,
            cfg.trainer.epochs,
            train_loss,
            train_acc,
            f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}  "
            if "val_acc" in row
            else "",
            last.loss,
            last.accuracy,
            row["seconds"],
        )
    epochs.close()

    if last is None:  # a crash after the last checkpoint but before results.json
        last = evaluate(model, data.test, cfg.trainer.eval_batch_size, len(data.classes))
    return last


def _validation(cfg: DictConfig, model, data: Dataset):
    """The validation pass, or None without a validation split. Eager even where training is
    graphed: it reads no random state, so it leaves the training numbers as they are."""
    if data.val is None:
        return None
    classes = len(data.classes)
    return lambda: evaluate(model, data.val, cfg.trainer.eval_batch_size, classes)


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

    hparams = {
        "study": config["study"],
        "dataset": config["dataset"]["name"],
        "model": chosen("model"),
        "optimizer": chosen("optimizer"),
        "scheduler": chosen("scheduler"),
        "epochs": config["trainer"]["epochs"],
        "batch_size": config["trainer"]["batch_size"],
        "seed": config["seed"],
    }
    for key, value in config["optimizer"].items():
        if not key.startswith("_"):
            hparams[f"optimizer.{key}"] = value
    return hparams


def _steps(cfg: DictConfig, model, optimizer, data: Dataset, device: torch.device):
    """One epoch of training and one evaluation, as CUDA graphs where asked for and possible."""
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


def _reopen_log_files(folder: Path) -> None:
    """Point log files of a folder just moved aside back at the folder's path.

    Hydra opened the run's log file before the run started; after the move its handler
    still writes into the moved folder. Closed, a FileHandler reopens its path on next use.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(
            folder
        ):
            handler.close()


def _checkpoint(
    model, optimizer, scheduler, batch_order: torch.Generator, history
) -> dict[str, Any]:
    return {
        "epoch": len(history),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": history,
        "rng_torch": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "rng_batch_order": batch_order.get_state(),
    }


def _restore(
    checkpoint, model, optimizer, scheduler, batch_order: torch.Generator
) -> list[dict[str, float]]:
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if "scheduler" in checkpoint:  # checkpoints from before schedulers had none (constant)
        scheduler.load_state_dict(checkpoint["scheduler"])
    torch.set_rng_state(checkpoint["rng_torch"])
    if checkpoint["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint["rng_cuda"])
    batch_order.set_state(checkpoint["rng_batch_order"])
    return list(checkpoint["history"])


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


def _results(
    config: dict[str, Any],
    data: Dataset,
    model,
    history,
    last: Evaluation,
    device,
    threads,
    launch: Launch,
    session_seconds,
) -> dict[str, Any]:
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
        "parameters": count_parameters(model),
        "train_size": len(data.train),
        "test_size": len(data.test),
        "train_seconds": sum(row["seconds"] for row in history),
        "last_session_seconds": session_seconds,
        "finished": now(),
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
        "config": config,
    }
