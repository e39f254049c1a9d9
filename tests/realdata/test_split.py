"""The validation split of the real datasets (../shared/datasets): a thousand images of each
class held out of the training set."""

import pytest
import torch
from omegaconf import OmegaConf

from cnn_study.data import load_dataset
from tests.conftest import FOLDERS, SHARED_DATA, compose_config

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.mark.parametrize("name", ["mnist", "fashion"])
def test_the_real_split_holds_out_a_thousand_images_of_each_class(name, tmp_path):
    raw = SHARED_DATA / FOLDERS[name] / "raw"
    if not raw.is_dir():
        pytest.skip(f"no {raw}")
    cfg = compose_config(
        f"dataset={name}",
        f"paths.data_dir={SHARED_DATA}",
        f"paths.cache_dir={tmp_path}",
        "dataset.download=false",
        "dataset.val_size=10000",
    )
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    data = load_dataset(dataset, SHARED_DATA, tmp_path, torch.device("cpu"))
    assert (len(data.train), len(data.val), len(data.test)) == (50_000, 10_000, 10_000)
    assert torch.bincount(data.val.labels).tolist() == [1000] * 10
    assert torch.bincount(data.train.labels, minlength=10).min() >= 4000
