"""The README's pictures of the recipe presets, from runs trained with them.

    vaekit train --preset shapes-beta-tcvae --out runs/shapes-beta-tcvae     # bench/README.md, "Recipes"
    vaekit train --preset faces-vae --out runs/faces-vae
    python docs/make_recipe_pictures.py --shapes runs/shapes-beta-tcvae --faces runs/faces-vae
    python docs/make_recipe_pictures.py --faces runs/seed-faces-256 --name faces256   # the seed's 256x256 example
    python docs/make_recipe_pictures.py --faces-traverse runs/faces-beta-tcvae          # a faces disentanglement preset

Writes to docs/images/: the shapes (and faces) disentanglement model's traversal (one row per
latent, labelled with the factor it captures best), and for the faces model samples,
reconstructions, the smile edit on smiling test faces (strengths -2..2: a smile turned into a frown
and further), and an interpolation between two test faces extrapolated beyond both ends, each named
NAME_samples.png, NAME_reconstruct.png, NAME_smile.png, NAME_interpolate.png.
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


def make(shapes: Path | None, faces: Path | None, faces_traverse: Path | None = None, name: str = "faces") -> None:
    IMAGES.mkdir(exist_ok=True)
    if shapes is not None:
        vaekit("traverse", shapes, "--top", 10, "--steps", 9, "--out", IMAGES / "shapes_traverse.png")
    if faces_traverse is not None:
        vaekit("traverse", faces_traverse, "--top", 10, "--steps", 9, "--out", IMAGES / "faces_traverse.png")
    if faces is not None:
        n = 16 if run.model_config(faces).input_shape[-1] > 64 else 32  # big faces: fewer, so each stays visible
        vaekit("sample", faces, "--n", n, "--out", IMAGES / f"{name}_samples.png")
        vaekit("reconstruct", faces, "--n", n // 2, "--out", IMAGES / f"{name}_reconstruct.png")
        smiling = ",".join(map(str, smiling_test_faces(faces, 4)))
        vaekit(
            "attribute",
            faces,
            "--attribute",
            "smiling",
            "--strength=-2,-1,0,1,2",
            "--inputs",
            smiling,
            "--out",
            IMAGES / f"{name}_smile.png",
        )
        vaekit("interpolate", faces, "--a", 0, "--b", 1, "--steps", 7, "--extrapolate", 0.34, "--out", IMAGES / f"{name}_interpolate.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=Path, help="a run trained with a shapes recipe preset")
    parser.add_argument("--faces", type=Path, help="a run trained with --preset faces-vae (or seed-faces-256)")
    parser.add_argument("--faces-traverse", type=Path, help="a run trained with a faces disentanglement preset")
    parser.add_argument("--name", default="faces", help="the faces pictures' file-name prefix (default: faces)")
    args = parser.parse_args()
    make(args.shapes, args.faces, args.faces_traverse, args.name)
