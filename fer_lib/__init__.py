"""fer_lib — a reproducible study of deep facial-expression recognition, from images to videos.

Paper reproduced: "Deep facial expression recognition: from images to videos" (survey), see
``../shared/paper`` in the study checkout. The library is organised one concept per module:

* :mod:`fer_lib.data` — dataset loaders, a decode-once cache, and splits as code.
* :mod:`fer_lib.preprocess` — face detection/alignment, normalisation, batch augmentation.
"""

__version__ = "0.1.0"
