"""cnn-study: one CNN and recipe on several image datasets, over seeds, with honest statistics."""

import os

from omegaconf import OmegaConf

from cnn_study import folder_names

__version__ = "0.1.0"

# ${cnn_study.cwd:}: the folder this process really runs in (conf/paths/default.yaml). The
# PWD variable would name the folder of whichever shell started an ancestor process.
OmegaConf.register_new_resolver("cnn_study.cwd", os.getcwd, replace=True)
# ${cnn_study.len:${dataset.classes}}: a dataset's class count follows its list of classes.
OmegaConf.register_new_resolver("cnn_study.len", len, replace=True)
# Run-folder names (conf/hydra/default.yaml): a value with a "/" never makes folders.
OmegaConf.register_new_resolver("cnn_study.folder", folder_names.folder_name, replace=True)
OmegaConf.register_new_resolver(
    "cnn_study.override_dirname", folder_names.override_dirname, replace=True
)
