"""Where a dataset's images come from: each kind of source is a class registered under a name.

A dataset's YAML names its source in dataset.source: a registered name (image_folder), or the
import path of a dataset class (torchvision.datasets.MNIST), which the torchvision source
reads. source_for() is the one place that value is resolved; everything else asks the
source it returns. A new kind of source is one class:

    @register_source("my_source")
    class MySource(Source):
        def read(self, dataset, data_dir, cache_dir, check_memory) -> RawData: ...

The built-in sources register themselves when cnn_study.data is imported
(data/torchvision_source.py, data/image_folder.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from omegaconf.errors import ConfigKeyError, MissingMandatoryValue

from cnn_study.data.raw import RawData
from cnn_study.errors import StudyError

# The source that reads a dataset class given by its import path (dataset.source=a.b.Class).
CLASS_PATH_SOURCE = "torchvision"


class Source(ABC):
    """One kind of source: the settings only it reads, its data, and what callers ask of it."""

    name: ClassVar[str] = ""
    # Another way than a subset to fit a dataset in less memory, offered by the memory check
    # ("" where the source has none).
    shrink_fix: ClassVar[str] = ""

    def check(self, dataset: Mapping[str, Any]) -> None:
        """Refuse settings only this source reads, before anything is loaded or written."""
        return  # a source that reads no settings of its own has nothing to check

    @abstractmethod
    def read(
        self,
        dataset: Mapping[str, Any],
        data_dir: str | Path,
        cache_dir: str | Path,
        check_memory: Callable[[int, int], None],
    ) -> RawData:
        """Both splits, whole, as 8-bit images; check_memory(train, test) is called with
        the splits' sizes as soon as they are known (before decoding, where possible)."""

    def current_fingerprint(
        self, dataset: Mapping[str, Any], data_dir: str | Path, cache_dir: str | Path
    ) -> str | None:
        """The fingerprint read() would record for the data as it is now, for sources whose
        files may change under the same config; None where they cannot (or cannot be read)."""
        return None


_SOURCES: dict[str, Source] = {}
S = TypeVar("S", bound=type[Source])


def register_source(name: str) -> Callable[[S], S]:
    """Register a Source class under the name a YAML gives as dataset.source."""

    def register(cls: S) -> S:
        cls.name = name
        _SOURCES[name] = cls()
        return cls

    return register


def unregister_source(name: str) -> None:
    """Forget a source (a test's own, once the test is done)."""
    _SOURCES.pop(name, None)


def source_for(dataset: Mapping[str, Any]) -> Source:
    """The source that reads this dataset: dataset.source's registered name, or, for an
    import path (a.b.Class), the source that reads dataset classes."""
    value = dataset.get("source")
    if isinstance(value, str) and value in _SOURCES:
        return _SOURCES[value]
    if isinstance(value, str) and "." in value.strip(".") and CLASS_PATH_SOURCE in _SOURCES:
        return _SOURCES[CLASS_PATH_SOURCE]
    names = ", ".join(sorted(n for n in _SOURCES if n != CLASS_PATH_SOURCE))
    raise StudyError(
        f"dataset.source={value!r} is neither a dataset class's import path nor a registered "
        f"source ({names})",
        "e.g. dataset.source=torchvision.datasets.MNIST, or dataset.source=image_folder",
    )


def check_source(dataset: Mapping[str, Any]) -> None:
    """dataset.source names a source, and the settings that source reads are valid. A setting
    the source needs that is missing or left at ??? is one line, as every config check is."""
    try:
        source_for(dataset).check(dataset)
    except MissingMandatoryValue as exc:
        key = f"dataset.{exc.key}" if getattr(exc, "key", None) else "a dataset setting"
        raise StudyError(
            f"{key} is not set (??? in its YAML)",
            f"give it in the YAML or on the command line, e.g. {key}=...",
        ) from None
    except (KeyError, ConfigKeyError) as exc:
        # omegaconf names the key in .key; a plain mapping's KeyError in its argument
        key = f"dataset.{getattr(exc, 'key', None) or (exc.args[0] if exc.args else '?')}"
        raise StudyError(
            f"{key} is missing, and dataset.source={dataset.get('source')} reads it",
            "start the dataset's YAML from its source's template "
            "(defaults: [image_folder, _self_] for a folder of images), or give the key",
        ) from None
