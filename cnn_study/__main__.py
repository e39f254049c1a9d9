"""python -m cnn_study [-m] [overrides]: train one run, or sweep with -m."""

import hydra
from hydra.errors import CompactHydraException
from omegaconf import DictConfig

from cnn_study import experiment, launch
from cnn_study.errors import StudyError


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    try:
        results = experiment.run(cfg, launch.run_dir(), launch.from_hydra())
    except StudyError as exc:
        # Hydra prints a CompactHydraException as its message alone, without a traceback.
        raise CompactHydraException(str(exc)) from None
    return results["final_test_acc"]  # the objective, for Hydra sweepers that optimise


if __name__ == "__main__":
    main()
