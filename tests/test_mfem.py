"""MFEM-BiLSTM (paper §4.2.2): parallel MFEM, multi-layer feature fusion, BiLSTM over the frames."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer_lib.layers import MFEM, MultiLevelFeatureFusion, capture_attention_maps
from fer_lib.models import create_model
from fer_lib.models.mfem_lstm import MFEMBiLSTM


pytestmark = pytest.mark.usefixtures("one_thread")


def _clips(n: int = 2, t: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_mfem_branches_are_parallel() -> None:
    """SAM and both CAMs read the same input; their outputs are averaged onto it (not CBAM's CAM → SAM chain)."""
    torch.manual_seed(0)
    mfem = MFEM(32, reduction=4).eval()
    x = torch.randn(2, 32, 6, 6)
    torch.testing.assert_close(mfem(x), x + (mfem.sam(x) + mfem.cam1(x) + mfem.cam2(x)) / 3)
    assert not torch.allclose(mfem(x), x + mfem.sam(mfem.cam1(x)))
    assert not torch.equal(mfem.cam1.mlp[0].weight, mfem.cam2.mlp[0].weight)  # two CAMs, two sets of weights
    maps = capture_attention_maps(mfem, x)
    assert set(maps) == {"sam.map", "cam1.map", "cam2.map"}
    assert maps["sam.map"].shape == (2, 1, 6, 6) and maps["cam1.map"].shape == (2, 32, 1, 1)


def test_mfem_gain_is_between_one_and_two() -> None:
    mfem = MFEM(16, reduction=4).eval()
    x = torch.rand(2, 16, 5, 5) + 0.1
    ratio = mfem(x) / x
    assert (ratio > 1).all() and (ratio < 2).all()


def test_feature_fusion_mixes_all_levels() -> None:
    torch.manual_seed(0)
    fusion = MultiLevelFeatureFusion((8, 16, 32, 64), dim=32).eval()
    levels = [torch.randn(2, c, s, s) for c, s in ((8, 16), (16, 8), (32, 4), (64, 2))]
    fused = fusion(levels)
    assert fused.shape == (2, 32)
    for i in range(4):
        changed = [level.clone() for level in levels]
        changed[i] = changed[i] + 1.0
        assert not torch.allclose(fusion(changed), fused), f"level {i} ignored"
    # FIM: level 0's token is re-expressed with what the other levels carry
    tokens = torch.randn(2, 4, 32)
    other = tokens.clone()
    other[:, 3] += 1.0
    assert not torch.allclose(fusion.interaction(other)[:, 0], fusion.interaction(tokens)[:, 0])
    with pytest.raises(ValueError, match="4 levels"):
        fusion(levels[:3])


def test_structure_and_ablation() -> None:
    model = MFEMBiLSTM(width=16, img_size=32)
    assert [len(stage) for stage in model.stages] == [4, 5, 7, 4]  # [3, 4, 6, 3] BasicBlocks + one MFEM each
    assert all(isinstance(stage[-1], MFEM) for stage in model.stages)
    assert [stage[-1].cam1.mlp[0].in_channels for stage in model.stages] == [16, 32, 64, 128]
    assert model.cam_layer is model.stages[-1][-1]
    assert model.temporal.bidirectional and model.temporal.input_size == 128 and model.fc.in_features == 2 * 64
    plain = create_model("resnet34_lstm", width=16, img_size=32)
    assert plain.fusion is None and not any(isinstance(m, MFEM) for m in plain.modules())
    params = {width: sum(p.numel() for p in create_model("mfem_lstm", width=width).parameters()) for width in (32, 64)}
    assert params[32] < params[64] / 3  # widths scale every layer: about a quarter of the parameters


def test_bilstm_sees_the_clip_frames() -> None:
    torch.manual_seed(0)
    model = MFEMBiLSTM(width=8, img_size=32).eval()
    seen: dict[str, tuple[int, ...]] = {}
    model.stem.register_forward_hook(lambda _m, inp, _out: seen.__setitem__("cnn", tuple(inp[0].shape)))
    model.temporal.register_forward_hook(lambda _m, inp, _out: seen.__setitem__("lstm", tuple(inp[0].shape)))
    with torch.no_grad():
        logits = model(_clips(n=2, t=5))
    assert logits.shape == (2, 3)
    assert seen == {"cnn": (10, 3, 32, 32), "lstm": (2, 5, 64)}


@pytest.mark.parametrize("name", ["mfem_lstm", "resnet34_lstm"])
def test_logits_depend_on_frame_order_but_frames_are_encoded_alone(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, width=8, img_size=32).eval()
    clips = _clips(t=4)
    with torch.no_grad():
        logits = model(clips)
        assert not torch.allclose(model(clips.flip(1)), logits)  # the BiLSTM reads a sequence, not a set
        features = model.forward_features(clips)
        for t in range(clips.shape[1]):  # the CNN encodes each frame on its own (eval mode)
            torch.testing.assert_close(model.forward_features(clips[:, t])[:, 0], features[:, t])
        torch.testing.assert_close(model(clips[:, 0]), model(clips[:, :1]))  # a frame is a one-frame clip
    with pytest.raises(ValueError, match="clips"):
        model(torch.randn(2, 3, 32))


def test_backward_reaches_every_parameter_on_clips() -> None:
    model = MFEMBiLSTM(width=8, img_size=32).train()
    nn.functional.cross_entropy(model(_clips()), torch.tensor([0, 2])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]
