"""``TrainConfig``: every setting of a training run, each with a one-line reason, saved as ``config.json``.

Defaults are a from-scratch FER2013 recipe at 48×48 (SGD + Nesterov, cosine with one warm-up epoch, label
smoothing, the usual flip/affine/erasing augmentation); the notebooks' ``smoke`` / ``cpu`` / ``paper`` profiles
override what they need. The config is plain data (JSON types only), so a checkpoint can store it and a resumed
run can check it was started with the same one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from ..errors import ConfigError
from .loss import ClassWeights
from .precision import Amp

Optimizer = Literal["sgd", "adamw"]
Schedule = Literal["cosine", "step"]
SelectMetric = Literal["accuracy", "macro_f1"]

# Settings that change speed or display but not a single number of the result: a run may be resumed with other values.
NON_SEMANTIC_FIELDS = frozenset(
    {"eval_batch_size", "device", "data_on_device", "num_threads", "progress", "compile", "checkpoint_interval_s"}
)
# Settings added after runs were recorded, with the value that does what the code did before they existed: at that value
# they are left out of a run's recipe (fer_lib.runs.full_recipe), so the recipe hashes of the earlier runs still hold.
ADDED_FIELD_DEFAULTS: dict[str, Any] = {"class_weights": None, "mixup_alpha": 0.0, "ema_decay": 0.0}


@dataclass
class TrainConfig:
    """Hyper-parameters and run settings of :func:`fer_lib.engine.fit` (JSON-serialisable via ``to_dict``)."""

    epochs: int = 30  # FER2013 from scratch keeps improving for tens of epochs; profiles set their own budget
    batch_size: int = 64  # per process (as torchvision's reference): the global batch is batch_size × world size
    eval_batch_size: int = 256  # evaluation has no activations to keep for backward, so larger batches are free
    lr: float = 0.05  # peak LR for SGD at batch 64 (≈ 0.1 × 64/128; linear scaling, Goyal et al. 2017)
    weight_decay: float = 5e-4  # the usual CNN value for small datasets; not applied to norm weights and biases
    optimizer: Optimizer = "sgd"  # SGD+momentum generalises best for CNNs from scratch; "adamw" for attention-heavy models
    momentum: float = 0.9  # standard heavy-ball momentum (SGD only)
    nesterov: bool = True  # Nesterov momentum: same cost, slightly better convergence (SGD only)
    schedule: Schedule = "cosine"  # cosine decay to 0 needs no milestones tuned per budget
    step_size: int = 10  # "step" schedule: epochs between decays
    gamma: float = 0.1  # "step" schedule: LR factor at each decay
    warmup_epochs: float = 1.0  # linear warm-up avoids early divergence at the peak LR with BN from scratch
    label_smoothing: float = 0.1  # FER labels are noisy (FER2013 annotators disagree): smoothing reduces over-confidence
    class_weights: ClassWeights | None = None  # "balanced": loss weighted n / (k · n_class) (engine.loss), for macro metrics (UF1)
    mixup_alpha: float = 0.0  # > 0: mixup with λ ~ Beta(α, α) per batch (engine.mixup), a regulariser for small training sets; 0 = off
    ema_decay: float = 0.0  # > 0: evaluate an exponential moving average of the weights, updated every step (engine.weight_average); 0 = off
    amp: Amp = "auto"  # the faster precision on the device: bf16 autocast only where it beats fp32 (engine.precision)
    channels_last: bool = True  # NHWC convolutions are the fast path for oneDNN (CPU) and cuDNN tensor cores
    seed: int = 0  # seeds the global RNG, the epoch permutations and the augmentation generator
    deterministic: bool = False  # deterministic kernels (bit-identical reruns) at some speed cost; tests turn it on
    device: str = "auto"  # "auto" = CUDA when available, else CPU; or "cpu" / "cuda" / "cuda:1"
    data_on_device: bool = True  # keep the uint8 dataset on the device: on a GPU, FER2013 (≈ 80 MB) then never crosses PCIe
    grad_clip: float | None = None  # max global grad norm; None = off (plain CNNs with BN rarely need it)
    augment: dict[str, Any] | None = field(default_factory=dict)  # BatchAugment kwargs ({} = FER defaults); "kind": "flow" = FlowAugment; None = off
    select_metric: SelectMetric = "accuracy"  # epoch selection metric of both protocols (val for honest, test for test_selected)
    num_threads: int | None = None  # torch.set_num_threads during fit; None = leave torch's default
    # torch.compile the training step (Inductor fuses the element-wise work around each conv): 1.07-1.10x on a 2-core
    # AVX-512-BF16 CPU after 30-65 s of compiling (benchmarks/compile_throughput.py), so off by default; more on a GPU
    compile: bool = False
    progress: bool | None = None  # tqdm bars; None = only when stderr is a terminal
    # with a run folder, checkpoint once this many seconds have passed since the last checkpoint, and always after the
    # last epoch; 0 = after every epoch. A CK+ fold's epoch takes seconds and its checkpoint is 136-283 MB (ResNet18+CBAM,
    # ResNet50): one per epoch made fit 1.09x and 1.04x slower on an AMX CPU (results/bench/checkpoint_overhead_*.json);
    # a killed run replays at most about a minute of epochs
    checkpoint_interval_s: float = 60.0

    def __post_init__(self) -> None:
        mistyped = _mistyped_fields(self)
        if mistyped:  # before the range checks, which would fail on a string with a TypeError naming no setting
            raise ValueError(f"invalid TrainConfig: {'; '.join(mistyped)}")
        checks = {
            "epochs >= 1": self.epochs >= 1,
            "batch_size >= 1 and eval_batch_size >= 1": self.batch_size >= 1 and self.eval_batch_size >= 1,
            "lr > 0": self.lr > 0,
            "optimizer in ('sgd', 'adamw')": self.optimizer in ("sgd", "adamw"),
            "schedule in ('cosine', 'step')": self.schedule in ("cosine", "step"),
            "amp in ('auto', 'bf16', 'fp16', 'none')": self.amp in ("auto", "bf16", "fp16", "none"),
            "select_metric in ('accuracy', 'macro_f1')": self.select_metric in ("accuracy", "macro_f1"),
            "0 <= label_smoothing < 1": 0 <= self.label_smoothing < 1,
            "class_weights in (None, 'balanced')": self.class_weights in (None, "balanced"),
            "mixup_alpha >= 0": self.mixup_alpha >= 0,
            "0 <= ema_decay < 1": 0 <= self.ema_decay < 1,
            "warmup_epochs >= 0 and step_size >= 1": self.warmup_epochs >= 0 and self.step_size >= 1,
            "checkpoint_interval_s >= 0": self.checkpoint_interval_s >= 0,
        }
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid TrainConfig: need {', '.join(failed)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON types only (tuples become lists), for ``config.json`` and the checkpoint."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not be silently ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; known: {sorted(known)}")
        return cls(**values)

    def resolved_device(self) -> torch.device:
        """The device this config trains on: ``"auto"`` picks CUDA when available.

        Raises ``ConfigError`` for a CUDA device that torch cannot use (no GPU, no driver, or a CPU-only torch build).
        """
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"device={self.device!r} but torch finds no usable CUDA GPU (torch.cuda.is_available() is False): "
                "use device='auto' (CUDA where available, else the CPU) or device='cpu'"
            )
        return device


def setting(config: dict[str, Any], key: str) -> Any:
    """``config[key]``; a field of :data:`ADDED_FIELD_DEFAULTS` that ``config`` lacks (saved before the field existed)
    counts as its default, any other missing key as ``None``."""
    return config.get(key, ADDED_FIELD_DEFAULTS.get(key))


def semantic_diff(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Settings that differ between two ``to_dict()`` configs, ignoring :data:`NON_SEMANTIC_FIELDS`: ``{key: (saved, current)}``
    (each read with :func:`setting`)."""
    keys = (set(saved) | set(current)) - NON_SEMANTIC_FIELDS
    return {k: (setting(saved, k), setting(current, k)) for k in sorted(keys) if setting(saved, k) != setting(current, k)}


# Field annotation -> the Python types its value may have and how a message names them (a bool is an int to Python,
# never to a recipe: epochs=true is a mistake).
_NUMBER_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "true or false"),
}


def _mistyped_fields(config: TrainConfig) -> list[str]:
    """``"<field> must be an integer, got 2.5"`` for each number or flag field whose value has another type."""
    problems = []
    for spec in dataclasses.fields(config):
        annotation = str(spec.type)
        optional = annotation.endswith(" | None")
        allowed = _NUMBER_TYPES.get(annotation.removesuffix(" | None"))
        value = getattr(config, spec.name)
        if allowed is None or (optional and value is None):
            continue
        types, name = allowed
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            problems.append(f"{spec.name} must be {name}{' or null' if optional else ''}, got {value!r}")
    return problems
