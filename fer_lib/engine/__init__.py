"""The one training/evaluation engine of the study: ``fit`` / ``train_one_epoch`` / ``evaluate`` for every model.

Plain functions in the spirit of torchvision's classification reference and nanoGPT: a ``TrainConfig`` dataclass
(every setting with a one-line reason), device-resident uint8 batches normalised and augmented on the device,
bf16/fp16 autocast where it pays off (``amp="auto"`` measures it on CPU) and ``channels_last``, per-step LR schedule,
atomic per-epoch checkpoints that resume exactly, the ``honest`` and ``test_selected`` protocols from one run, and
``torchrun`` data parallelism.

Model-agnostic: any ``nn.Module`` whose forward returns logits ``(N, num_classes)``. A model that defines
``auxiliary_loss()`` (a scalar tensor computed during its forward) has it added to the training loss.
"""

from .batches import TensorSplit, batch_slices, model_input, normalization_stats
from .checkpoint import CHECKPOINT_NAME, CheckpointMismatchError, derive_seed, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import DistContext, cleanup_distributed, init_distributed
from .fit import FitResult, ProtocolResult, build_optimizer, build_scheduler, fit, lr_factor, seed_everything
from .loop import EvalResult, TrainStats, evaluate, train_one_epoch
from .precision import cpu_bf16_speedup, resolve_amp

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointMismatchError",
    "DistContext",
    "EvalResult",
    "FitResult",
    "ProtocolResult",
    "TensorSplit",
    "TrainConfig",
    "TrainStats",
    "batch_slices",
    "build_optimizer",
    "build_scheduler",
    "cleanup_distributed",
    "cpu_bf16_speedup",
    "derive_seed",
    "evaluate",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "lr_factor",
    "model_input",
    "resolve_amp",
    "save_checkpoint",
    "seed_everything",
    "train_one_epoch",
    "normalization_stats",
]
