"""Large-scale Temporal Pyramid Pooling (LTPP), MCWSA-CMHA (Zheng et al.), Sec. III-B/IV-C.

LTPP turns a variable-length sequence ``(T, D)`` into a fixed ``(N, D)`` by
cutting the time axis into 1, 2, 4, ... equal regions, mean-pooling each
region, and concatenating the pooled rows.

What the paper says (Sec. IV-C): "for audio data, the pyramid level is
l = 0, 2, 4, ..., 64; for visual data ... l = 0, 2, 4, 8, 16; for textual data
... l = 0, 2, 4, 8, 16. Then mean pooling is performed on each level.
Furthermore, a global maximum pooling is used to ensure the data dimension is
even ... the dimensions of the preprocessed audio data, visual data, and
textual data are 64x128x3, 32x2048 and 32x300. (For a small amount of data
whose time dimension is less than the pyramid level, zero padding is used.)"

The ambiguity and our reading
-----------------------------
Read literally, levels 2, 4, ..., 64 in steps of two would give 1056 rows, and
"level 0 = global max" plus 2+4+8+16+32+64 regions gives 127 rows; neither is
the 128 the paper reports. The one reading that reproduces *both* reported
sizes is: level ``l`` cuts the sequence into ``l`` regions, level 0 meaning a
single region (the whole sequence, i.e. ``2**0``), levels grow in powers of two,
every region is mean-pooled, and one extra global-max row is appended ("used to
ensure the data dimension is even"):

- audio: 1 + 2 + 4 + 8 + 16 + 32 + 64 mean rows + 1 max row = 128;
- text / video: 1 + 2 + 4 + 8 + 16 mean rows + 1 max row = 32.

Row order (our choice; the paper does not fix it): the level-0 mean, then
the level-2 means in time order, then level 4, ..., then the global max last.

Region boundaries for ``T`` not divisible by ``l``: region ``i`` covers frames
``[floor(i*T/l), ceil((i+1)*T/l))`` (the adaptive-pooling convention of
spatial pyramid pooling; neighbouring regions may share one frame).

Short inputs: when ``T`` is smaller than the largest level, the sequence is
zero-padded at its end to exactly that many frames *before* pooling (so each
finest region holds one frame, and the zeros take part in the coarser means and
in the max). This is the paper's "zero padding"; it makes the padded rows zero
at the finest level.
"""
from __future__ import annotations

import numpy as np

__all__ = ["AUDIO_LEVELS", "TEXT_LEVELS", "VIDEO_LEVELS", "ltpp", "ltpp_rows", "ltpp_audio"]

AUDIO_LEVELS: tuple[int, ...] = (0, 2, 4, 8, 16, 32, 64)  # -> 128 rows
TEXT_LEVELS: tuple[int, ...] = (0, 2, 4, 8, 16)  # -> 32 rows
VIDEO_LEVELS: tuple[int, ...] = TEXT_LEVELS  # -> 32 rows


def _regions(level: int) -> int:
    if level < 0:
        raise ValueError(f"pyramid levels must be >= 0, got {level}")
    return max(1, int(level))


def ltpp_rows(levels=AUDIO_LEVELS, global_max: bool = True) -> int:
    """Number of output rows ``N`` for ``levels`` (128 for audio, 32 for text/video)."""
    return sum(_regions(lv) for lv in levels) + int(global_max)


def ltpp(x, levels=AUDIO_LEVELS, global_max: bool = True) -> np.ndarray:
    """Pool ``x`` ``(T, D)`` or ``(C, T, D)`` over time into ``(N, D)`` / ``(C, N, D)``.

    ``N = ltpp_rows(levels, global_max)``; time is the second-to-last axis.
    See the module docstring for the reading of the paper. Returns float32.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (2, 3):
        raise ValueError(f"expected x of shape (T, D) or (C, T, D), got shape {x.shape}")
    T = x.shape[-2]
    if T == 0:
        raise ValueError("expected at least one time step, got T=0")
    finest = max(_regions(lv) for lv in levels)
    if T < finest:  # zero padding at the end of the time axis
        pad = [(0, 0)] * x.ndim
        pad[-2] = (0, finest - T)
        x = np.pad(x, pad)
        T = finest
    rows = []
    for lv in levels:
        n = _regions(lv)
        for i in range(n):
            a = (i * T) // n
            b = -((-(i + 1) * T) // n)  # ceil((i+1) * T / n)
            rows.append(x[..., a:b, :].mean(axis=-2))
    if global_max:
        rows.append(x.max(axis=-2))
    return np.stack(rows, axis=-2).astype(np.float32, copy=False)


def ltpp_audio(spec3, levels=AUDIO_LEVELS, channels_last: bool = True) -> np.ndarray:
    """LTPP of a three-channel log-mel ``(3, F, T)`` (from :func:`stack_deltas`).

    Returns the paper's layout ``(F, N, 3)`` = ``64 x 128 x 3`` for 64 mel bands
    (``channels_last=True``), or ``(3, F, N)`` for PyTorch convolutions.
    """
    spec3 = np.asarray(spec3, dtype=np.float32)
    if spec3.ndim != 3:
        raise ValueError(f"expected a (C, F, T) spectrogram, got shape {spec3.shape}")
    pooled = ltpp(np.swapaxes(spec3, -1, -2), levels)  # (C, N, F)
    return np.transpose(pooled, (2, 1, 0)) if channels_last else np.swapaxes(pooled, -1, -2)
