"""Run-folder names: a value with a path separator never makes folders, an image folder's
runs are filed under its dataset's name, and every published run keeps its folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from cnn_study.folder_names import folder_name
from tests.conftest import CONF, ROOT

PETS = ["dataset=image_folder", "dataset.name=pets", "dataset.classes=[cat,dog]"]


def run_dirs(*overrides: str, conf: Path = CONF) -> tuple[str, str]:
    """(hydra.run.dir relative to paths.output_dir, hydra.sweep.subdir) as Hydra resolves
    them for a job started with these overrides."""
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(
            "config", overrides=[*overrides, "paths.output_dir=/out"], return_hydra_config=True
        )
    HydraConfig.instance().set_config(cfg)
    run = Path(OmegaConf.select(cfg, "hydra.run.dir")).relative_to("/out")
    return str(run), str(Path(OmegaConf.select(cfg, "hydra.sweep.subdir")))


def test_a_path_on_the_command_line_is_one_folder_below_its_dataset_name():
    run, subdir = run_dirs(*PETS, "dataset.folder=/data/images/pets", "optimizer.lr=0.1")
    parts = Path(run).parts
    assert parts[:4] == ("chapter5", "pets", "cnn", "sgd") and parts[-1] == "seed=0"
    assert len(parts) == 6  # the overrides, paths and all, are one folder
    assert parts[4].startswith("dataset.classes=[cat,dog],dataset.folder=pets-")
    assert parts[4].endswith(",optimizer.lr=0.1")
    assert subdir == str(Path(*parts[1:]))  # a sweep files it the same way


def test_two_image_folders_of_one_name_get_two_folders_each_stable():
    first = run_dirs(*PETS, "dataset.folder=/data/pets")[0]
    again = run_dirs(*PETS, "dataset.folder=/data/pets")[0]
    other = run_dirs(*PETS, "dataset.folder=/backup/pets")[0]
    assert first == again and first != other
    assert len(Path(other).parts) == len(Path(first).parts) == 6  # one folder level each


@pytest.mark.parametrize(
    ("value", "kept"),
    [("0.1", True), ("[cat,dog]", True), ("/data/pets", False), ("pets/", False), ("/", False)],
)
def test_a_value_is_one_folder_name(value, kept):
    name = folder_name(value)
    assert "/" not in name and name
    assert (name == value) is kept


def published_runs() -> list[tuple[str, list[str]]]:
    """One run of each published folder (seeds aside): its path and its overrides."""
    runs = pd.concat(pd.read_csv(p) for p in sorted((ROOT / "analysis").glob("*/runs.csv")))
    runs["cell"] = runs["run"].map(lambda r: str(Path(r).parent))
    first = runs.drop_duplicates("cell")
    return [(r, o.split()) for r, o in zip(first["run"], first["overrides"], strict=True)]


def test_every_published_run_keeps_its_folder(tmp_path):
    """The studies' folders (outputs/<study>/<dataset>/<model>/<optimizer>/...) are where
    their commands file them still; fashion_png was a YAML of its own beside the project."""
    conf = tmp_path / "conf" / "dataset"
    conf.mkdir(parents=True)
    (conf / "fashion_png.yaml").write_text(
        "defaults: [image_folder, _self_]\nname: fashion_png\nfolder: /x\nclasses: [a, b]\n"
    )
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    for run, overrides in published_runs():
        overrides = [o for o in overrides if not o.startswith("paths.output_dir=")]
        assert "outputs/" + run_dirs(*overrides, searchpath)[0] == run
