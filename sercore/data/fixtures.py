"""Fixture corpora: a small copy of every corpus the book knows, in its official layout, with real media.

:func:`write_fixtures` writes one folder per corpus under a data root, named as the loaders
expect it there (each corpus's ``dirname``), in the layout of the real release (see every
loader's ``LAYOUT``), so ``SERCORE_DATA=<root>`` runs every notebook on every corpus. The
command ``sercore data fixtures DIR`` writes them for a person to look at.

Each corpus module writes its own copy: ``write_fixture(folder, speech) -> dict`` beside its
loader, declared in its ``CORPUS`` with the counts its loader reads back (``fixture``: utterances,
speakers, rows per label; :data:`EXPECTED`). This module holds the speech source and the driver;
:data:`FIXTURE_CORPORA` and :data:`EXPECTED` are derived from the declarations
(:mod:`sercore.registry`), so a new corpus with a writer is written here without an edit.

Speech comes from the synthetic corpus (:mod:`sercore.data.synthetic`): espeak-ng voices with
the emotion's prosody profile, so the label is learnable from the audio. Utterances whose
corpus speaks a fixed sentence list (Emo-DB, EMOVO) say that sentence; the others say the
synthetic corpus' text (carrier sentence, sometimes an emotion phrase) and that text is their
transcript. Faces for the video files are the synthetic corpus' drawn faces. ``seed`` fixes
every draw; the same seed gives the same corpora. Sample rates are the corpora's own where
documented (Emo-DB, IEMOCAP, MOSEI 16 kHz; EMOVO 48 kHz; MELD's AAC 48 kHz); MSP-IMPROV and
URDU are written at 16 kHz.

Caching: the speech is kept in ``<cache>/fixtures/speech-...`` (shared by every fixture root);
each corpus folder is written under a temporary name and renamed into place with a stamp file
``.sercore-fixture.json`` (version, seed, counts, sources of the media). A second call finds
the stamps and returns at once.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import cache_dir
from ..registry import LazyMapping
from . import synthetic as S

__all__ = ["FIXTURE_VERSION", "FIXTURE_CORPORA", "write_fixtures", "default_root", "stamp",
           "EXPECTED"]

#: bump when a change here changes what is written (part of every stamp)
FIXTURE_VERSION = 1
STAMP = ".sercore-fixture.json"

def _writers() -> dict:
    from ..registry import corpora

    return {name: c for name, c in corpora().items() if c.write_fixture is not None}


#: registry name -> folder name under the data root, in writing order (every corpus that declares a writer)
FIXTURE_CORPORA = LazyMapping(lambda: {n: c.dirname for n, c in _writers().items()}, "fixture corpus")
#: what each corpus' loader reads from its fixture: rows, speakers and rows per label (its ``fixture``)
EXPECTED = LazyMapping(lambda: {n: c.fixture for n, c in _writers().items()}, "fixture corpus")

SR = S.SAMPLE_RATE       # 16 kHz: the synthetic corpus' rate
FACE_FPS = S.VIDEO_FPS   # the drawn faces' frame rate


def default_root(seed: int = 0) -> Path:
    """Where the fixture corpora of ``seed`` live by default: ``<cache>/fixtures/v<version>-seed<seed>``."""
    return cache_dir() / "fixtures" / f"v{FIXTURE_VERSION}-seed{int(seed)}"


def stamp(folder: Path | str) -> dict | None:
    """The stamp of a fixture corpus folder (what was written, counts, media sources), or ``None``."""
    p = Path(folder) / STAMP
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return None


def write_fixtures(root: Path | str, corpora=None, *, seed: int = 0) -> dict[str, Path]:
    """Write the fixture corpora under ``root`` (one folder per corpus, see the module doc).

    root: the data root to fill (created when missing); ``SERCORE_DATA=root`` then finds them.
    corpora: registry names (keys of :data:`FIXTURE_CORPORA`: the corpora that declare a
    writer), ``None`` for all.
    seed: every draw depends on it.

    Returns ``{corpus name: its folder}`` in :data:`FIXTURE_CORPORA` order. A corpus whose folder
    holds a stamp of this version and seed is left as it is (idempotent: a second call is
    instant); another folder of that name is replaced. Raises ``ValueError`` for an unknown
    corpus name and :class:`~sercore.data.synthetic.EspeakUnavailableError` when speech cannot be
    synthesised.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if corpora is None:
        names = list(FIXTURE_CORPORA)
    else:
        if isinstance(corpora, str):
            corpora = [corpora]
        unknown = [c for c in corpora if c not in FIXTURE_CORPORA]
        if unknown:
            raise ValueError(f"unknown fixture corpus {unknown}; known: {list(FIXTURE_CORPORA)}")
        names = [c for c in FIXTURE_CORPORA if c in set(corpora)]
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    speech = None
    for name in names:
        folder = root / FIXTURE_CORPORA[name]
        st = stamp(folder)
        if st and st.get("version") == FIXTURE_VERSION and st.get("seed") == int(seed):
            out[name] = folder
            continue
        speech = speech or Speech(int(seed))
        tmp = root / f".{folder.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            info = _writers()[name].write_fixture(tmp, speech)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        info = {"corpus": name, "version": FIXTURE_VERSION, "seed": int(seed),
                "seconds": round(time.perf_counter() - t0, 2), **info}
        (tmp / STAMP).write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        try:
            os.replace(tmp, folder)
        except OSError:                      # another process put it there first
            shutil.rmtree(tmp, ignore_errors=True)
            if not stamp(folder):
                raise
        out[name] = folder
    return out


# =============================================================================== speech source

@dataclass
class Utt:
    """One synthesised utterance: 16 kHz float32 ``wave`` (T,), its ``text``, the synthetic speaker,
    the synthetic corpus' keys and the cached wav it was read from."""

    wave: np.ndarray
    text: str
    speaker: S.Speaker
    emotion: str
    keys: tuple
    source: Path

    @property
    def seconds(self) -> float:
        return len(self.wave) / SR

    def faces(self) -> np.ndarray:
        """The synthetic corpus' face frames for this utterance: uint8 ``(n, 48, 48)`` at 10 fps
        (cached next to the wav)."""
        path = self.source.with_suffix(".npy")
        if path.is_file():
            return np.load(path)
        n = max(1, int(round(self.seconds * FACE_FPS)))
        frames = S.render_face(self.speaker, self.emotion, n,
                               S._rng(self.speaker_seed, "video", *self.keys))
        S._write_npy(path, frames)
        return frames

    speaker_seed: int = 0


class Speech:
    """Synthetic utterances, cached as 16 kHz wavs under ``<cache>/fixtures/speech-...``.

    ``get(lang, i, emotion, k)`` is the synthetic corpus' utterance ``k`` of speaker ``i`` of
    ``lang`` in ``emotion`` (same keys, same draws as :mod:`sercore.data.synthetic`, with every
    supported emotion in the text settings); with ``sentence=(code, text)`` the speaker says that
    sentence instead (the keys then include the code)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.dir = (cache_dir() / "fixtures" /
                    f"speech-seed{seed}-g{S.GENERATOR_VERSION}-f{FIXTURE_VERSION}")
        self._speakers: dict[str, list] = {}

    def speaker(self, lang: str, i: int) -> S.Speaker:
        have = self._speakers.get(lang, [])
        if len(have) <= i:
            have = S.make_speakers(lang, max(i + 1, 12), self.seed)
            self._speakers[lang] = have
        return have[i]

    def get(self, lang: str, i: int, emotion: str, k: int, sentence: tuple[str, str] | None = None) -> Utt:
        import soundfile as sf

        spk = self.speaker(lang, i)
        keys = (lang, spk.id, emotion, str(k))
        if sentence is None:
            text, parts, _ = S._pick_text(S._rng(self.seed, "text", *keys), lang, emotion, spk.gender,
                                          S.SUPPORTED_EMOTIONS, S.DEFAULT_TEXT_CUE_SHARE,
                                          S.DEFAULT_MISLEADING_SHARE)
            name = f"{emotion}_{k:02d}.wav"
        else:
            code, text = sentence
            keys = keys + ("sentence", code)
            parts = [text.rstrip(" .?!")]
            name = f"{emotion}_{k:02d}_{code}.wav"
        path = self.dir / lang / spk.id / name
        if not path.is_file():
            r = S._rng(self.seed, "audio", *keys)
            intensity = float(np.exp(r.normal(0, 0.3)))
            ssml = S._ssml(lang, parts, r, S.PROFILES[emotion], intensity)
            S._write_wav(path, S.synthesize(spk, emotion, ssml, r, intensity))
        wave, sr = sf.read(str(path), dtype="float32")
        assert sr == SR, f"{path}: {sr} Hz, expected {SR}"
        return Utt(wave, text, spk, emotion, keys, path, speaker_seed=self.seed)


# =============================================================================== small helpers

def rng(seed: int, *keys: str) -> np.random.Generator:
    return S._rng(seed, "fixtures", *keys)


def write_wav(path: Path, wave: np.ndarray, rate: int = SR) -> Path:
    """16-bit PCM wav of a 16 kHz ``wave`` at ``rate`` Hz (resampled when it differs)."""
    import soundfile as sf

    if rate != SR:
        wave = S._resample(wave.astype(np.float64), SR, rate)
    wave = np.clip(wave, -1.0, 1.0).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, rate, subtype="PCM_16", format="WAV")
    return path


def canvas(faces: np.ndarray, fps: float, seconds: float, height: int, width: int,
            scale: int = 2) -> np.ndarray:
    """Video frames ``(N, height, width)`` uint8 at ``fps`` for ``seconds``: each face frame (10 fps)
    scaled by ``scale`` and centred; frame ``j`` shows the face of time ``j / fps``."""
    n = max(1, int(round(seconds * fps)))
    idx = np.minimum((np.arange(n) / fps * FACE_FPS).astype(int), len(faces) - 1)
    big = faces.repeat(scale, axis=1).repeat(scale, axis=2)
    fh, fw = big.shape[1:]
    out = np.zeros((n, height, width), np.uint8)
    y0, x0 = (height - fh) // 2, (width - fw) // 2
    out[:, y0:y0 + fh, x0:x0 + fw] = big[idx]
    return out


def media():
    from ..features import media
    return media


def tokens(text: str) -> list[str]:
    """Lower-case words without punctuation (how the SDK's word sequences spell them)."""
    return [w for w in re.sub(r"[^\w' ]+", " ", text.lower()).split() if w]


def clock(seconds: float) -> str:
    """``HH:MM:SS,mmm`` as in MELD's StartTime/EndTime columns."""
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def describe(paths: dict[str, Path]) -> list[dict]:
    """One row per written corpus for people: ``corpus``, ``folder``, ``utterances``, ``seconds``
    (the generation time recorded when it was written), read from the stamps."""
    rows = []
    for name, folder in paths.items():
        st = stamp(folder) or {}
        rows.append({"corpus": name, "folder": str(folder), "utterances": st.get("utterances"),
                     "seconds": st.get("seconds")})
    return rows


def report(paths: dict[str, Path]) -> str:
    """The table ``sercore data fixtures`` prints: corpus, folder, utterances, generation seconds."""
    rows = describe(paths)
    lines = [f"{'corpus':<14}{'utterances':>10}  {'seconds':>7}  folder"]
    for r in rows:
        lines.append(f"{r['corpus']:<14}{r['utterances'] if r['utterances'] is not None else '-':>10}  "
                     f"{r['seconds'] if r['seconds'] is not None else '-':>7}  {r['folder']}")
    if rows:
        lines.append(f"SERCORE_DATA={Path(rows[0]['folder']).parent} finds them "
                     "(seconds: when the corpus was generated; a rerun reuses it)")
    return "\n".join(lines)


def _main() -> None:   # python -m sercore.data.fixtures [DIR]: write and time everything
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default_root()
    t0 = time.perf_counter()
    paths = write_fixtures(root)
    for r in describe(paths):
        print(f"{r['corpus']:<14}{r['utterances']:>5}  {r['seconds']:>6}s  {r['folder']}")
    print(f"total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    _main()
