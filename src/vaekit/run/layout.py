"""The names of a run directory's files: the one place that knows them.

Layout::

    RUN/config.json                 everything needed to rebuild the model and data (JSON)
    RUN/model.safetensors           latest weights
    RUN/best.safetensors            weights with the best validation loss
    RUN/training_state.safetensors  weights + optimizer + RNG + progress, for --resume (one file)
    RUN/metrics.jsonl               one JSON line per epoch
    RUN/images/                     sample and reconstruction grids written during training
    RUN/.lock                       while a process trains: its pid (one writer at a time)
    RUN/partial/                    while a long `vaekit evaluate` runs: its progress, to go on after a stop

Loading never unpickles code: safetensors and JSON only.
"""

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
BEST = "best.safetensors"
STATE = "training_state.safetensors"
METRICS = "metrics.jsonl"
IMAGES = "images"
LOCK = ".lock"
PARTIAL = "partial"
