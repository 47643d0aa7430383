"""What learns: the plain recurrent network and its Lightning wrapper."""

from models.lit_module import OPTIMIZERS, SCHEDULERS, SequenceModule
from models.recurrent import CELLS, RecurrentNet, count_parameters

__all__ = [
    "CELLS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "RecurrentNet",
    "SequenceModule",
    "count_parameters",
]
