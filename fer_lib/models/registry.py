"""Model registry (as in timm): builder functions registered by name, ``create_model(name, ...)``, ``list_models()``."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from torch import nn

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])
_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Builder) -> Builder:
    """Register ``builder`` under its function name; a name registered twice is an error."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is already registered")
    _MODELS[name] = builder
    return builder


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_MODELS)


def create_model(name: str, num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs: Any) -> nn.Module:
    """Build model ``name`` for ``num_classes`` classes on ``in_chans``×``img_size``×``img_size`` inputs.

    ``model(x)`` returns logits ``(N, num_classes)``; extra keyword arguments go to the builder.
    """
    if name not in _MODELS:
        raise KeyError(f"Unknown model {name!r}; registered: {list_models()}")
    return _MODELS[name](num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
