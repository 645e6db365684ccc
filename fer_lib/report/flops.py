"""Training cost of a run's model in FLOPs per sample, counted by PyTorch on the run's input shape."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..data import create_dataset, get_dataset_spec
from ..experiment import loader_arguments
from ..models import create_model

COUNT_BATCH = 2  # BatchNorm in training mode needs more than one value per channel


def run_input_shape(dataset: str, recipe: dict[str, Any], data_root: str | os.PathLike[str] | None = None) -> tuple[int, ...]:
    """The shape of one sample as a run with ``recipe`` loaded ``dataset``: ``(C, H, W)``, or ``(T, C, H, W)`` for clips.

    Read from the data (the test split when the dataset has one, else all of it) at the recipe's ``img_size`` and
    ``modality``, as :func:`fer_lib.experiment.build_folds` loads it; ``data_root`` defaults to ``$FER_DATA``.
    """
    split = "test" if "test" in get_dataset_spec(dataset).splits else "all"
    images = create_dataset(dataset, data_root, split, **loader_arguments(recipe)).images
    *frames, height, width, channels = images.shape[1:]
    return (*frames, channels, height, width)


def train_flops_per_sample(model: str, num_classes: int, input_shape: tuple[int, ...], model_kwargs: dict[str, Any] | None = None) -> float:
    """FLOPs of one training step per sample (forward and backward, a multiply-add counting 2) of ``model`` built for
    ``num_classes`` classes on inputs of ``input_shape`` (see :func:`run_input_shape`), in training mode.

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions; element-wise
    work such as activations and the deformable convolution's bilinear gather is not counted).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a batch of 2 gains nothing from more, and on a busy machine each OpenMP barrier waits
    try:
        net = create_model(model, num_classes, in_chans=input_shape[-3], img_size=input_shape[-1], **(model_kwargs or {})).train()
        inputs = torch.zeros((COUNT_BATCH, *input_shape))
        with FlopCounterMode(display=False) as counter:
            net(inputs).sum().backward()
    finally:
        torch.set_num_threads(threads)
    return counter.get_total_flops() / COUNT_BATCH
