"""The figures' style and colours: matplotlib's settings are the user's until a figure is
drawn, and every group keeps a colour of its own within tab10's ten."""

import subprocess
import sys
import textwrap

import matplotlib
from matplotlib import colormaps

from cnn_study.analysis import figures, layout, style
from tests.conftest import ROOT

# Imports every module of cnn_study, then names every rcParams key whose value changed (the
# backend included: matplotlib.use sets it). A fresh interpreter: this one has imported them.
_IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, pkgutil
    import matplotlib
    import cnn_study

    before = matplotlib.rcParams.copy()
    names = [m.name for m in pkgutil.walk_packages(cnn_study.__path__, "cnn_study.")]
    for name in names:
        importlib.import_module(name)
    after = matplotlib.rcParams.copy()
    # dict's own items: RcParams' would resolve the backend, itself a change
    changed = sorted(k for k, v in dict.items(before) if dict.__getitem__(after, k) != v)
    print(f"{len(names)}|{','.join(changed)}")
    """
)


def test_importing_every_module_leaves_matplotlibs_settings_alone():
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    count, _, changed = done.stdout.strip().partition("|")
    assert int(count) > 20  # the walk found the package's modules, analysis's among them
    assert changed == "", f"importing cnn_study changed matplotlib's {changed}"


def test_the_style_holds_while_drawing_and_is_undone_after():
    before = matplotlib.rcParams["savefig.dpi"]
    with style.figure_style():
        assert matplotlib.rcParams["savefig.dpi"] == style.STYLE["savefig.dpi"] != before
        fig, axes = layout.panels(3, 2.0, 2.0)
        assert not axes[0].spines["top"].get_visible()  # drawn in the style
    assert matplotlib.rcParams["savefig.dpi"] == before


def test_colours_cycle_so_the_eleventh_group_is_not_the_tenths():
    names = [f"d{i}" for i in range(12)]
    palette = style.colours(names)
    tab10 = [colormaps["tab10"](i) for i in range(10)]
    assert [palette[n] for n in names[:10]] == tab10
    assert palette["d10"] == tab10[0] and palette["d11"] == tab10[1]
    assert palette["d10"] != palette["d9"]


def test_figures_take_their_colours_from_the_one_helper():
    assert figures.colours is style.colours
