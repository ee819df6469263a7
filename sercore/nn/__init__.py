"""Blocks shared by two or more models (moved here only once they are shared)."""
from .masking import lengths_to_mask, masked_mean  # noqa: F401
from .rnn import MaskedBiLSTM, reverse_padded  # noqa: F401
