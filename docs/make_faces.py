"""The README's grid of generated faces: the first 32 test faces of ``--data faces`` at 64x64.

python docs/make_faces.py
"""

from __future__ import annotations

from pathlib import Path

from vaekit.data import DataConfig, load_dataset
from vaekit.generation import save_grid

IMAGES = Path(__file__).resolve().parent / "images"

if __name__ == "__main__":
    test = load_dataset(DataConfig(name="faces")).test
    print(save_grid(test.batch(slice(0, 32)), IMAGES / "faces.png", nrow=8))
