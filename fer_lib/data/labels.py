"""Every label order and name mapping of the study, in one place.

Canonical class names are lower-case English words (``angry``, ``happy``, ...). Each dataset keeps its
own class set and order, declared here, so that label ids match the dataset's published convention.
"""

from __future__ import annotations

from .errors import DatasetFormatError

# FER2013 ids as in fer2013.csv: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
FER2013_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# CK+ Emotion/*.txt codes 1..7 (0 = neutral is never a sequence label); CK+48 folders use these classes.
CKPLUS_CLASSES: tuple[str, ...] = ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")

# RAF-DB basic, EmoLabel/list_patition_label.txt: labels 1..7 in this order.
RAFDB_CLASSES: tuple[str, ...] = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")

# AffectNet expression ids 0..7; 8 none, 9 uncertain, 10 no-face are not expressions.
AFFECTNET_CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")
AFFECTNET_NON_EXPRESSION_IDS: dict[int, str] = {8: "none", 9: "uncertain", 10: "no-face"}

# ExpW label/label.lst expression ids 0..6 follow the FER2013 order.
EXPW_CLASSES: tuple[str, ...] = FER2013_CLASSES

# JAFFE file names carry a two-letter code: KA.AN1.39.tiff is subject KA, anger, take 1, image 39.
JAFFE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
JAFFE_CODES: dict[str, str] = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "SA": "sad", "SU": "surprise", "NE": "neutral"}

# BU-3DFE file names carry JAFFE's two-letter codes (F0001_AN01WH_F2D.bmp: anger, intensity 1); the databases publish
# no label ids, so the FER2013 order is used. BU-4DFE's expression folders (Angry/ .. Surprise/) hold the six without
# neutral, in the same order.
BU3DFE_CLASSES: tuple[str, ...] = FER2013_CLASSES
BU3DFE_CODES: dict[str, str] = JAFFE_CODES
BU4DFE_CLASSES: tuple[str, ...] = FER2013_CLASSES[:-1]

# MEGC2019 composite (CASME II + SMIC-HS + SAMM): label 0 negative, 1 positive, 2 surprise.
MEGC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

# MEGC2019 mapping of each database's emotion labels to the three classes. Emotions not listed
# ("others", "contempt" in CASME II, ...) are excluded from the 3-class task, as in the challenge.
MEGC_MAPPING: dict[str, str] = {
    "happiness": "positive",
    "disgust": "negative",
    "repression": "negative",
    "fear": "negative",
    "sadness": "negative",
    "anger": "negative",
    "contempt": "negative",
    "surprise": "surprise",
    # SMIC's own three classes
    "negative": "negative",
    "positive": "positive",
}
# SAMM's "Contempt" and "Anger" map to negative (MEGC2019 description, Table 1); CASME II has no anger/contempt.
# The challenge description says CASME II's negative class is Disgust and Repression only: its fear and sadness
# clips are left out (the composite has 88 CASME II negatives, none of them fear or sadness).
MEGC_EXCLUDED_EMOTIONS: dict[str, frozenset[str]] = {"casme2": frozenset({"fear", "sadness"})}

# Emotion classes of the micro-expression clip databases, lower-case words of each coding table's
# "Estimated Emotion" column (the databases publish no label ids, so the order is ours).
CASME2_EMOTIONS: tuple[str, ...] = ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")
SAMM_EMOTIONS: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise", "other")
# SMIC-HS has three classes; ids as in smic_apex.xlsx's label column. Clip names carry a code (s1_ne_02).
SMIC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
SMIC_CODES: dict[str, str] = {"ne": "negative", "po": "positive", "sur": "surprise"}

# Aliases seen in folder names of public copies -> canonical names.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "contempt": "contempt",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
}


def canonical_name(name: str, where: str) -> str:
    """Map a folder/label name (any case, e.g. ``Sadness``) to its canonical class name.

    ``where`` names the file or folder the name came from, for the error message.
    """
    key = name.strip().lower()
    if key not in ALIASES:
        raise DatasetFormatError(f"Unknown class name {name!r} in {where}; expected one of {sorted(set(ALIASES))}")
    return ALIASES[key]


def class_index(name: str, classes: tuple[str, ...], where: str) -> int:
    """Index of ``name`` (after alias mapping) in ``classes``; a clear error names ``where`` otherwise."""
    canon = canonical_name(name, where)
    if canon not in classes:
        raise DatasetFormatError(f"Class {name!r} in {where} is not a class of this dataset {classes}")
    return classes.index(canon)


def megc_class(emotion: str, database: str | None = None) -> int | None:
    """MEGC2019 3-class id of a database emotion label, or ``None`` when the challenge excludes it.

    ``database`` (``casme2``, ``samm``, ``smic``) applies that database's exclusions (CASME II fear, sadness).
    """
    key = emotion.strip().lower()
    if key in MEGC_EXCLUDED_EMOTIONS.get(database or "", frozenset()):
        return None
    mapped = MEGC_MAPPING.get(key)
    return None if mapped is None else MEGC_CLASSES.index(mapped)
