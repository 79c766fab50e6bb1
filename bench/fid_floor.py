"""The Fréchet distance between real images, in ``--fid``'s features: the floor a model's FD is read against.

    python bench/fid_floor.py --data fonts

Trains (or loads from $VAEKIT_CACHE) the same feature classifier ``vaekit evaluate --fid`` uses and
prints the FD of the validation split and of the test split against the training split, and of
the test split against the validation split. On ``fonts`` the test split holds characters never
seen in training, so its FD to real training glyphs is already in the thousands.
"""

from __future__ import annotations

import argparse

import torch

from vaekit.data import DataConfig, load_dataset
from vaekit.data.sources import cache_dir
from vaekit.evaluation.fidelity import feature_extractor, frechet_distance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fonts")
    args = parser.parse_args()
    d = load_dataset(DataConfig(name=args.data))
    extractor = feature_extractor(args.data, d.train, d.valid, cache_dir())
    extractor.net.eval()
    with torch.no_grad():
        train, valid, test = (
            torch.cat([extractor.net.features(s.batch(slice(i, i + 1000))) for i in range(0, len(s), 1000)])
            for s in (d.train, d.valid, d.test)
        )
    print(f"{args.data}: classifier accuracy {extractor.accuracy:.3f} on validation; {len(train)} / {len(valid)} / {len(test)} examples")
    print(f"FD valid vs train: {frechet_distance(valid, train):.1f}")
    print(f"FD test vs train:  {frechet_distance(test, train):.1f}")
    print(f"FD test vs valid:  {frechet_distance(test, valid):.1f}")


if __name__ == "__main__":
    main()
