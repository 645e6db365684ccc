"""fer_lib — a reproducible study of deep facial-expression recognition, from images to videos.

Paper reproduced: "Deep facial expression recognition: from images to videos" (a survey; its claims are in
``fer_lib/claims.yaml``). The library is organised one concept per module:

* :mod:`fer_lib.data` — dataset loaders, a decode-once cache, and splits as code.
* :mod:`fer_lib.preprocess` — face detection/alignment, normalisation, batch augmentation.
* :mod:`fer_lib.layers`, :mod:`fer_lib.models` — building blocks and the registered models.
* :mod:`fer_lib.engine` — the one training/evaluation engine; :mod:`fer_lib.experiment` — a run folder per experiment.
"""

__version__ = "0.1.0"
