"""Which device a run uses, how much memory it has, how many threads it takes, and PyTorch's
determinism switches."""

from __future__ import annotations

import os
import platform

import torch

from cnn_study.errors import StudyError


def resolve_device(name: str, slot: int = 0) -> torch.device:
    """auto -> CUDA when present (job slot k of a sweep on GPU k mod GPUs), else CPU; a named
    device must exist."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        count = torch.cuda.device_count()
        return torch.device(f"cuda:{slot % count}") if count > 1 else torch.device("cuda")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StudyError(
            f"trainer.device={name} but CUDA is not available here: use trainer.device=auto or cpu"
        )
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise StudyError(
            f"trainer.device={name} but only {torch.cuda.device_count()} CUDA device(s) exist: "
            "use trainer.device=cuda:0"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise StudyError(
            f"trainer.device={name} but MPS is not available here: use trainer.device=auto"
        )
    return device


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model where the system tells it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def total_memory(device: torch.device) -> int:
    """Bytes of memory the device has: the GPU's, or the system's RAM."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def available_cores() -> int:
    """The cores this process may run on (a cluster job's allocation, where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_threads(setting: int | str, parallel_jobs: int) -> int:
    """auto -> the cores this process may use, shared evenly by the jobs running at once."""
    if setting != "auto":
        return int(setting)
    return max(1, available_cores() // max(1, parallel_jobs))


def configure_torch(threads: int, deterministic: bool) -> None:
    torch.set_num_threads(threads)
    if deterministic:
        # cuBLAS needs this before its first call to give repeatable results.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    # warn_only: an op without a deterministic kernel on some device should warn, not stop a study.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
