"""DistributedDataParallel smoke test: 2 CPU processes (gloo) run the unchanged ``fit`` under torchrun on real FER2013 rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from fer_lib.data import create_dataset
from fer_lib.engine import CHECKPOINT_NAME, load_checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")
SIZES = {"train": 200, "val": 50, "test": 50}


def test_two_process_gloo_run(fer_data, tmp_path) -> None:
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for split, n in SIZES.items():
        dataset = create_dataset("fer2013", fer_data, split)
        rows = np.sort(rng.choice(len(dataset), n, replace=False))
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = dataset.images[rows], dataset.labels[rows]
    arrays["class_names"] = np.array(dataset.class_names)
    np.savez(tmp_path / "data.npz", **arrays)

    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command = [*launcher, str(WORKER), str(tmp_path / "data.npz"), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent.parent)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # DDP kept the replicas identical, and the gathered evaluation is the same on both ranks
    assert ranks[0]["param_checksum"] == ranks[1]["param_checksum"]
    assert ranks[0]["honest_logits"] == ranks[1]["honest_logits"] and ranks[0]["history"]["test_acc"] == ranks[1]["history"]["test_acc"]
    assert len(ranks[0]["honest_logits"]) == SIZES["test"]

    # rank 0 wrote the checkpoint (and nothing is left half-written); metrics are sane
    checkpoint = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert checkpoint["epoch"] == 2 and checkpoint["world_size"] == 2
    assert checkpoint["rng"]["torch"].shape[0] == 2  # one RNG state per rank
    assert not torch.equal(checkpoint["rng"]["augment"][0], checkpoint["rng"]["augment"][1])  # ranks augment differently
    history = ranks[0]["history"]
    assert all(np.isfinite(history["train_loss"])) and all(0 <= a <= 1 for a in history["val_acc"] + history["test_acc"])
    assert history["train_loss"][-1] < history["train_loss"][0]
