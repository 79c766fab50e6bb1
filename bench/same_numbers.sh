#!/usr/bin/env bash
# Fixed runs whose numbers must not move when code is only reorganised: the seed VAE on MNIST
# (10 epochs; test -ELBO and K = 1000 log p(x)), every family for 5 epochs on digits, samples of a
# VAE and a VQ-VAE, and --fid. Run it with two versions of vaekit into two directories, then
# compare OUT/hashes.txt (weights, images, metrics) and the eval_*.json files.
#   usage: bash bench/same_numbers.sh OUT     (about 2.5 minutes on 2 cores; needs $VAEKIT_DATA)
set -euo pipefail
OUT=$1
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
export VAEKIT_CACHE=$PWD/cache
vaekit train --preset seed-vae --data mnist --epochs 10 --out seed-vae --no-progress > /dev/null 2> train_seed.log
vaekit evaluate seed-vae --json > eval_seed.json
for m in vae beta-tcvae vq-vae dae cvae iwae contractive-ae sparse-ae; do
  vaekit train --model $m --data digits --epochs 5 --out d-$m --no-progress > /dev/null 2>> train_digits.log
  vaekit evaluate d-$m --json --iw-samples 50 > eval_d-$m.json
done
vaekit sample d-vae --out s.png > /dev/null
vaekit sample d-vq-vae --out svq.png > /dev/null
vaekit evaluate seed-vae --json --iw-samples 20 --limit 2000 --fid --fid-samples 2000 > eval_seed_fid.json
sha256sum */model.safetensors */best.safetensors *.png > hashes.txt  # metrics.jsonl differ by elapsed_s: compare them without it
cat eval_seed.json
