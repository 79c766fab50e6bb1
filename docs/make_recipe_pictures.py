"""The README's pictures of the recipe presets, from runs trained with them.

    vaekit train --preset shapes-beta-tcvae --out runs/shapes-beta-tcvae     # bench/README.md, "Recipes"
    vaekit train --preset faces-vae --out runs/faces-vae
    python docs/make_recipe_pictures.py --shapes runs/shapes-beta-tcvae --faces runs/faces-vae

Writes to docs/images/: the shapes model's traversal (one row per latent, labelled with the factor
it captures best), and for the faces model samples, reconstructions, the smile edit on smiling test
faces (strengths -2..2: a smile turned into a frown and further), and an interpolation between two
test faces extrapolated beyond both ends.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaekit import run
from vaekit.cli import main

IMAGES = Path(__file__).resolve().parent / "images"


def vaekit(*argv) -> None:
    code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed with status {code}")


def smiling_test_faces(faces: Path, n: int) -> list[int]:
    """The first n test faces whose `smiling` attribute is on."""
    splits = run.load_splits(faces)
    column = splits.attribute_names.index("smiling")
    return [i for i, a in enumerate(splits.test.attributes[:, column].tolist()) if a == 1][:n]


def make(shapes: Path | None, faces: Path | None) -> None:
    IMAGES.mkdir(exist_ok=True)
    if shapes is not None:
        vaekit("traverse", shapes, "--top", 10, "--steps", 9, "--out", IMAGES / "shapes_traverse.png")
    if faces is not None:
        vaekit("sample", faces, "--n", 32, "--out", IMAGES / "faces_samples.png")
        vaekit("reconstruct", faces, "--n", 16, "--out", IMAGES / "faces_reconstruct.png")
        smiling = ",".join(map(str, smiling_test_faces(faces, 4)))
        vaekit(
            "attribute", faces, "--attribute", "smiling", "--strength=-2,-1,0,1,2", "--inputs", smiling, "--out", IMAGES / "faces_smile.png"
        )
        vaekit("interpolate", faces, "--a", 0, "--b", 1, "--steps", 7, "--extrapolate", 0.34, "--out", IMAGES / "faces_interpolate.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=Path, help="a run trained with a shapes recipe preset")
    parser.add_argument("--faces", type=Path, help="a run trained with --preset faces-vae")
    args = parser.parse_args()
    make(args.shapes, args.faces)
