"""Worker for tests/test_ddp.py, launched as ``python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py DATA.npz OUT``.

Trains a tiny ResNet with the unchanged ``fit`` on real FER2013 rows saved by the test, then writes what each rank
saw (``OUT/rank<r>.json``) so the test can check that ranks agree and rank 0 alone wrote the checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from fer_lib.data import FaceDataset
from fer_lib.engine import TrainConfig, cleanup_distributed, fit, seed_everything
from fer_lib.models import create_model


def split(arrays: np.lib.npyio.NpzFile, name: str, class_names: tuple[str, ...]) -> FaceDataset:
    labels = arrays[f"{name}_labels"]
    return FaceDataset("fer2013", name, arrays[f"{name}_images"], labels, class_names, np.array([f"{name}{i}" for i in range(len(labels))]))


def main(data_path: str, out_dir: str) -> None:
    arrays = np.load(data_path)
    class_names = tuple(str(c) for c in arrays["class_names"])
    train, val, test = (split(arrays, name, class_names) for name in ("train", "val", "test"))
    seed_everything(0)
    model = create_model("resnet18_fer", num_classes=len(class_names), widths=(8, 16, 32, 64))
    cfg = TrainConfig(epochs=2, batch_size=16, eval_batch_size=40, lr=0.05, amp="none", device="cpu", num_threads=1, progress=False)
    result = fit(model, train, val, test, cfg, run_dir=Path(out_dir) / "run")
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    summary = {
        "rank": rank,
        "world_size": result.world_size,
        "history": result.history.to_dict(orient="list"),
        "honest_epoch": result.honest.epoch,
        "honest_logits": result.honest.predictions.logits.tolist(),
        "test_selected_epoch": result.test_selected.epoch,
        "param_checksum": float(sum(p.detach().double().sum() for p in model.parameters())),
    }
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(summary))
    cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
