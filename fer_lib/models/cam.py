"""Default Grad-CAM target layer per model, for pytorch-grad-cam (``GradCAM(model, target_layers=[...])``)."""

from __future__ import annotations

from torch import nn


def default_cam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM should explain: ``model.cam_layer`` when a model names one, else the last block of the last
    stage for ResNet-family models (``model.stages``), the deepest spatial features before pooling (Selvaraju et al. 2017).
    """
    layer = getattr(model, "cam_layer", None)
    if isinstance(layer, nn.Module):
        return layer
    stages = getattr(model, "stages", None)
    if isinstance(stages, nn.Sequential) and len(stages) and isinstance(stages[-1], nn.Sequential) and len(stages[-1]):
        return stages[-1][-1]
    raise ValueError(f"{type(model).__name__} has no default Grad-CAM layer: give it a `cam_layer` module attribute or `stages`")
