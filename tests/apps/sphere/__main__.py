"""The official hydra-optuna-sweeper's example task (its docs' "sphere"), to run the official
docs' search configs unchanged through this project's sweeper:

    python -m tests.apps.sphere --config-name=<config> [overrides]

x**2 + y**2 (the single-objective configs); with `objectives: 2`, the docs' two objectives.
`seconds` makes each trial take that long (a worker to kill mid-trial); `error` fails it
(`error_below`: only where x**2 + y**2 is below that number); `fail_job` fails that job.
"""

import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="sphere")
def sphere(cfg: DictConfig) -> float | tuple[float, float]:
    time.sleep(cfg.seconds)
    x, y = cfg.x, cfg.y
    value = x**2 + y**2
    if cfg.error and (cfg.error_below is None or value < cfg.error_below):
        raise RuntimeError("cfg.error is true")
    if cfg.fail_job is not None and HydraConfig.get().job.num == cfg.fail_job:
        raise RuntimeError(f"job {cfg.fail_job} fails, as asked")
    if cfg.objectives == 2:
        return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2
    return value


if __name__ == "__main__":
    sphere()
