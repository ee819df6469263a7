"""Small helpers the corpus loaders share: file checks, robust text reading.

Audio checks (:func:`check_audio`, also used by :func:`sercore.features.load_audio`)
refuse, naming the file and the cause: a path that is not a file, an empty file or
one that holds text, a file libsndfile cannot read, no samples, a sampling rate
outside 4-192 kHz or one its own WAVE header contradicts, fewer than
:data:`MIN_AUDIO_SECONDS` of audio, a truncated file (fewer sample bytes than its
header declares, or a decoder that stops early) and non-finite (NaN/Inf) samples.

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


#: sampling rates a speech file may have: from telephone-band 4 kHz to studio 192 kHz
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4_000, 192_000
#: WAVE format tags whose byte rate is exactly sample rate x block align (PCM, IEEE float, A-law, mu-law,
#: extensible)
_FIXED_RATE_TAGS = {0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE}
#: how audio formats start; a file with one of these suffixes that holds text is not audio
_TEXT_HEADED = (b"NIST_1A",)          # NIST SPHERE headers are text (TIMIT, Switchboard)


def content_problem(path: Path | str) -> str | None:
    """What a file plainly is not, from its first bytes: empty, or text where audio belongs (a text file
    named ``x.mp3``; libsndfile would call it "not a regular file"). None otherwise."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not head:
        return "audio file is empty (0 bytes)"
    if head.startswith(_TEXT_HEADED) or b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:           # not a multi-byte character cut by the 512-byte read
            return None
        text = head[:e.start].decode("utf-8")
    if text and all(c.isprintable() or c in "\t\r\n\f\v" for c in text):
        shown = " ".join(text.split())[:40]
        return f"holds text, not audio (it starts with {shown!r}); is it the file its {Path(path).suffix} name says?"
    return None


def wav_format(path: Path | str) -> dict | None:
    """The ``fmt `` chunk of a RIFF/WAVE file: ``{"tag", "channels", "rate", "byte_rate", "block_align",
    "bits", "data_bytes"}`` (``data_bytes`` None when no ``data`` chunk follows); None when not RIFF/WAVE."""
    out: dict = {}
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            for _ in range(256):
                fh.seek(pos)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    break
                cid, csize = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"fmt " and csize >= 16:
                    f = fh.read(16)
                    if len(f) < 16:
                        return None
                    out = {"tag": int.from_bytes(f[0:2], "little"), "channels": int.from_bytes(f[2:4], "little"),
                           "rate": int.from_bytes(f[4:8], "little"), "byte_rate": int.from_bytes(f[8:12], "little"),
                           "block_align": int.from_bytes(f[12:14], "little"),
                           "bits": int.from_bytes(f[14:16], "little"), "data_bytes": None}
                elif cid == b"data":
                    if out:
                        out["data_bytes"] = csize
                    break
                pos += 8 + csize + (csize & 1)
    except OSError:
        return None
    return out or None


def rate_problem(path: Path | str, samplerate: int, frames: int | None = None) -> str | None:
    """Why the sampling rate a file declares cannot be trusted, or None: outside
    :data:`MIN_SAMPLE_RATE`..:data:`MAX_SAMPLE_RATE`, or, for a WAVE file, disagreeing with the rest of
    its own header (its byte rate and block size give another rate, so the duration the decoder derives
    from the declared rate is not the file's: e.g. a 22.05 kHz recording relabelled 8 kHz)."""
    sr = int(samplerate)
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        return (f"sample rate {sr:,} Hz is outside {MIN_SAMPLE_RATE // 1000}-{MAX_SAMPLE_RATE // 1000} kHz: "
                "its header is damaged or it is not a speech recording")
    fmt = wav_format(path)
    if fmt and fmt["tag"] in _FIXED_RATE_TAGS and fmt["block_align"] > 0 and fmt["byte_rate"] > 0:
        implied = fmt["byte_rate"] / fmt["block_align"]
        if abs(implied - fmt["rate"]) > 0.5 or (fmt["rate"] != sr):
            n = frames if frames is not None else (fmt["data_bytes"] or 0) // fmt["block_align"]
            by_rate = f"{n / sr:.3f} s" if n else "?"
            by_bytes = f"{n / implied:.3f} s" if n and implied else "?"
            return (f"its header disagrees with itself: sample rate {fmt['rate']:,} Hz, but {fmt['byte_rate']:,} "
                    f"bytes per second at {fmt['block_align']} bytes per frame is {implied:,.0f} Hz (the audio "
                    f"lasts {by_rate} by one and {by_bytes} by the other); the header was edited or damaged")
        bits = fmt["bits"]
        if fmt["tag"] in (0x0001, 0x0003) and fmt["channels"] > 0 and bits % 8 == 0 and bits > 0 \
                and fmt["block_align"] != fmt["channels"] * bits // 8:
            return (f"its header disagrees with itself: {fmt['channels']} channel(s) of {bits}-bit samples "
                    f"need {fmt['channels'] * bits // 8} bytes per frame, it says {fmt['block_align']}")
    return None


def unreadable_reason(path: Path | str, exc: Exception) -> str:
    """Why libsndfile cannot open ``path``, for people: what the file holds when its first bytes tell
    (:func:`content_problem`), else libsndfile's message without its misleading guesses (it says "File
    does not exist or is not a regular file" of a file that exists but is not audio)."""
    seen = content_problem(path)
    if seen:
        return seen
    msg = str(exc).replace(f"Error opening {str(path)!r}: ", "").strip()
    if "does not exist or is not a regular file" in msg and Path(path).is_file():
        msg = f"libsndfile cannot decode it as {Path(path).suffix or 'audio'} (not audio of that format, or damaged)"
    return f"not a readable audio file ({msg})"


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
        seen = content_problem(path)
        if seen:
            return seen
        try:
            info = sf.info(str(path))
        except Exception as exc:   # libsndfile raises its own error types
            return unreadable_reason(path, exc)
    if info.samplerate <= 0:
        return f"invalid sample rate ({info.samplerate})"
    if info.frames <= 0:
        return "audio file is empty (0 frames, no samples)"
    bad_rate = rate_problem(path, info.samplerate, info.frames)
    if bad_rate:
        return bad_rate
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
        seen = content_problem(path)
        if seen:
            raise CorruptFileError(path, seen)
        try:
            info = sf.info(str(path))
        except Exception as exc:  # libsndfile raises its own error types
            raise CorruptFileError(path, unreadable_reason(path, exc)) from None
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
