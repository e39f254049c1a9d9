"""conf/dataset/*.yaml's checksums are those of the real files (../shared/datasets)."""

import pytest

from tests.conftest import FOLDERS, SHARED_DATA, compose_config

pytestmark = pytest.mark.realdata


def test_the_configured_checksums_are_those_of_the_shared_copy():
    sums = SHARED_DATA / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip(f"no {sums}")
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line)
    for name, folder in FOLDERS.items():
        cfg = compose_config(f"dataset={name}")
        assert cfg.dataset.folder == f"{folder}/raw"
        assert len(cfg.dataset.files) == 4
        for entry in cfg.dataset.files:
            assert listed[f"{folder}/raw/{entry.name}"] == entry.sha256
