"""Every registered model: output shape at FER2013 and RGB sizes, finite gradients for every parameter, Grad-CAM on its
default layer, state_dict round trip through ``torch.load(weights_only=True)``, and attention maps for figures.

Parametrised over ``list_models()`` at collection time, so a model registered later is tested without editing this file.
Batches of 2 and small images keep the whole file fast on a 2-core CPU.
"""

from __future__ import annotations

import io
from typing import Iterator

import pytest
import torch
from pytorch_grad_cam import GradCAM
from torch import nn

from fer_lib.layers import AttentionMap, MultiHeadCrossAttention, capture_attention_maps
from fer_lib.models import create_model, default_cam_layer, list_models

MODELS = list_models()
NUM_CLASSES = 7


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Batches of 2 gain nothing from a second thread, and on a busy 2-core machine every OpenMP barrier waits for a
    descheduled thread (measured: ResNet50 forward 0.1 s with 1 thread, 0.2–3 s with 2 while other jobs run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(name: str, in_chans: int = 1, img_size: int = 48, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(name, num_classes=NUM_CLASSES, in_chans=in_chans, img_size=img_size)


def _input(in_chans: int = 1, img_size: int = 48, seed: int = 1) -> torch.Tensor:
    return torch.randn(2, in_chans, img_size, img_size, generator=torch.Generator().manual_seed(seed))


def test_registry_holds_the_study_models() -> None:
    assert {"irnet", "irnet_single_head", "resnet50_fer"} <= set(MODELS)
    with pytest.raises(KeyError, match="no_such_model"):
        create_model("no_such_model")


@pytest.mark.parametrize("in_chans,img_size", [(1, 48), (3, 112)])
@pytest.mark.parametrize("name", MODELS)
def test_output_shape_and_finite(name: str, in_chans: int, img_size: int) -> None:
    model = _model(name, in_chans, img_size).eval()
    with torch.no_grad():
        logits = model(_input(in_chans, img_size))
    assert logits.shape == (2, NUM_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_reaches_every_parameter(name: str) -> None:
    model = _model(name).train()
    loss = nn.functional.cross_entropy(model(_input()), torch.tensor([0, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters unused by forward (DDP would fail): {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", MODELS)
def test_grad_cam_runs_on_default_layer(name: str) -> None:
    model = _model(name).eval()
    layer = default_cam_layer(model)
    assert any(layer is m for m in model.modules())
    with GradCAM(model=model, target_layers=[layer]) as cam:
        heatmaps = cam(input_tensor=_input(), targets=None)  # None: explain the top class
    assert heatmaps.shape == (2, 48, 48)
    assert (heatmaps >= 0).all() and (heatmaps <= 1 + 1e-6).all()


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip(name: str) -> None:
    model = _model(name, seed=0).train()
    with torch.no_grad():
        model(_input(seed=5))  # move BN running statistics away from their defaults
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = _model(name, seed=123)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    model.eval(), fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(_input()), model(_input()), atol=0, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_attention_maps_captured_for_every_marker(name: str) -> None:
    model = _model(name).eval()
    markers = [n for n, m in model.named_modules() if isinstance(m, AttentionMap)]
    maps = capture_attention_maps(model, _input())
    assert sorted(maps) == sorted(markers)
    for key, value in maps.items():
        assert value.shape[0] == 2 and value.dim() == 4 and torch.isfinite(value).all(), key


@pytest.mark.parametrize("name,heads", [("irnet", 4), ("irnet_single_head", 1)])
def test_irnet_gives_one_spatial_map_per_head_per_replaced_block(name: str, heads: int) -> None:
    model = _model(name).eval()
    blocks = [n for n, m in model.named_modules() if isinstance(m, MultiHeadCrossAttention)]
    maps = capture_attention_maps(model, _input())
    spatial = {k: v for k, v in maps.items() if ".spatial.maps." in k}
    assert len(blocks) == 16 and len(spatial) == heads * len(blocks)
    for block in blocks:
        stage_size = maps[f"{block}.spatial.maps.0"].shape[-1]
        assert stage_size in (24, 12, 6, 3)  # one map per stage resolution at 48 px
        assert all(spatial[f"{block}.spatial.maps.{h}"].shape == (2, 1, stage_size, stage_size) for h in range(heads))


def test_default_cam_layer_choices() -> None:
    model = _model("resnet50_fer")
    assert default_cam_layer(model) is model.stages[-1][-1]

    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Conv2d(1, 2, 3)

        @property
        def cam_layer(self) -> nn.Module:
            return self.body

    named = Named()
    assert default_cam_layer(named) is named.body
    with pytest.raises(ValueError, match="cam_layer"):
        default_cam_layer(nn.Linear(2, 2))
