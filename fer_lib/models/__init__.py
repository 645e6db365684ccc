"""Models: ``create_model(name, num_classes, in_chans, img_size, ...)`` and ``list_models()``.

Importing this package registers every model family.
"""

from . import baselines  # noqa: F401
from . import dcn_cbam  # noqa: F401
from . import irnet  # noqa: F401
from . import ststnet  # noqa: F401
from .cam import default_cam_layer
from .registry import create_model, list_models, register_model

__all__ = ["create_model", "default_cam_layer", "list_models", "register_model"]
from . import lkcnn  # noqa: E402,F401
from . import mfem_lstm  # noqa: E402,F401
from .registry import INPUT_KINDS, model_input_kind  # noqa: E402

__all__ += ["INPUT_KINDS", "model_input_kind"]
