"""Attention maps for figures without changing ``forward``'s return type (so pytorch-grad-cam keeps working).

Attention layers pass each map they compute through an :class:`AttentionMap` (an identity module);
:func:`capture_attention_maps` hooks every such module for one forward pass and returns the maps by module name.
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionMap(nn.Identity):
    """Identity marker: the tensor passing through is an attention map (spatial ``(N, 1, H, W)`` or channel ``(N, C, 1, 1)``)."""


@torch.no_grad()
def capture_attention_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` once and return ``{module name: map}`` for every :class:`AttentionMap` in it (maps on CPU, float)."""
    maps: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(lambda _m, _inp, out, name=name: maps.__setitem__(name, out.detach().float().cpu()))
        for name, module in model.named_modules()
        if isinstance(module, AttentionMap)
    ]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return maps
