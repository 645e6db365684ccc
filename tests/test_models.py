"""Every registered model, on the inputs of its kind: output shape, finite gradients for every parameter, Grad-CAM on
its default layer, state_dict round trip through ``torch.load(weights_only=True)``, and attention maps for figures.

Parametrised over ``list_models()`` at collection time, so a model registered later is tested without editing this file.
Inputs follow ``model_input_kind``: image models at FER2013 and RGB sizes, flow models on MEGC2019's 3 × 28 × 28
(u, v, strain) maps, clip models on 2-frame clips of 32 px RGB frames (Grad-CAM explains them on single frames).
Batches of 2 and small images keep the whole file fast on a 2-core CPU.
"""

from __future__ import annotations

import io

import pytest
import torch
from pytorch_grad_cam import GradCAM
from torch import nn

from fer_lib.layers import AttentionMap, MultiHeadCrossAttention, capture_attention_maps
from fer_lib.models import INPUT_KINDS, ModelInput, create_model, default_cam_layer, list_models, model_input, model_input_kind, register_model
from fer_lib.models import registry

MODELS = list_models()
NUM_CLASSES = 7
BATCH = 2
CLIP_FRAMES = 2
# (in_chans, img_size) per input kind; the first is each model's default in this file
SIZES = {"image": [(1, 48), (3, 112)], "flow": [(3, 28)], "clip": [(3, 32)]}
MODEL_SIZES = [(name, *size) for name in MODELS for size in SIZES[model_input_kind(name)]]


pytestmark = pytest.mark.usefixtures("one_thread")


def _size(name: str, in_chans: int | None, img_size: int | None) -> tuple[int, int]:
    default_chans, default_size = SIZES[model_input_kind(name)][0]
    return in_chans or default_chans, img_size or default_size


def _model(name: str, in_chans: int | None = None, img_size: int | None = None, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    in_chans, img_size = _size(name, in_chans, img_size)
    return create_model(name, num_classes=NUM_CLASSES, in_chans=in_chans, img_size=img_size)


def _input(name: str, in_chans: int | None = None, img_size: int | None = None, seed: int = 1, single_frame: bool = False) -> torch.Tensor:
    """A batch of the model's input kind: images/flow maps ``(2, C, S, S)``, clips ``(2, T, C, S, S)`` (or one frame each)."""
    in_chans, img_size = _size(name, in_chans, img_size)
    frames = (CLIP_FRAMES,) if model_input_kind(name) == "clip" and not single_frame else ()
    return torch.randn(BATCH, *frames, in_chans, img_size, img_size, generator=torch.Generator().manual_seed(seed))


def test_registry_holds_the_study_models() -> None:
    assert {"irnet", "irnet_single_head", "resnet50_fer", "dcn_cbam", "lkcnn", "mfem_lstm"} <= set(MODELS)
    with pytest.raises(KeyError, match="no_such_model"):
        create_model("no_such_model")


def test_input_kinds() -> None:
    assert set(INPUT_KINDS) == set(SIZES)
    assert {model_input_kind(name) for name in MODELS} <= set(INPUT_KINDS)
    assert model_input_kind("resnet18_fer") == "image" and model_input_kind("lkcnn") == "flow" and model_input_kind("mfem_lstm") == "clip"
    assert {"lkcnn", "lkcnn_no_attention"} <= set(list_models(input_kind="flow"))
    assert set(list_models(input_kind="clip")) >= {"mfem_lstm", "resnet34_lstm"}
    assert sorted(sum((list_models(input_kind=kind) for kind in INPUT_KINDS), [])) == MODELS
    with pytest.raises(KeyError, match="no_such_model"):
        model_input_kind("no_such_model")


def test_register_model_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare ``@register_model`` is an image model; ``@register_model(input_kind=..., modality=...)`` declares what it
    reads; a name is taken once."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    monkeypatch.setattr(registry, "_INPUTS", dict(registry._INPUTS))

    def plain_test_model(num_classes: int = 7, in_chans: int = 1, img_size: int = 48) -> nn.Module:
        return nn.Linear(in_chans * img_size * img_size, num_classes)

    def flow_test_model(num_classes: int = 3, in_chans: int = 3, img_size: int = 28) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(in_chans * img_size * img_size, num_classes))

    assert register_model(plain_test_model) is plain_test_model
    assert register_model(input_kind="flow", modality="flow")(flow_test_model) is flow_test_model
    assert model_input_kind("plain_test_model") == "image" and model_input_kind("flow_test_model") == "flow"
    assert model_input("flow_test_model") == ModelInput(kind="flow", modality="flow", in_chans=3, img_size=28)
    assert model_input("plain_test_model").modality is None
    assert create_model("flow_test_model")[1].in_features == 3 * 28 * 28  # unset sizes: the builder's defaults
    assert create_model("flow_test_model", 3, None, 14)[1].in_features == 3 * 14 * 14
    with pytest.raises(ValueError, match="already registered"):
        register_model(plain_test_model)
    with pytest.raises(ValueError, match="input_kind"):
        register_model(input_kind="video")


@pytest.mark.parametrize("name,in_chans,img_size", MODEL_SIZES)
def test_output_shape_and_finite(name: str, in_chans: int, img_size: int) -> None:
    model = _model(name, in_chans, img_size).eval()
    with torch.no_grad():
        logits = model(_input(name, in_chans, img_size))
    assert logits.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_reaches_every_parameter(name: str) -> None:
    model = _model(name).train()
    loss = nn.functional.cross_entropy(model(_input(name)), torch.tensor([0, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters unused by forward (DDP would fail): {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", MODELS)
def test_grad_cam_runs_on_default_layer(name: str) -> None:
    """Clip models are explained frame by frame: they read ``(N, C, H, W)`` as one-frame clips."""
    model = _model(name).eval()
    layer = default_cam_layer(model)
    assert any(layer is m for m in model.modules())
    frames = _input(name, single_frame=True)
    with GradCAM(model=model, target_layers=[layer]) as cam:
        heatmaps = cam(input_tensor=frames, targets=None)  # None: explain the top class
    assert heatmaps.shape == (BATCH, *frames.shape[-2:])
    assert (heatmaps >= 0).all() and (heatmaps <= 1 + 1e-6).all()


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip(name: str) -> None:
    model = _model(name, seed=0).train()
    with torch.no_grad():
        model(_input(name, seed=5))  # move BN running statistics away from their defaults
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = _model(name, seed=123)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    model.eval(), fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(_input(name)), model(_input(name)), atol=0, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_attention_maps_captured_for_every_marker(name: str) -> None:
    """One map per input — per frame for clip models, whose CNN sees the frames of the N clips as N·T images."""
    model = _model(name).eval()
    markers = [n for n, m in model.named_modules() if isinstance(m, AttentionMap)]
    maps = capture_attention_maps(model, _input(name))
    assert sorted(maps) == sorted(markers)
    per_input = BATCH * (CLIP_FRAMES if model_input_kind(name) == "clip" else 1)
    for key, value in maps.items():
        assert value.shape[0] == per_input and value.dim() == 4 and torch.isfinite(value).all(), key


@pytest.mark.parametrize("name,heads", [("irnet", 4), ("irnet_single_head", 1)])
def test_irnet_gives_one_spatial_map_per_head_per_replaced_block(name: str, heads: int) -> None:
    model = _model(name).eval()
    blocks = [n for n, m in model.named_modules() if isinstance(m, MultiHeadCrossAttention)]
    maps = capture_attention_maps(model, _input(name))
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
