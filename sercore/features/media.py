"""Audio tracks and video frames of media files (mp4, avi, mkv ...), decoded with PyAV.

PyAV (``pip install av``) wraps FFmpeg and ships its codecs in the wheel, so MELD's
``dia*_utt*.mp4`` clips (H.264 + AAC), IEMOCAP's DivX dialogue ``.avi`` files and
MSP-IMPROV's ``.avi`` clips decode with nothing else installed.

- :func:`read_audio_track` gives the first audio stream as float32 ``(channels, T)`` at
  the stream's own rate, optionally only ``[start, end)`` seconds (seeking first, so a
  short part of a long dialogue is cheap). :func:`sercore.features.load_audio` calls it
  for :data:`MEDIA_SUFFIXES` and then averages channels and resamples like a wav.
- :func:`read_video_frames` samples the first video stream at ``fps`` frames per second
  between ``start`` and ``end``: uint8 ``(T, H, W)`` grey (or ``(T, H, W, 3)`` RGB),
  optionally resized.
- :func:`media_problem` / :func:`probe` check a file cheaply (open, find the streams,
  decode the first packet of each) for the loaders.
- :func:`write_clip` encodes a clip (used by :mod:`sercore.data.fixtures`).

Every failure is a :class:`sercore.data.CorruptFileError` naming the file and the cause
(``FileNotFoundError`` when the file does not exist).
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..data.errors import CorruptFileError

__all__ = ["MEDIA_SUFFIXES", "read_audio_track", "read_video_frames", "probe", "media_problem",
           "write_clip"]

#: file suffixes read through PyAV rather than libsndfile (containers libsndfile cannot open)
MEDIA_SUFFIXES = frozenset({".mp4", ".m4a", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".aac"})

#: seconds decoded before ``start`` after a seek (audio frames and key frames are found from there)
_PREROLL = 0.5


def _av():
    try:
        import av
    except ImportError as e:   # a dependency in pyproject.toml; this names it for broken installs
        raise ImportError("decoding mp4/avi/mkv needs PyAV (pip install av), a dependency of "
                          "sercore that ships FFmpeg's codecs") from e
    av.logging.set_level(av.logging.PANIC)   # errors come back as exceptions, not stderr noise
    return av


def _open(path: Path):
    av = _av()
    if not path.exists():
        raise FileNotFoundError(f"media file not found: {path}")
    if path.is_dir():
        raise CorruptFileError(path, "is a folder, not a media file")
    if path.stat().st_size == 0:
        raise CorruptFileError(path, "media file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except Exception as exc:  # av.error.FFmpegError subclasses, OSError
        raise CorruptFileError(path, f"not a readable media file ({_why(exc)})") from None


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _streams(container) -> str:
    return ", ".join(f"{s.type} {s.codec_context.name}" for s in container.streams) or "none"


def _to_float(frame) -> np.ndarray:
    """An audio frame as float32 ``(channels, n)`` in [-1, 1]."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        arr = arr.reshape(-1, channels).T
    if arr.dtype == np.uint8:
        return ((arr.astype(np.float32) - 128.0) / 128.0)
    if arr.dtype.kind == "i":
        return arr.astype(np.float32) / float(2 ** (8 * arr.dtype.itemsize - 1))
    return arr.astype(np.float32, copy=False)


def read_audio_track(path: str | Path, start: float | None = None,
                     end: float | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream of ``path``: ``(wave, sr)``, ``wave`` float32 ``(channels, T)``.

    ``start``/``end``: seconds from the start of the stream (``None``: its start / end); an
    ``end`` past the end is clipped to it. Raises ``FileNotFoundError`` for a missing file and
    :class:`CorruptFileError` naming the file when it cannot be opened, has no audio track,
    cannot be decoded, or holds no samples in ``[start, end)``.
    """
    path = Path(path)
    if start is not None and start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start} for {path}")
    if start is not None and end is not None and end <= start:
        raise CorruptFileError(path, f"empty segment start={start}s end={end}s")
    with _open(path) as container:
        if not container.streams.audio:
            raise CorruptFileError(path, f"has no audio track (streams: {_streams(container)})")
        stream = container.streams.audio[0]
        sr = int(stream.codec_context.sample_rate or stream.rate or 0)
        if sr <= 0:
            raise CorruptFileError(path, "its audio track has no sample rate")
        t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        first = 0 if start is None else int(round(start * sr))
        stop = None if end is None else int(round(end * sr))
        seeked = False
        if start is not None and start > 2 * _PREROLL:
            try:
                container.seek(int((t0 + start - _PREROLL) / stream.time_base), stream=stream,
                               backward=True, any_frame=False)
                seeked = True
            except Exception:   # not seekable: decode from the start
                pass
        chunks, pos, at = [], None, 0
        try:
            for frame in container.decode(stream):
                data = _to_float(frame)
                if pos is None:
                    pos = (int(round((float(frame.time) - t0) * sr))
                           if frame.time is not None and (seeked or frame.time > t0) else 0)
                    at = pos
                lo, hi = at, at + data.shape[1]
                at = hi
                if hi <= first:
                    continue
                chunks.append(data[:, max(0, first - lo):data.shape[1] if stop is None
                                   else max(0, min(data.shape[1], stop - lo))])
                if stop is not None and hi >= stop:
                    break
        except Exception as exc:
            if isinstance(exc, CorruptFileError):
                raise
            raise CorruptFileError(path, f"its audio track cannot be fully decoded (stopped "
                                         f"after {at / sr:.3f} s: {_why(exc)})") from None
        if pos is not None and pos > first:
            # the stream starts after `first` (or a seek overshot): pad the gap with silence
            gap = min(pos, stop if stop is not None else pos) - first
            if gap > 0 and chunks:
                chunks.insert(0, np.zeros((chunks[0].shape[0], gap), np.float32))
        if not chunks or sum(c.shape[1] for c in chunks) == 0:
            what = "audio track holds no samples" if start is None and end is None else (
                f"audio track holds no samples in start={start}s end={end}s "
                f"(it ends at {at / sr:.3f} s)")
            raise CorruptFileError(path, what)
        wave = np.concatenate(chunks, axis=1)
    return np.ascontiguousarray(wave, dtype=np.float32), sr


def read_video_frames(path: str | Path, fps: float = 10.0, start: float | None = None,
                      end: float | None = None, size: int | tuple[int, int] | None = None,
                      gray: bool = True) -> np.ndarray:
    """Frames of the first video stream of ``path`` sampled at ``fps`` frames per second.

    The ``i``-th frame returned is the one shown at time ``start + i / fps`` (the last frame
    whose time is at or before it), for every such time before ``end`` (``None``: the end of
    the stream) and before the stream ends. ``size``: ``n`` or ``(height, width)`` to resize
    to (area interpolation); ``None`` keeps the stream's size. Returns uint8 ``(T, H, W)``
    when ``gray`` else ``(T, H, W, 3)`` RGB. :class:`CorruptFileError` naming the file when it
    cannot be opened, has no video track, cannot be decoded, or yields no frame in the range.
    """
    path = Path(path)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    start = 0.0 if start is None else float(start)
    if start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start} for {path}")
    end = math.inf if end is None else float(end)
    if end <= start:
        raise CorruptFileError(path, f"empty segment start={start}s end={end}s")
    if isinstance(size, int):
        size = (size, size)
    fmt = "gray" if gray else "rgb24"
    with _open(path) as container:
        if not container.streams.video:
            raise CorruptFileError(path, f"has no video track (streams: {_streams(container)})")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if start > 2 * _PREROLL:
            try:
                container.seek(int((t0 + start - _PREROLL) / stream.time_base), stream=stream,
                               backward=True, any_frame=False)
            except Exception:
                pass
        # prev: the last decoded frame, converted (resized, gray) only when a target time shows it: a 30 fps
        # stream sampled at 10 fps converts a third of its frames
        out, k, prev, shown, n_dec = [], 0, None, None, 0
        eps = 1e-6

        def target(i: int) -> float:
            return start + i / fps

        def convert(fr):
            if size is not None:
                fr = fr.reformat(width=size[1], height=size[0], format=fmt, interpolation="AREA")
            return fr.to_ndarray(format=fmt)

        try:
            for frame in container.decode(stream):
                n_dec += 1
                t = (float(frame.time) - t0) if frame.time is not None else (n_dec - 1) / float(
                    stream.average_rate or fps)
                # every target time before this frame's time is shown by the previous frame
                while target(k) < t - eps and target(k) < end:
                    if prev is not None:
                        shown = convert(prev) if shown is None else shown
                        out.append(shown)
                    k += 1
                if target(k) >= end:
                    break
                prev, shown = frame, None
            else:
                # after the last frame: its image stays until the stream's duration
                dur = _duration(container, stream, t0)
                while prev is not None and target(k) < min(end, dur) - eps:
                    shown = convert(prev) if shown is None else shown
                    out.append(shown)
                    k += 1
        except Exception as exc:
            if isinstance(exc, CorruptFileError):
                raise
            raise CorruptFileError(path, f"its video track cannot be fully decoded (after "
                                         f"{n_dec} frames: {_why(exc)})") from None
        if not out:
            raise CorruptFileError(path, f"no video frame between {start}s and {end}s "
                                         f"({n_dec} frame(s) decoded)")
    return np.stack(out)


def _duration(container, stream, t0: float) -> float:
    """Seconds of ``stream`` (its duration, else the container's), ``inf`` when unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000 - t0
    return math.inf


def probe(path: str | Path, *, need: tuple[str, ...] = ("audio",)) -> dict:
    """Open ``path``, check it has the stream types in ``need`` (``"audio"``, ``"video"``) and
    decode the first frame of each; returns ``{"audio": (sample rate, channels) | None,
    "video": (width, height, fps) | None, "duration": seconds | None}``.
    :class:`CorruptFileError` naming the file otherwise (``FileNotFoundError`` when absent)."""
    path = Path(path)
    with _open(path) as container:
        info = {"audio": None, "video": None,
                "duration": None if container.duration is None else container.duration / 1_000_000}
        for kind in need:
            if not getattr(container.streams, kind):
                raise CorruptFileError(path, f"has no {kind} track (streams: {_streams(container)})")
        for kind in ("audio", "video"):
            streams = getattr(container.streams, kind)
            if not streams:
                continue
            s = streams[0]
            try:
                container.seek(0)
                got = next(iter(container.decode(s)), None)
            except Exception as exc:
                raise CorruptFileError(path, f"its {kind} track cannot be decoded ({_why(exc)})") from None
            if got is None:
                raise CorruptFileError(path, f"its {kind} track holds no frames")
            if kind == "audio":
                info["audio"] = (int(s.codec_context.sample_rate), len(got.layout.channels))
            else:
                info["video"] = (int(got.width), int(got.height),
                                 float(s.average_rate) if s.average_rate else None)
    return info


def media_problem(path: str | Path, need: tuple[str, ...] = ("audio",)) -> str | None:
    """Why ``path`` is not a usable media file (a sentence), or ``None`` (see :func:`probe`)."""
    try:
        probe(path, need=need)
    except FileNotFoundError:
        return "media file not found"
    except CorruptFileError as exc:
        return exc.reason
    return None


def write_clip(path: str | Path, *, audio: np.ndarray | None = None, sr: int | None = None,
               frames: np.ndarray | None = None, fps: float = 25.0, video_codec: str = "libx264",
               audio_codec: str = "aac", audio_rate: int | None = None, channels: int = 1,
               codec_tag: str | None = None) -> Path:
    """Encode a clip: ``audio`` float32 ``(T,)`` at ``sr`` Hz and/or ``frames`` uint8 ``(N, H, W)``
    grey or ``(N, H, W, 3)`` RGB at ``fps``. The container follows the suffix (``.mp4``,
    ``.avi``, ``.mkv``). ``audio_rate``: the track's rate (``None``: ``sr``; resampled with
    scipy's polyphase filter otherwise); ``channels``: 1 or 2 (the mono signal on both); ``codec_tag``: a
    FourCC for the video stream (``DX50`` for DivX in an avi). Written atomically; returns ``path``.
    """
    from ..paths import atomic_write

    av = _av()
    path = Path(path)
    if audio is None and frames is None:
        raise ValueError("write_clip needs audio, frames or both")
    fmt = {".mp4": "mp4", ".m4a": "mp4", ".avi": "avi", ".mkv": "matroska", ".mov": "mov"}.get(
        path.suffix.lower())
    if fmt is None:
        raise ValueError(f"write_clip: unsupported container suffix {path.suffix!r} of {path}")

    def write(tmp: Path) -> None:
        with av.open(str(tmp), mode="w", format=fmt) as out:
            out.metadata.clear()
            vs = as_ = None
            if frames is not None:
                f = np.asarray(frames)
                if f.dtype != np.uint8 or f.ndim not in (3, 4):
                    raise ValueError(f"frames must be uint8 (N, H, W) or (N, H, W, 3), got "
                                     f"{f.dtype} {f.shape}")
                vs = out.add_stream(video_codec, rate=Fraction(fps).limit_denominator(1001))
                vs.width, vs.height = int(f.shape[2]), int(f.shape[1])
                vs.pix_fmt = "yuv420p"
                vs.codec_context.thread_count = 1
                if video_codec in ("libx264", "h264"):
                    vs.codec_context.options = {"preset": "ultrafast", "crf": "23"}
                if codec_tag:
                    vs.codec_context.codec_tag = codec_tag
            if audio is not None:
                if sr is None:
                    raise ValueError("write_clip: audio needs its sample rate sr")
                rate = int(audio_rate or sr)
                a = np.asarray(audio, dtype=np.float32)
                if rate != sr:          # polyphase resampling (scipy; this module needs no torch)
                    from math import gcd

                    from scipy.signal import resample_poly
                    g = gcd(int(sr), rate)
                    a = resample_poly(a, rate // g, int(sr) // g).astype(np.float32)
                a = np.clip(a, -1.0, 1.0)
                as_ = out.add_stream(audio_codec, rate=rate)
                as_.codec_context.layout = "stereo" if channels == 2 else "mono"
                if audio_codec == "aac":
                    as_.codec_context.options = {"aac_coder": "fast"}    # 2-3x faster than twoloop
            if vs is not None:
                for i, img in enumerate(f):
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img),
                                                    format="gray" if img.ndim == 2 else "rgb24")
                    vf.pts = i
                    for pkt in vs.encode(vf):
                        out.mux(pkt)
                for pkt in vs.encode(None):
                    out.mux(pkt)
            if as_ is not None:
                cc = as_.codec_context
                n = cc.frame_size or 1024
                sfmt = cc.format.name
                layout = "stereo" if channels == 2 else "mono"
                for off in range(0, len(a), n):
                    block = a[off:off + n]
                    planes = np.repeat(block[None, :], channels, axis=0)         # (ch, n)
                    if sfmt.startswith("s16"):
                        planes = np.round(planes * 32767).astype(np.int16)
                    elif sfmt.startswith("s32"):
                        planes = np.round(planes * 2147483647.0).astype(np.int32)
                    if not sfmt.endswith("p"):                                     # packed
                        planes = planes.T.reshape(1, -1)
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format=sfmt,
                                                    layout=layout)
                    af.sample_rate = rate
                    af.pts = off
                    af.time_base = Fraction(1, rate)
                    for pkt in as_.encode(af):
                        out.mux(pkt)
                for pkt in as_.encode(None):
                    out.mux(pkt)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return path
