"""Spectral features: log-mel spectrograms, MFCCs and their time derivatives.

All functions take a waveform ``(..., T)`` (numpy or torch; any leading batch
dims, e.g. ``(n_seg, seg_len)`` from :func:`sercore.features.audio.segment`)
and compute on CPU with :mod:`torchaudio`. They return the same kind of array
they were given (numpy in -> float32 numpy out, torch in -> torch out).

Frame count with ``center=True`` (the default, as in librosa):
``frames = 1 + T // hop_length``; e.g. 1.8 s at 16 kHz with hop 512 gives
``1 + 28800 // 512 = 57`` frames.
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as AT

__all__ = ["log_mel", "mfcc", "deltas", "stack_deltas", "n_frames"]

_WINDOWS = {
    "hamming": torch.hamming_window,
    "hann": torch.hann_window,
    "hanning": torch.hann_window,
    "blackman": torch.blackman_window,
}


def _window_fn(name: str):
    try:
        return _WINDOWS[name]
    except KeyError:
        raise ValueError(f"window must be one of {sorted(_WINDOWS)}, got {name!r}") from None


def _as_tensor(x) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x.to(torch.float32), True
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), False


def _back(y: torch.Tensor, was_torch: bool):
    return y if was_torch else y.numpy().astype(np.float32, copy=False)


def n_frames(n_samples: int, hop_length: int, n_fft: int | None = None, center: bool = True) -> int:
    """Number of STFT frames for ``n_samples`` samples (``center=False`` needs ``n_fft``)."""
    if center:
        return 1 + n_samples // hop_length
    if n_fft is None:
        raise ValueError("n_frames with center=False needs n_fft")
    return 1 + (n_samples - n_fft) // hop_length


def _default_n_fft(win_length: int) -> int:
    return 1 << (int(win_length) - 1).bit_length()  # next power of two >= win_length


def log_mel(wave, sr: int = 16000, n_mels: int = 64, win_length: int = 400, hop_length: int = 160,
            n_fft: int | None = None, f_min: float = 0.0, f_max: float | None = None,
            window: str = "hamming", center: bool = True, power: float = 2.0,
            log_offset: float = 1e-6, mel_scale: str = "htk", norm: str | None = None):
    """Log-mel spectrogram ``log(mel_power + log_offset)`` of ``wave`` ``(..., T)``.

    Returns ``(..., n_mels, frames)`` with ``frames = 1 + T // hop_length`` when
    ``center``. ``n_fft`` defaults to the next power of two >= ``win_length``
    (512 for a 25 ms window at 16 kHz). The log is natural; ``log_offset``
    keeps silence finite.

    MCWSA-CMHA: ``log_mel(w, 16000, n_mels=64, win_length=400, hop_length=160,
    f_min=20, f_max=8000, window="hamming")`` (64 bands, 20-8000 Hz, 25 ms
    Hamming window, 10 ms hop).
    """
    x, was_torch = _as_tensor(wave)
    n_fft = _default_n_fft(win_length) if n_fft is None else int(n_fft)
    if win_length > n_fft:
        raise ValueError(f"expected win_length <= n_fft, got win_length={win_length} n_fft={n_fft}")
    tf = AT.MelSpectrogram(sample_rate=sr, n_fft=n_fft, win_length=win_length,
                           hop_length=hop_length, f_min=f_min, f_max=f_max, n_mels=n_mels,
                           window_fn=_window_fn(window), power=power, center=center,
                           pad_mode="constant", norm=norm, mel_scale=mel_scale)
    with torch.no_grad():
        y = torch.log(tf(x) + log_offset)
    return _back(y, was_torch)


def mfcc(wave, sr: int = 16000, n_mfcc: int = 40, n_fft: int = 2048, win_length: int | None = None,
         hop_length: int = 512, n_mels: int = 128, f_min: float = 0.0, f_max: float | None = None,
         window: str = "hann", center: bool = True, top_db: float | None = 80.0):
    """MFCCs of ``wave`` ``(..., T)``: returns ``(..., n_mfcc, frames)``.

    The defaults follow ``librosa.feature.mfcc`` (what the papers' Python
    releases call): Slaney mel filters, power spectrogram in dB clipped
    ``top_db`` below the peak, orthonormal DCT-II, periodic Hann window,
    ``win_length = n_fft``, zero ("constant") padding when ``center``. They agree
    with librosa 0.10+ to float precision.

    CTMAM: ``mfcc(seg, 16000, n_mfcc=26, n_fft=2048, hop_length=512)`` on 1.8 s
    segments gives ``(26, 57)``.
    CA-SER: 40 coefficients every 10 ms: ``mfcc(w, 16000, n_mfcc=40, n_fft=400,
    hop_length=160, n_mels=40)`` (the paper gives only the hop; a 25 ms window is
    our choice).
    """
    x, was_torch = _as_tensor(wave)
    if n_mfcc > n_mels:
        raise ValueError(f"expected n_mfcc <= n_mels, got n_mfcc={n_mfcc} n_mels={n_mels}")
    mel = AT.MelSpectrogram(sample_rate=sr, n_fft=n_fft, win_length=win_length,
                            hop_length=hop_length, f_min=f_min, f_max=f_max, n_mels=n_mels,
                            window_fn=_window_fn(window), power=2.0, center=center,
                            pad_mode="constant", norm="slaney", mel_scale="slaney")
    dct = AF.create_dct(n_mfcc, n_mels, norm="ortho")  # (n_mels, n_mfcc)
    with torch.no_grad():
        db = 10.0 * torch.log10(torch.clamp(mel(x), min=1e-10))
        if top_db is not None:  # per spectrogram (librosa clips against the whole array)
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
        y = torch.matmul(db.transpose(-1, -2), dct).transpose(-1, -2)
    return _back(y, was_torch)


def deltas(x, order: int = 1, width: int = 9):
    """Time derivative of order ``order`` of ``x`` ``(..., F, T)`` along the last axis.

    Uses the regression formula ``d_t = sum_n n (x_{t+n} - x_{t-n}) / (2 sum_n n^2)``,
    ``n = 1..(width-1)/2``, with edge frames replicated
    (:func:`torchaudio.functional.compute_deltas`). ``order=2`` applies it twice
    (delta-delta). The default width 9 is librosa's; in the interior the values
    equal ``librosa.feature.delta`` (the edges differ: librosa interpolates).
    The delta of a linear ramp ``a*t + b`` is ``a`` away from the edges.
    Returns the same shape as ``x``.
    """
    if order < 1:
        raise ValueError(f"expected order >= 1, got {order}")
    if width < 3 or width % 2 == 0:
        raise ValueError(f"expected an odd width >= 3, got {width}")
    y, was_torch = _as_tensor(x)
    if y.ndim < 2:
        raise ValueError(f"expected x of shape (..., F, T), got shape {tuple(y.shape)}")
    with torch.no_grad():
        for _ in range(order):
            y = AF.compute_deltas(y, win_length=width, mode="replicate")
    return _back(y, was_torch)


def stack_deltas(x, width: int = 9):
    """Stack ``x`` ``(F, T)`` with its delta and delta-delta: returns ``(3, F, T)``.

    Leading batch dims are kept: ``(..., F, T) -> (..., 3, F, T)``. This is the
    "three-channel spectrogram" (static, delta, delta-delta) of MCWSA-CMHA / [22].
    """
    d1 = deltas(x, 1, width)
    d2 = deltas(d1, 1, width)
    if isinstance(d1, torch.Tensor):
        return torch.stack([x.to(torch.float32), d1, d2], dim=-3)
    return np.stack([np.asarray(x, dtype=np.float32), d1, d2], axis=-3)
