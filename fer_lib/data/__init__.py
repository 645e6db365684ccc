"""Datasets, the decode-once cache and splits. Importing this package registers every dataset loader."""

# Importing a dataset module registers it: still images, then micro-expression clips and the MEGC2019 composite.
from . import affectnet, bu3dfe, bu4dfe, ckplus, expw, fer2013, jaffe, rafdb  # noqa: F401
from . import clip_databases, megc2019  # noqa: F401
from .base import FaceDataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .splits import Fold, loso_folds, stratified_subset, subject_kfold, validation_split
from .registry import DatasetSpec, check_loader_options, create_dataset, get_dataset_spec, list_datasets, locate_dataset, register_dataset

__all__ = [
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "FaceDataset",
    "Fold",
    "check_loader_options",
    "create_dataset",
    "get_dataset_spec",
    "list_datasets",
    "locate_dataset",
    "loso_folds",
    "register_dataset",
    "stratified_subset",
    "subject_kfold",
    "validation_split",
]
