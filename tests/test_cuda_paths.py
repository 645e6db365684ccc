"""The engine's CUDA decisions, checked without a GPU: what torch reports about CUDA is monkeypatched, and each choice the
engine makes from it (device, autocast dtype, process-group backend, the GPU a rank takes, where tensors go) is observed."""

from __future__ import annotations

import os
from contextlib import nullcontext

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from fer_lib.data import FaceDataset
from fer_lib.engine import TensorSplit, TrainConfig, distributed, init_distributed, resolve_amp
from fer_lib.engine.fit import torch_settings
from fer_lib.engine.loop import autocast
from fer_lib.errors import ConfigError


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """torch reports a CUDA device (Ampere or later: bf16 supported); tests may patch it further."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    return monkeypatch


@pytest.mark.parametrize("available, expected", [(True, "cuda"), (False, "cpu")])
def test_auto_device_is_cuda_where_available(monkeypatch, available, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert TrainConfig(device="auto").resolved_device() == torch.device(expected)


def test_an_explicit_gpu_is_kept_where_there_is_one(gpu) -> None:
    assert TrainConfig(device="cuda:1").resolved_device() == torch.device("cuda", 1)


def test_an_explicit_gpu_without_cuda_is_a_config_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device='cuda' but torch finds no usable CUDA GPU.*device='auto'"):
        TrainConfig(device="cuda").resolved_device()


@pytest.mark.parametrize("bf16, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_cuda(gpu, bf16, expected) -> None:
    gpu.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert resolve_amp("auto", torch.device("cuda")) == expected


@pytest.mark.parametrize("amp, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_cuda_autocast_dtype(gpu, amp, dtype) -> None:
    context = autocast(torch.device("cuda"), amp)  # built, not entered: there is no GPU to run it on
    assert isinstance(context, torch.autocast) and (context.device, context.fast_dtype) == ("cuda", dtype)


def test_no_autocast_without_mixed_precision() -> None:
    assert isinstance(autocast(torch.device("cuda"), "none"), nullcontext)


@pytest.mark.parametrize("device, backend", [("cuda", "nccl"), ("cpu", "gloo")])
def test_torchrun_rank_joins_nccl_on_its_local_gpu(monkeypatch, device, backend) -> None:
    joined, selected = [], []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", selected.append)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", joined.append)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "get_backend", lambda: backend)
    ctx = init_distributed(torch.device(device))
    assert joined == [backend] and (ctx.rank, ctx.world_size) == (1, 2)
    expected = torch.device("cuda", 1) if device == "cuda" else torch.device("cpu")
    assert ctx.device == expected and selected == ([expected] if device == "cuda" else [])


@pytest.mark.parametrize("backend, comm", [("nccl", torch.device("cuda", 1)), ("gloo", torch.device("cpu"))])
def test_collectives_use_the_gpu_only_under_nccl(monkeypatch, backend, comm) -> None:
    monkeypatch.setattr(dist, "get_backend", lambda: backend)
    assert distributed._comm_device(distributed.DistContext(1, 2, torch.device("cuda", 1))) == comm


@pytest.mark.parametrize("device, device_ids", [(torch.device("cuda", 1), [1]), (torch.device("cpu"), None)])
def test_ddp_wraps_the_model_on_the_rank_gpu(monkeypatch, device, device_ids) -> None:
    wrapped = []
    monkeypatch.setattr(distributed, "DistributedDataParallel", lambda model, device_ids: wrapped.append(device_ids) or model)
    distributed.wrap_model(nn.Linear(2, 2), distributed.DistContext(1, 2, device))
    assert wrapped == [device_ids]


@pytest.mark.parametrize("device, config", [("cuda", ":4096:8"), ("cpu", None)])
def test_deterministic_cuda_runs_configure_cublas(monkeypatch, device, config) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with torch_settings(TrainConfig(deterministic=True, device="cpu"), torch.device(device)):
        assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == config


def test_data_goes_to_the_training_device() -> None:
    """``data_on_device`` puts the whole split on the device once; otherwise each batch is copied there.
    The meta device stands in for a GPU: tensors move to it exactly as to ``cuda``."""
    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2, 1)
    dataset = FaceDataset("toy", "train", images, np.array([0, 1, 0, 1]), ("a", "b"), np.array(["w", "x", "y", "z"]))
    meta = torch.device("meta")
    resident = TensorSplit.from_dataset(dataset, meta, on_device=True)
    assert resident.images.device == meta and resident.labels.device == meta
    streamed = TensorSplit.from_dataset(dataset, meta, on_device=False)
    assert streamed.images.device == torch.device("cpu")
    batch_images, batch_labels = streamed.batch(torch.tensor([2, 0]), meta)
    assert batch_images.device == meta and batch_images.shape == (2, 1, 2, 2) and batch_labels.device == meta
