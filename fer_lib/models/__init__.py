"""Models: ``create_model(name, num_classes, in_chans, img_size, ...)``, ``list_models()`` and ``model_input(name)``.

Importing this package registers every model family.
"""

from . import baselines, dcn_cbam, irnet, lkcnn, mfem_lstm, ststnet  # noqa: F401
from .cam import default_cam_layer
from .registry import INPUT_KINDS, ModelInput, create_model, list_models, model_input, model_input_kind, register_model

__all__ = [
    "INPUT_KINDS",
    "ModelInput",
    "create_model",
    "default_cam_layer",
    "list_models",
    "model_input",
    "model_input_kind",
    "register_model",
]
