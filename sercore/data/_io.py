"""Small helpers the corpus loaders share: file checks, robust text reading.

Audio checks (:func:`check_audio`, also used by :func:`sercore.features.load_audio`)
refuse, naming the file and the cause: a path that is not a file, a file
libsndfile cannot read, no samples, fewer than :data:`MIN_AUDIO_SECONDS` of
audio, a truncated file (fewer sample bytes than its header declares, or a
decoder that stops early) and non-finite (NaN/Inf) samples.

They stay cheap on a whole corpus: integer PCM in a RIFF/WAVE file cannot hold
NaN or Inf and its completeness follows from the header's ``data`` size against
the file size, so such files are never decoded. Float files (which can hold
NaN/Inf) and compressed ones (whose completeness only decoding shows) are
decoded in blocks.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf

from .errors import CorpusNotFoundError, CorruptFileError

#: Shortest audio accepted, in seconds: 25 ms, one analysis window of every feature here
#: (400 samples at 16 kHz: the MFCC/log-mel ``n_fft`` and the receptive field of the
#: wav2vec 2.0 / HuBERT / WavLM convolutional front end). Anything shorter yields no frame.
MIN_AUDIO_SECONDS = 0.025

#: RIFF/WAVE subtypes that are integer-like (cannot be NaN/Inf) and of fixed size per frame
_PLAIN_PCM = {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ULAW", "ALAW"}
_FLOAT = {"FLOAT", "DOUBLE"}
_WAV_FORMATS = {"WAV", "WAVEX"}
_BLOCK = 1 << 16   # frames per block when decoding a whole file


def wav_shortfall(path: Path | str) -> tuple[int, int] | None:
    """``(declared, present)`` bytes of a RIFF/WAVE ``data`` chunk when the file holds fewer
    bytes than its header declares (a truncated copy); ``None`` when complete, when the
    size is left open by a streaming writer (0 or 0xFFFFFFFF), or when not RIFF/WAVE."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            for _ in range(256):                      # chunks before 'data': fmt, fact, LIST, PEAK ...
                fh.seek(pos)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, csize = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"data":
                    if csize in (0, 0xFFFFFFFF):
                        return None
                    present = size - (pos + 8)
                    return (csize, present) if present < csize else None
                pos += 8 + csize + (csize & 1)
    except OSError:
        return None
    return None


def audio_problem(path: Path | str, info=None, *, decode: bool | None = None) -> str | None:
    """Why the audio file ``path`` is unusable (a sentence), or ``None`` when it is sound.

    ``info`` is its ``soundfile.info`` when already read. ``decode``: ``True`` decodes
    every sample (finite? as many frames as the header says?), ``False`` checks the
    header only, ``None`` (default) decodes only what the header cannot vouch for:
    float samples (may be NaN/Inf) and anything but integer PCM in a WAV file.
    """
    path = Path(path)
    if path.is_dir():
        return "is a folder, not an audio file"
    if not path.exists():
        return "audio file not found"
    if info is None:
        try:
            info = sf.info(str(path))
        except Exception as exc:   # libsndfile raises its own error types
            return f"not a readable audio file ({exc})"
    if info.samplerate <= 0:
        return f"invalid sample rate ({info.samplerate})"
    if info.frames <= 0:
        return "audio file is empty (0 frames, no samples)"
    short = too_short(info.frames, info.samplerate)
    if short:
        return short
    gap = wav_shortfall(path)
    if gap is not None:
        return (f"truncated: its header declares {gap[0]:,} bytes of samples but only {gap[1]:,} "
                "are in the file")
    if decode is None:
        decode = info.subtype in _FLOAT or not (info.format in _WAV_FORMATS
                                                and info.subtype in _PLAIN_PCM)
    if not decode:
        return None
    n = bad = 0
    first_bad = None
    try:
        for block in sf.blocks(str(path), blocksize=_BLOCK, dtype="float32", always_2d=True):
            ok = np.isfinite(block).all(axis=1)
            if not ok.all():
                if first_bad is None:
                    first_bad = n + int(np.argmin(ok))
                bad += int((~ok).sum())
            n += block.shape[0]
    except Exception as exc:
        return f"cannot be fully decoded (stopped after {n:,} of {info.frames:,} frames: {exc})"
    if bad:
        return non_finite_reason(bad, first_bad, info.samplerate)
    if n < info.frames:
        return f"truncated: decoded only {n:,} of the {info.frames:,} frames its header declares"
    return None


def too_short(frames: int, sr: int, what: str = "audio") -> str | None:
    """The reason when ``frames`` samples at ``sr`` Hz are under :data:`MIN_AUDIO_SECONDS`."""
    if frames < MIN_AUDIO_SECONDS * sr - 1e-9:
        return (f"{what} is too short: {frames} sample(s) = {1000 * frames / sr:.1f} ms at {sr} Hz; "
                f"the minimum is {1000 * MIN_AUDIO_SECONDS:.0f} ms")
    return None


def non_finite_reason(count: int, first: int, sr: int) -> str:
    """The reason for ``count`` frames holding NaN/Inf, the first at frame ``first``."""
    return (f"holds non-finite samples (NaN or Inf) in {count:,} frame(s), the first at "
            f"{first / sr:.3f} s (frame {first:,}); features computed from it would be NaN")


def check_audio(path: Path | str) -> "sf._SoundFileInfo":
    """Header of a sound audio file; :class:`CorruptFileError` naming it and the cause otherwise.

    Refused: not a file, unreadable, empty, shorter than :data:`MIN_AUDIO_SECONDS`,
    truncated, or holding NaN/Inf samples (see :func:`audio_problem`).
    """
    path = Path(path)
    info = None
    if path.is_file():
        try:
            info = sf.info(str(path))
        except Exception as exc:  # libsndfile raises its own error types
            raise CorruptFileError(path, f"not a readable audio file ({exc})") from None
    reason = audio_problem(path, info)
    if reason:
        raise CorruptFileError(path, reason)
    return info


def check_mp4(path: Path | str, need: tuple[str, ...] = ("audio",)) -> None:
    """Check an MP4 clip: non-empty, the ISO-BMFF ``ftyp`` box first, and then, through PyAV
    (:func:`sercore.features.media.probe`), a container that opens, holds the stream types in
    ``need`` (default: an audio track, the clip's audio is what the loaders read) and decodes
    the first frame of each stream. :class:`CorruptFileError` naming the clip otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise CorruptFileError(path, f"cannot be read ({exc})") from None
    if not head:
        raise CorruptFileError(path, "video clip is empty (0 bytes)")
    if head[4:8] != b"ftyp":
        raise CorruptFileError(path, "not an MP4 file (no 'ftyp' box at the start)")
    from ..features.media import media_problem   # PyAV, imported only when a clip is checked

    reason = media_problem(path, need=need)
    if reason:
        raise CorruptFileError(path, reason)


def read_text(path: Path | str) -> str:
    """Text of a small file: UTF-8 (with or without BOM), else cp1252, else Latin-1.

    Raises :class:`CorruptFileError` when the file cannot be read or is empty.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(path, f"cannot be read ({exc})") from None
    if not raw.strip():
        raise CorruptFileError(path, "file is empty")
    if b"\x00" in raw[:4096]:
        raise CorruptFileError(path, "binary content where a text file was expected")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u20ac\u2122]")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 (``heâ\\x80\\x99s`` -> ``he’s``).

    Only applied when the string shows the tell-tale pattern and the round trip
    succeeds; otherwise the text is returned unchanged.
    """
    if not text or not _MOJIBAKE.search(text):
        return text
    for enc in ("latin-1", "cp1252"):
        try:
            return text.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def visible_files(folder: Path, suffixes: Iterable[str], log=None) -> list[Path]:
    """Files directly in ``folder`` with one of ``suffixes`` (case-insensitive), sorted.

    Hidden files (``.x``, macOS ``._x`` resource forks) are not corpus files and are left out.
    With a :class:`~sercore.data.errors.SkipLog` ``log``, a non-hidden entry that carries such
    a suffix but is not a file (a folder named ``x.wav``) is handed to it: an error naming it,
    or a counted skip.
    """
    suffixes = tuple(s.lower() for s in suffixes)
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.suffix.lower() not in suffixes:
            continue
        if p.is_file():
            out.append(p)
        elif log is not None:
            log.handle(CorruptFileError(p, f"is a folder (or other non-file) named like a "
                                           f"{p.suffix} file"))
    return out


def claim_id(seen: dict, utt_id: str, path: Path | str, where: str = "") -> None:
    """Record ``utt_id`` as read from ``path`` (``where``: e.g. ``line 12``) in ``seen``;
    :class:`CorruptFileError` naming both places when it was read before."""
    here = f"{path}" + (f" {where}" if where else "")
    if utt_id in seen:
        raise CorruptFileError(path, (f"{where}: " if where else "")
                               + f"duplicate utterance id {utt_id!r} (first read from {seen[utt_id]})")
    seen[utt_id] = here


def visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` that are not hidden, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def require_root(corpus: str, root: Path | str, layout: str) -> Path:
    """``root`` as a Path; :class:`CorpusNotFoundError` when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusNotFoundError(corpus, root, layout)
    return root


def media_fragment(path: Path | str, start: float | None, end: float | None) -> str:
    """``path#t=start,end`` (W3C media-fragment syntax) or the bare path when no times."""
    if start is None or end is None:
        return str(path)
    return f"{path}#t={start:.4f},{end:.4f}"


def split_media_fragment(value: str) -> tuple[str, float | None, float | None]:
    """Inverse of :func:`media_fragment`: ``(path, start, end)``; times ``None`` when absent."""
    m = re.fullmatch(r"(.*)#t=([0-9.]+),([0-9.]+)", value)
    if not m:
        return value, None, None
    return m.group(1), float(m.group(2)), float(m.group(3))


def join_notes(parts: Iterable[str | None]) -> str | None:
    """Join the non-empty note sentences with spaces; ``None`` when there are none."""
    parts = [p.strip() for p in parts if p and p.strip()]
    return " ".join(parts) if parts else None


def examples(items: list, n: int = 3) -> str:
    """``a, b, c (+5 more)`` for notes that name a few of many items."""
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")
