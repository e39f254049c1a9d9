"""Write a torchvision dataset's images as PNG files in an image folder's layout:
<out>/train/<class>/<index>.png and <out>/test/<class>/<index>.png.

    python scripts/export_images.py torchvision.datasets.FashionMNIST DATA_DIR OUT

The datasets study reads FashionMNIST this way as well as through torchvision's class: the
same images by two routes should give the same accuracy. A class name's '/' (T-shirt/top)
becomes '-', as a folder name cannot hold it. An existing OUT is left as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hydra.utils import get_class
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a torchvision class, e.g. torchvision.datasets.MNIST")
    parser.add_argument("data_dir", type=Path, help="the folder torchvision reads it from")
    parser.add_argument("out", type=Path, help="the image folder to write (must not exist)")
    args = parser.parse_args()
    if args.out.exists():
        print(f"{args.out} exists: left as it is")
        return 0
    cls = get_class(args.source)
    partial = args.out.with_name(f".{args.out.name}.partial")
    for split, train in (("train", True), ("test", False)):
        ds = cls(root=str(args.data_dir), train=train, download=False)
        names = [str(c).replace("/", "-") for c in ds.classes]
        for name in names:
            (partial / split / name).mkdir(parents=True, exist_ok=True)
        for i, (pixels, label) in enumerate(zip(ds.data.numpy(), ds.targets.tolist(), strict=True)):
            Image.fromarray(pixels).save(partial / split / names[label] / f"{i:05d}.png")
    partial.rename(args.out)  # a half-written folder is never taken for a finished one
    print(f"wrote {args.out}: classes {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
