"""Model registry (as in timm): builder functions registered by name, ``create_model(name, ...)``, ``list_models()``.

Every model declares the kind of input it reads, so notebooks, the engine and the tests can build the right batch:

* ``"image"`` — face images ``(N, in_chans, img_size, img_size)`` (the default: FER2013, RAF-DB, CK+ models);
* ``"flow"``  — onset→apex optical-flow maps ``(N, 3, img_size, img_size)``, planes (u, v, optical strain)
  (STSTNet, LKCNN; the MEGC2019 composite's 28×28 maps);
* ``"clip"``  — frame sequences ``(N, T, in_chans, img_size, img_size)``; a clip model also takes ``(N, C, H, W)``
  as one frame (T = 1), which is what Grad-CAM feeds it.

``@register_model`` registers an image model; ``@register_model(input_kind="flow")`` declares another kind, and
``modality=`` the data modality it reads from a micro-expression dataset (``"flow"`` maps, ``"apex_flow"`` two-frame
sequences). Its builder's defaults declare its native input size and channels. :func:`model_input` reads all of it;
the recipe takes the modality from there (:mod:`fer_lib.profiles`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal, TypeVar, get_args, overload

from torch import nn

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])
InputKind = Literal["image", "flow", "clip"]
INPUT_KINDS: tuple[str, ...] = get_args(InputKind)
_MODELS: dict[str, Callable[..., nn.Module]] = {}
_INPUTS: dict[str, tuple[InputKind, str | None]] = {}


@dataclass(frozen=True)
class ModelInput:
    """What a model reads: the input ``kind``, the dataset ``modality`` (``None``: the dataset's default images) and
    its builder's default ``in_chans`` and ``img_size``."""

    kind: InputKind
    modality: str | None
    in_chans: int | None
    img_size: int | None


@overload
def register_model(builder: Builder, *, input_kind: InputKind = "image", modality: str | None = None) -> Builder: ...
@overload
def register_model(builder: None = None, *, input_kind: InputKind = "image", modality: str | None = None) -> Callable[[Builder], Builder]: ...


def register_model(builder: Builder | None = None, *, input_kind: InputKind = "image", modality: str | None = None) -> Builder | Callable[[Builder], Builder]:
    """Register ``builder`` under its function name, reading inputs of ``input_kind`` (of the dataset ``modality``);
    a name registered twice is an error.

    Use as ``@register_model`` (an image model) or ``@register_model(input_kind="flow" | "clip", modality=...)``.
    """
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")

    def register(fn: Builder) -> Builder:
        name = fn.__name__
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = fn
        _INPUTS[name] = (input_kind, modality)
        return fn

    return register(builder) if builder is not None else register


def list_models(input_kind: InputKind | None = None) -> list[str]:
    """Names of all registered models (of one ``input_kind`` when given), sorted."""
    return sorted(name for name in _MODELS if input_kind is None or _INPUTS[name][0] == input_kind)


def model_input(name: str) -> ModelInput:
    """What model ``name`` reads, as registered (kind, modality) and as its builder defaults (channels, size)."""
    _check_known(name)
    kind, modality = _INPUTS[name]
    defaults = {p.name: p.default for p in inspect.signature(_MODELS[name]).parameters.values() if p.default is not inspect.Parameter.empty}
    return ModelInput(kind, modality, defaults.get("in_chans"), defaults.get("img_size"))


def model_input_kind(name: str) -> str:
    """The kind of input model ``name`` reads: ``"image"``, ``"flow"`` or ``"clip"`` (see the module docstring)."""
    return model_input(name).kind


def create_model(name: str, num_classes: int = 7, in_chans: int | None = None, img_size: int | None = None, **kwargs: Any) -> nn.Module:
    """Build model ``name`` for ``num_classes`` classes on ``in_chans``×``img_size``×``img_size`` inputs (frames for clip
    models); ``None`` takes the builder's default (image models: 1 × 48 px, FER2013; flow models: 3 × 28 px, MEGC2019).

    ``model(x)`` returns logits ``(N, num_classes)``; extra keyword arguments go to the builder.
    """
    _check_known(name)
    sizes = {key: value for key, value in (("in_chans", in_chans), ("img_size", img_size)) if value is not None}
    return _MODELS[name](num_classes=num_classes, **sizes, **kwargs)


def _check_known(name: str) -> None:
    if name not in _MODELS:
        raise KeyError(f"Unknown model {name!r}; registered: {list_models()}")
