"""Audio input: reading, resampling, clipping/looping and segmenting waveforms.

Every function works on mono float32 waveforms of shape ``(T,)`` (``T``
samples at rate ``sr``). Files are read with :mod:`soundfile` (any rate, any
channel count libsndfile understands); the audio track of media containers (``.mp4``,
``.avi``, ``.mkv`` ...: :data:`sercore.features.media.MEDIA_SUFFIXES`) is decoded with PyAV
(:mod:`sercore.features.media`). Files are refused when not sound (see
:func:`load_audio`: shorter than :data:`MIN_AUDIO_SECONDS`, truncated, NaN/Inf, no audio
track ...), and resampled with
:func:`torchaudio.functional.resample` (windowed-sinc, computed on CPU).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from ..data._io import (MIN_AUDIO_SECONDS, content_problem, non_finite_reason, rate_problem,
                        split_media_fragment, too_short, unreadable_reason, wav_shortfall)
from ..data.errors import CorruptFileError
from .media import MEDIA_SUFFIXES, read_audio_track

__all__ = ["AudioLoadError", "MIN_AUDIO_SECONDS", "load_audio", "resample", "clip_or_pad", "segment"]


class AudioLoadError(CorruptFileError, RuntimeError):
    """An audio file could not be read, or is not sound audio; the message names the file.

    A :class:`sercore.data.CorruptFileError` (so code that handles the package's corrupt-file
    error handles this one) and, as before, a ``RuntimeError``. ``path`` and ``reason`` (the
    cause alone, as :class:`~sercore.data.CorruptFileError` words it) are set when known.
    """

    def __init__(self, message: str, path: str | Path | None = None, reason: str | None = None):
        RuntimeError.__init__(self, message)
        self.path = None if path is None else Path(path)
        self.reason = reason or message


def resample(wave: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    """Resample ``wave`` ``(..., T)`` from ``orig_sr`` to ``sr``; returns float32 ``(..., T')``.

    ``T' = ceil(T * sr / orig_sr)`` (torchaudio's convention).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if int(orig_sr) == int(sr):
        return wave
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), int(orig_sr), int(sr))
    return out.numpy().astype(np.float32, copy=False)


def load_audio(path: str | Path, sr: int | None = 16000, start: float | None = None,
               end: float | None = None, mono: bool = True) -> np.ndarray:
    """Read ``path`` (optionally the part ``[start, end)`` in seconds) at rate ``sr``.

    Parameters
    ----------
    path:   any file libsndfile reads (wav, flac, ogg, ...), at any sampling rate, or a media
            container (:data:`~sercore.features.media.MEDIA_SUFFIXES`: mp4, avi, mkv ...) whose
            first audio track is decoded with PyAV. A W3C media fragment ``file#t=s,e`` (as
            manifests write the ``video`` column) reads ``[s, e)`` of ``file``; it cannot be
            combined with ``start``/``end``.
    sr:     target rate in Hz; ``None`` keeps the file's own rate.
    start, end: seconds inside the file; ``None`` means the file's start / end.
            An ``end`` past the end of the file is clipped to the file's end
            (corpus time stamps often overshoot by a few milliseconds); a
            ``start`` at or past the end, or ``end <= start``, is an error.
    mono:   average all channels into one.

    Returns
    -------
    ``np.ndarray`` float32 of shape ``(T,)`` when ``mono`` (else ``(channels, T)``),
    values in ``[-1, 1]`` as soundfile gives them; always finite.

    Raises
    ------
    FileNotFoundError  when the file does not exist;
    AudioLoadError     (a :class:`~sercore.data.CorruptFileError`) naming the file and the
                       cause when: it is a folder; it is empty or holds text; libsndfile (or,
                       for a media container, PyAV) cannot read it; its sampling rate is
                       outside 4-192 kHz or contradicted by its own WAVE header; a container has no audio track or cannot be
                       decoded; it holds no samples; it is truncated (fewer sample
                       bytes than its header declares, or the decoder stops early); the part
                       read is shorter than :data:`MIN_AUDIO_SECONDS` (25 ms); or any sample
                       read is NaN or Inf (features of it would be NaN and train silently).
    """
    path = Path(path)
    if not path.exists() and "#t=" in str(path):
        base, fs, fe = split_media_fragment(str(path))
        if fs is not None:
            if start is not None or end is not None:
                raise ValueError(f"{path}: a media fragment (#t=start,end) and start/end "
                                 f"({start}, {end}) cannot both be given")
            path, start, end = Path(base), fs, fe
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioLoadError(f"cannot read audio file {path}: is a folder, not an audio file",
                             path=path, reason="is a folder, not an audio file")
    if path.suffix.lower() in MEDIA_SUFFIXES:
        return _load_media(path, sr, start, end, mono)
    seen = content_problem(path)
    if seen:
        raise AudioLoadError(f"cannot read audio file {path}: {seen}", path=path, reason=seen)
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises its own error types
        reason = unreadable_reason(path, e)
        raise AudioLoadError(f"cannot read audio file {path}: {reason}", path=path, reason=reason) from None
    native_sr, n_frames = int(info.samplerate), int(info.frames)
    if n_frames <= 0:
        raise AudioLoadError(f"audio file {path} contains no samples", path=path,
                             reason="audio file is empty (0 frames, no samples)")
    bad_rate = rate_problem(path, native_sr, n_frames)
    if bad_rate:
        raise AudioLoadError(f"audio file {path}: {bad_rate}", path=path, reason=bad_rate)
    gap = wav_shortfall(path)
    if gap is not None:
        reason = (f"truncated: its header declares {gap[0]:,} bytes of samples but only "
                  f"{gap[1]:,} are in the file")
        raise AudioLoadError(f"audio file {path} is {reason}", path=path, reason=reason)

    first = 0 if start is None else int(round(float(start) * native_sr))
    stop = n_frames if end is None else min(int(round(float(end) * native_sr)), n_frames)
    if first < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start} for {path}")
    if first >= n_frames:
        raise AudioLoadError(f"start={start}s is at or past the end of {path} "
                             f"({n_frames / native_sr:.3f}s long)", path=path,
                             reason=f"start={start}s is at or past the end")
    if stop <= first:
        raise AudioLoadError(f"empty segment start={start}s end={end}s requested from {path}",
                             path=path, reason=f"empty segment start={start}s end={end}s")
    part = "audio" if start is None and end is None else f"segment start={start}s end={end}s"
    short = too_short(stop - first, native_sr, part)
    if short:
        raise AudioLoadError(f"audio file {path}: {short}", path=path, reason=short)
    try:
        data, _ = sf.read(str(path), start=first, stop=stop, dtype="float32", always_2d=True)
    except Exception as e:
        reason = f"cannot be fully decoded ({e})"
        raise AudioLoadError(f"audio file {path} {reason}", path=path, reason=reason) from e
    if data.shape[0] == 0:
        raise AudioLoadError(f"audio file {path} gave no samples for start={start} end={end}",
                             path=path, reason="no samples decoded")
    if data.shape[0] < stop - first:
        reason = (f"truncated: decoded only {data.shape[0]:,} of the {stop - first:,} frames "
                  "its header declares")
        raise AudioLoadError(f"audio file {path} is {reason}", path=path, reason=reason)
    finite = np.isfinite(data).all(axis=1)
    if not finite.all():
        reason = non_finite_reason(int((~finite).sum()), first + int(np.argmin(finite)), native_sr)
        raise AudioLoadError(f"audio file {path} {reason}", path=path, reason=reason)
    wave = data.T  # (channels, T)
    if mono:
        wave = wave.mean(axis=0)
    if sr is not None:
        wave = resample(wave, native_sr, sr)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _load_media(path: Path, sr: int | None, start: float | None, end: float | None,
                mono: bool) -> np.ndarray:
    """:func:`load_audio` for a media container: its first audio track through PyAV."""
    if start is not None and start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start} for {path}")
    try:
        data, native_sr = read_audio_track(path, start, end)           # (channels, T)
    except CorruptFileError as exc:
        raise AudioLoadError(f"cannot read the audio track of {path}: {exc.reason}", path=path,
                             reason=exc.reason) from None
    bad_rate = rate_problem(path, native_sr)
    if bad_rate:
        raise AudioLoadError(f"audio file {path}: {bad_rate}", path=path, reason=bad_rate)
    part = "audio" if start is None and end is None else f"segment start={start}s end={end}s"
    short = too_short(data.shape[1], native_sr, part)
    if short:
        raise AudioLoadError(f"audio file {path}: {short}", path=path, reason=short)
    finite = np.isfinite(data).all(axis=0)
    if not finite.all():
        first = int(round((start or 0) * native_sr)) + int(np.argmin(finite))
        reason = non_finite_reason(int((~finite).sum()), first, native_sr)
        raise AudioLoadError(f"audio file {path} {reason}", path=path, reason=reason)
    wave = data.mean(axis=0) if mono else data
    if sr is not None:
        wave = resample(wave, native_sr, sr)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _loop_to(wave: np.ndarray, n: int) -> np.ndarray:
    """Repeat ``wave`` (T,) end to end and cut at ``n`` samples."""
    reps = math.ceil(n / wave.shape[-1])
    return np.tile(wave, reps)[:n]


def _extend(wave: np.ndarray, n: int, mode: str) -> np.ndarray:
    if mode == "loop":
        return _loop_to(wave, n)
    if mode == "zero":
        return np.pad(wave, (0, n - wave.shape[-1]))
    raise ValueError(f"pad mode must be 'loop' or 'zero', got {mode!r}")


def clip_or_pad(wave: np.ndarray, sr: int, max_s: float | None = None,
                min_s: float | None = None, mode: str = "loop") -> np.ndarray:
    """Clip a long ``wave`` (T,) to ``max_s`` seconds and extend a short one to ``min_s``.

    Clipping keeps the first ``round(max_s * sr)`` samples. Extending repeats
    the whole utterance end to end (``mode="loop"``, CA-SER's "concatenating
    the audio until it reaches 3 seconds") or appends zeros (``mode="zero"``).
    Returns float32 ``(T',)``.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (T,), got shape {wave.shape}")
    if wave.shape[0] == 0:
        raise ValueError("expected a non-empty waveform, got 0 samples")
    if max_s is not None and min_s is not None and min_s > max_s:
        raise ValueError(f"expected min_s <= max_s, got min_s={min_s} max_s={max_s}")
    if max_s is not None:
        wave = wave[: max(1, int(round(max_s * sr)))]
    if min_s is not None:
        n = int(round(min_s * sr))
        if wave.shape[0] < n:
            wave = _extend(wave, n, mode)
    return wave


def segment(wave: np.ndarray, sr: int, seg_s: float, hop_s: float, pad: str = "loop",
            tail: str = "end") -> np.ndarray:
    """Cut ``wave`` (T,) into overlapping windows of ``seg_s`` seconds every ``hop_s`` seconds.

    Returns float32 ``(n_seg, seg_len)`` with ``seg_len = round(seg_s * sr)``.

    - An utterance no longer than one window is extended to exactly one window
      (``pad="loop"``: repeated end to end, CTMAM's "loop filling"; ``"zero"``:
      zeros appended), giving ``n_seg = 1``.
    - A longer one gives the full windows starting at ``0, hop, 2*hop, ...``
      (``1 + (T - seg_len) // hop`` of them). When these leave a tail of audio
      uncovered, ``tail`` decides: ``"end"`` (default) adds one more window
      aligned with the end of the utterance (``[T - seg_len, T)``, so it overlaps
      its neighbour more than ``hop`` does, but every window is real audio and
      no audio is dropped); ``"drop"`` discards the tail; ``"pad"`` adds a window
      at the next hop position filled up with ``pad``.

    CTMAM: ``segment(w, 16000, 1.8, 0.2)`` (1.8 s windows, 1.6 s overlap).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (T,), got shape {wave.shape}")
    if wave.shape[0] == 0:
        raise ValueError("expected a non-empty waveform, got 0 samples")
    seg_len, hop = int(round(seg_s * sr)), int(round(hop_s * sr))
    if seg_len <= 0 or hop <= 0:
        raise ValueError(f"expected seg_s and hop_s of at least one sample, got seg_s={seg_s} "
                         f"hop_s={hop_s} at sr={sr}")
    if tail not in ("end", "drop", "pad"):
        raise ValueError(f"tail must be 'end', 'drop' or 'pad', got {tail!r}")
    n = wave.shape[0]
    if n <= seg_len:
        return _extend(wave, seg_len, pad)[None, :]
    n_full = 1 + (n - seg_len) // hop
    starts = [i * hop for i in range(n_full)]
    segs = [wave[s: s + seg_len] for s in starts]
    covered = starts[-1] + seg_len
    if covered < n:
        if tail == "end":
            segs.append(wave[n - seg_len:])
        elif tail == "pad":
            segs.append(_extend(wave[starts[-1] + hop:], seg_len, pad))
    return np.stack(segs).astype(np.float32, copy=False)
