"""Every config option composes, overrides reach the code, bad values are named."""

import json
import warnings
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from cnn_study.config_checks import validate
from cnn_study.errors import StudyError
from tests.conftest import CONF, ROOT, compose_config


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_defaults_are_the_chapters_recipe(make_cfg):
    cfg = compose_config()
    assert cfg.trainer.epochs == 40 and cfg.trainer.batch_size == 64
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert (cfg.optimizer.lr, cfg.optimizer.momentum) == (0.01, 0.5)
    assert cfg.dataset.name == "mnist" and cfg.trainer.device == "auto"
    assert OmegaConf.select(cfg, "model.conv_dropout") == 0.5


# Every dataset with every model (models follow the data), and every optimizer once: the
# optimizer does not depend on the data, and the full cross product costs 40 compositions.
COMBINATIONS = [(d, m, "sgd") for d in options("dataset") for m in options("model")] + [
    ("mnist", "cnn", o) for o in options("optimizer") if o != "sgd"
]


@pytest.mark.parametrize(("dataset", "model", "optimizer"), COMBINATIONS)
def test_every_group_option_composes_and_builds(make_cfg, dataset, optimizer, model):
    # The image-folder template leaves its folder and classes to the user.
    yours = ["dataset.name=yours", "dataset.folder=/images", "dataset.classes=[a,b,c]"]
    yours *= dataset == "image_folder"
    cfg = make_cfg(f"dataset={dataset}", f"optimizer={optimizer}", f"model={model}", *yours)
    validate(cfg)
    net = instantiate(cfg.model)
    opt = instantiate(cfg.optimizer)(net.parameters())
    assert opt.defaults["lr"] == cfg.optimizer.lr
    side = cfg.dataset.image_size
    logits = net(torch.zeros(2, cfg.dataset.in_channels, side, side))
    assert len(cfg.dataset.classes) == cfg.dataset.num_classes == logits.shape[1]


LAUNCHERS = [
    "basic",
    "joblib",
    "parallel",
    "gpu_shared",
    "submitit_local",
    "slurm_local",
    "submitit_slurm",
    "slurm",
]


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_launcher_composes_without_warnings(launcher):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(
                "config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True
            )
    assert cfg.hydra.runtime.choices["hydra/launcher"] == launcher
    assert "Launcher" in cfg.hydra.launcher._target_
    assert [str(w.message) for w in caught] == []


def test_overrides_reach_the_trainer(make_cfg):
    cfg = make_cfg("trainer.epochs=7", "trainer.batch_size=128", "optimizer.lr=0.1", "seed=3")
    assert (cfg.trainer.epochs, cfg.trainer.batch_size, cfg.optimizer.lr, cfg.seed) == (
        7,
        128,
        0.1,
        3,
    )


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.epochs=0", "trainer.epochs"),
        ("trainer.epochs=abc", "trainer.epochs"),
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("optimizer.lr=0", "optimizer.lr"),
        ("optimizer.lr=-1", "optimizer.lr"),
        ("dataset.train_limit=0", "dataset.train_limit"),
        ("dataset.test_limit=-5", "dataset.test_limit"),
        ("trainer.device=tpu", "trainer.device"),
        ("trainer.num_threads=0", "trainer.num_threads"),
        ("seed=-1", "seed"),
        ("trainer.deterministic=maybe", "trainer.deterministic"),
    ],
)
def test_invalid_values_name_their_key(make_cfg, override, key):
    with pytest.raises(StudyError) as err:
        validate(make_cfg(override))
    message = str(err.value)
    assert message.startswith(key) and "\n" not in message


def test_the_smoke_experiment_shrinks_the_run_into_its_own_study():
    cfg = compose_config("experiment=smoke", "dataset=fashion")
    assert cfg.study == "smoke" and cfg.trainer.epochs == 1
    assert (cfg.dataset.train_limit, cfg.dataset.test_limit) == (2000, 1000)
    assert cfg.dataset.name == "fashion" and cfg.optimizer.lr == 0.01  # the rest is the recipe


@pytest.mark.parametrize("scheduler", options("scheduler"))
@pytest.mark.parametrize("optimizer", options("optimizer"))
@pytest.mark.parametrize("model", options("model"))
def test_every_model_optimizer_and_scheduler_trains_a_step(make_cfg, model, optimizer, scheduler):
    cfg = make_cfg(f"model={model}", f"optimizer={optimizer}", f"scheduler={scheduler}")
    torch.manual_seed(0)
    net = instantiate(cfg.model)
    opt = instantiate(cfg.optimizer)(net.parameters())
    sched = instantiate(cfg.scheduler)(opt)
    before = [p.detach().clone() for p in net.parameters()]
    images, labels = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
    loss = torch.nn.functional.cross_entropy(net(images), labels)
    loss.backward()
    opt.step()
    sched.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters(), strict=True))
    lr = opt.param_groups[0]["lr"]
    if scheduler == "none":
        assert lr == cfg.optimizer.lr  # exactly: the chapter's rate, untouched
    else:
        assert lr < cfg.optimizer.lr


@pytest.mark.parametrize(
    "option",
    [
        f"{group}={path.stem}"
        for group in ("experiment", "hparams_search", "debug")
        for path in sorted((CONF / group).glob("*.yaml"))
    ],
)
def test_every_experiment_search_and_debug_file_composes(make_cfg, option):
    cfg = make_cfg(option)
    validate(cfg)
    assert cfg.study  # each keeps its runs in a study folder of its own
    if option.startswith(("debug", "hparams_search")):
        assert cfg.study != "chapter5"


def test_a_local_config_is_read_when_present_and_optional_when_not(tmp_path):
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "local" / "default.yaml").unlink(missing_ok=True)
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        assert compose("config").paths.data_dir.endswith("/data")
    example = (conf / "local" / "example.yaml").read_text()
    (conf / "local" / "default.yaml").write_text(example.replace("/data/datasets", "/site/data"))
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=fashion"])
        assert cfg.paths.data_dir == "/site/data" and cfg.dataset.name == "fashion"
        # ... and the command line still wins over it.
        assert compose("config", overrides=["paths.data_dir=/cli"]).paths.data_dir == "/cli"


@pytest.mark.slow
def test_debug_overfit_fits_its_two_batches(make_cfg, tmp_path):
    from cnn_study import experiment

    cfg = make_cfg("debug=overfit", "trainer.epochs=200", "trainer.batch_size=64")
    assert cfg.dataset.train_limit == 128 and cfg.trainer.device == "cpu"
    results = experiment.run(cfg, tmp_path / "run")
    assert results["train_size"] == 128
    assert results["final_train_acc"] >= 0.95  # chance is 0.10


def _hydra_default() -> dict:
    import yaml

    return yaml.safe_load((CONF / "hydra" / "default.yaml").read_text())


def test_folder_names_and_resumes_leave_out_the_same_keys():
    """A key a resume ignores (device, threads, paths...) must not name a folder either, or
    changing it would start a new run; and a key left out of folder names must be one a
    resume may ignore, a factor with a folder level of its own, or a bundle's selector."""
    from cnn_study.config_checks import flatten
    from cnn_study.factors import FACTORS, FOLDER_LEVELS
    from cnn_study.run_identity import is_incidental

    excluded = set(_hydra_default()["job"]["config"]["override_dirname"]["exclude_keys"])
    keys = flatten(OmegaConf.to_container(compose_config("logger=mlflow"), resolve=False))
    keys |= flatten(OmegaConf.to_container(compose_config("dataset=kmnist"), resolve=False))
    for launcher in options("hydra/launcher"):  # a preset may set keys of the run's config
        cfg = compose_config(f"hydra/launcher={launcher}")
        keys |= flatten(OmegaConf.to_container(cfg, resolve=False))
    for key in (k for k in keys if is_incidental(k)):
        top = key.split(".")[0]  # logger=...: a group whose every key is incidental
        assert key in excluded or (top in excluded and is_incidental(f"{top}.any")), (
            f"{key} is incidental (run_identity.INCIDENTAL_KEYS) but would name run folders: "
            "add it to conf/hydra/default.yaml's exclude_keys (docs/adding-a-factor.md)"
        )
    selectors = {"experiment", "hparams_search", "debug", "local"}  # choose bundles of keys
    # Keys whose own value names a level of the run's folder (not its option's name, as
    # model._target_'s level is named by model=...): two runs differing in one never meet.
    run_dir = _hydra_default()["run"]["dir"]
    own_value_levels = {f.key for f in FACTORS if f.folder_level and f"{f.key}," in run_dir}
    assert own_value_levels == {"dataset.name"}
    for key in excluded:
        group_of_incidental_keys = is_incidental(f"{key}.any")  # logger=mlflow
        assert (
            is_incidental(key)
            or group_of_incidental_keys
            or key in FOLDER_LEVELS
            or key in own_value_levels  # dataset.name: its value is the folder level
            or key in {"seed", "study"} | selectors
        ), (
            f"{key} is left out of run-folder names but is no factor with a folder level and "
            "not incidental: two runs differing in it would share a folder "
            "(docs/adding-a-factor.md)"
        )


# Published studies made with the default config (each option as it was then), as the
# analysis recorded their runs' configs: one row per run, a column per config key.
PUBLISHED_DEFAULT_RUNS = {"chapter5": ["dataset=mnist", "dataset=fashion"]}


@pytest.mark.parametrize(
    ("study", "option"), [(s, o) for s, opts in PUBLISHED_DEFAULT_RUNS.items() for o in opts]
)
def test_a_key_added_since_runs_were_published_says_what_they_did(study, option):
    """Without a LATER_DEFAULTS entry, rerunning a published command would stop at every old
    run folder with "holds a run with another config" (and the analysis would tell old and
    new runs of one setting apart)."""
    import csv

    from cnn_study.run_identity import flat_config, is_incidental

    with (ROOT / "analysis" / study / "runs.csv").open(newline="") as f:
        published = [row for row in csv.DictReader(f) if option.endswith(row["dataset.name"])]
    assert published, f"analysis/{study}/runs.csv has no run of {option}"
    old = flat_config(published[0])  # its keys are what matters here, not their values
    new = flat_config(OmegaConf.to_container(compose_config(option), resolve=False))
    missing = sorted(k for k in new.keys() - old.keys() if not is_incidental(k))
    assert missing == [], (
        f"{', '.join(missing)} not in the published {study} runs: give each the value that "
        "means what those runs did in cnn_study/run_identity.py's LATER_DEFAULTS, or make "
        "it incidental (docs/adding-a-factor.md)"
    )


def test_the_run_folder_levels_are_the_factors_with_a_folder_level():
    """Each level is a factor's option name (${hydra:runtime.choices.model}) or its key's
    value (the dataset's: ${...dataset.name...})."""
    from cnn_study.factors import FACTORS, FOLDER_LEVELS

    def level(part: str) -> str | None:
        for factor in FACTORS:
            if part == f"${{hydra:runtime.choices.{factor.name}}}" or f"{factor.key}," in part:
                return factor.name
        return None

    hydra = _hydra_default()
    for pattern in (hydra["run"]["dir"], hydra["sweep"]["subdir"]):
        levels = [level(part) for part in pattern.split("/") if level(part)]
        assert tuple(levels) == FOLDER_LEVELS


# Each shipped dataset's config as it composed before the datasets shared a base file
# (conf/dataset/_base/): a run's identity is its config, so the published runs must still match.
SHIPPED = json.loads((Path(__file__).with_name("shipped_datasets.json")).read_text())


@pytest.mark.parametrize("dataset", sorted(SHIPPED))
def test_each_shipped_dataset_composes_to_the_same_values(dataset):
    yours = ["dataset.name=yours", "dataset.folder=/images", "dataset.classes=[a,b,c]"]
    cfg = compose_config(f"dataset={dataset}", *yours * (dataset == "image_folder"))
    assert OmegaConf.to_container(cfg.dataset, resolve=True) == SHIPPED[dataset]


@pytest.mark.parametrize("dataset", options("dataset"))
def test_every_datasets_class_count_follows_its_classes(dataset):
    """One way for all: num_classes is derived from classes (the shared base's), never a
    literal that a changed list of classes would leave behind."""
    mine = ["dataset.name=yours", "dataset.folder=/images"] * (dataset == "image_folder")
    cfg = compose_config(f"dataset={dataset}", *mine, "dataset.classes=[a,b,c,d]")
    assert cfg.dataset.num_classes == 4


def test_a_later_group_fills_in_only_runs_without_any_of_its_keys():
    """An old run (no scheduler) reads as the constant rate; a cosine run keeps its own keys
    and gains none of the constant rate's (factor, total_iters would hide what differs)."""
    from cnn_study.run_identity import flat_config

    old = flat_config({"optimizer": {"lr": 0.01}})
    assert old["scheduler._target_"].endswith("ConstantLR") and old["scheduler.factor"] == 1.0
    cosine = {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": 20}
    new = flat_config({"optimizer": {"lr": 0.01}, "scheduler": cosine})
    assert {k for k in new if k.startswith("scheduler.")} == {
        "scheduler._target_",
        "scheduler.T_max",
    }


# Groups of conf/config.yaml's defaults list that are not factors: they say where and how a
# run goes (paths, trainer, logger, hydra), or bundle overrides of factors (experiment...).
NOT_FACTORS = {"paths", "trainer", "logger", "hydra", "experiment", "hparams_search", "debug"}
NOT_FACTORS |= {"local"}


def test_every_group_is_a_factor_or_named_as_none():
    """A new config group is a factor (a line in cnn_study/factors.py, so that the analysis
    groups and labels runs by it), or says here why it is not one."""
    from cnn_study.factors import FACTORS

    defaults = OmegaConf.load(CONF / "config.yaml").defaults
    groups = set()
    for entry in defaults:
        if isinstance(entry, str):
            continue  # _self_
        key = next(iter(entry))
        groups.add(key.removeprefix("optional ").strip())
    unnamed = groups - {f.name for f in FACTORS if f.group} - NOT_FACTORS
    assert not unnamed, (
        f"conf/config.yaml's group(s) {sorted(unnamed)} are neither a factor in "
        "cnn_study/factors.py nor in this test's NOT_FACTORS (docs/adding-a-factor.md, step 2)"
    )
    assert groups >= {f.name for f in FACTORS if f.group}  # each factor group composes
