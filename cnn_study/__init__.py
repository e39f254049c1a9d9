"""cnn-study: one CNN and recipe on MNIST and FashionMNIST, over seeds, with honest statistics."""

import os

from omegaconf import OmegaConf

__version__ = "0.1.0"

# ${cnn_study.cwd:}: the folder this process really runs in (conf/paths/default.yaml). The
# PWD variable would name the folder of whichever shell started an ancestor process.
OmegaConf.register_new_resolver("cnn_study.cwd", os.getcwd, replace=True)
