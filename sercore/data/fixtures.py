"""Fixture corpora: a small copy of every corpus the book knows, in its official layout, with real media.

:func:`write_fixtures` writes one folder per corpus under a data root, named as the loaders
expect it there (``emodb/``, ``iemocap/``, ``iemocap-text/``, ``meld/``, ``mosei/``,
``msp-improv/``, ``emovo/``, ``urdu/``), each in the layout of the real release (see every
loader's ``LAYOUT``), so ``SERCORE_DATA=<root>`` runs every notebook on every corpus. The
command ``sercore data fixtures DIR`` writes them for a person to look at.

Speech comes from the synthetic corpus (:mod:`sercore.data.synthetic`): espeak-ng voices with
the emotion's prosody profile, so the label is learnable from the audio. Utterances whose
corpus speaks a fixed sentence list (Emo-DB, EMOVO) say that sentence; the others say the
synthetic corpus' text (carrier sentence, sometimes an emotion phrase) and that text is their
transcript. Faces for the video files are the synthetic corpus' drawn faces.

What is written (``seed`` fixes every draw; the same seed gives the same corpora)
-------------------------------------------------------------------------------
- ``emodb``: 10 speakers (the corpus' own codes and sexes) x 7 emotions x 2 sentences of the
  corpus' ten, 16 kHz wavs: 140 files ``wav/<spk><text><emo><version>.wav``.
- ``iemocap``: 5 sessions x 2 speakers, two dialogues per session (``Ses0<n>F_impro01``,
  ``Ses0<n>M_script01_1``); per speaker 11 labelled utterances: ``neu`` x2, ``hap`` x2, ``exc``,
  ``sad`` x2, ``ang`` x2, ``fru``, ``xxx`` (110). Utterance wavs (16 kHz), EmoEvaluation files with
  evaluator lines, transcriptions (plus an unlabelled ``XX`` turn per dialogue, as in the
  release), the dialogue wav, and the dialogue avi (DivX/MPEG-4 video of both faces at
  29.97 frames/s, 16 kHz PCM audio) whose times match the labels.
- ``iemocap_text``: ``utterances.csv`` of the same dialogues (the six-class derivative: 100 rows,
  ``xxx`` left out; split train / valid / test, test = Session 5).
- ``meld``: the three CSVs with the official columns (train 21, dev 7, test 14 rows: every
  emotion in every split), a mis-decoded UTF-8 (mojibake) row in train and a cp1252-encoded
  dev CSV, and one ``dia<D>_utt<U>.mp4`` per row (H.264 video of a face, AAC 48 kHz stereo
  audio) in ``train_splits/``, ``dev_splits_complete/``, ``output_repeated_splits_test/``.
- ``mosei``: ``CMU_MOSEI_Labels.csd`` and ``CMU_MOSEI_TimestampedWords.csd`` (HDF5 computational
  sequences), ``cmu_mosei_std_folds.py`` and ``Raw/Audio/Full/WAV_16000/<video>.wav``: 12 videos,
  40 segments (every emotion in every split, one intensity tie, three all-zero = neutral).
- ``msp_improv``: 6 sessions x 2 speakers x 4 emotions x 2 clips + one ``X`` and one ``O`` clip
  per session (108): ``Audio/session<n>/S<##><E>/<cond>/*.wav`` (16 kHz), the same tree of
  avi clips under ``Video/`` and ``Evaluation.txt`` with consensus and rater lines.
- ``emovo``: 6 actors x 7 emotions x 2 sentences, 48 kHz wavs (84).
- ``urdu``: 10 speaker ids, three of them under every emotion folder and seven under one only
  (the real corpus ties most ids to one emotion): 42 wavs.

Sample rates are the corpora's own where documented (Emo-DB, IEMOCAP, MOSEI 16 kHz; EMOVO
48 kHz; MELD's AAC 48 kHz); MSP-IMPROV and URDU are written at 16 kHz.

Caching: the speech is kept in ``<cache>/fixtures/speech-...`` (shared by every fixture root);
each corpus folder is written under a temporary name and renamed into place with a stamp file
``.sercore-fixture.json`` (version, seed, counts, sources of the media). A second call finds
the stamps and returns at once.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import cache_dir
from . import synthetic as S

__all__ = ["FIXTURE_VERSION", "FIXTURE_CORPORA", "write_fixtures", "default_root", "stamp",
           "EXPECTED"]

#: bump when a change here changes what is written (part of every stamp)
FIXTURE_VERSION = 1
STAMP = ".sercore-fixture.json"

#: registry name -> folder name under the data root, in writing order
FIXTURE_CORPORA: dict[str, str] = {
    "emodb": "emodb", "iemocap": "iemocap", "iemocap_text": "iemocap-text", "meld": "meld",
    "mosei": "mosei", "msp_improv": "msp-improv", "emovo": "emovo", "urdu": "urdu",
}

#: what each corpus' loader reads from the fixture: rows, speakers and rows per label
EXPECTED: dict[str, dict] = {
    "emodb": {"utterances": 140, "speakers": 10,
              "labels": {e: 20 for e in ("angry", "boredom", "disgust", "fear", "happy", "neutral", "sad")}},
    "iemocap": {"utterances": 110, "speakers": 10,
                "labels": {"neutral": 20, "happy": 20, "excited": 10, "sad": 20, "angry": 20,
                           "frustrated": 10, "other": 10}},
    "iemocap_text": {"utterances": 100, "speakers": 10,
                     "labels": {"neutral": 20, "happy": 20, "excited": 10, "sad": 20, "angry": 20,
                                "frustrated": 10}},
    "meld": {"utterances": 42, "speakers": 6,
             "labels": {e: 6 for e in ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust")}},
    "mosei": {"utterances": 40, "speakers": 12,
              "labels": {"happy": 7, "sad": 6, "angry": 6, "surprise": 6, "disgust": 6, "fear": 6,
                         "neutral": 3}},
    "msp_improv": {"utterances": 108, "speakers": 12,
                   "labels": {"angry": 24, "happy": 24, "sad": 24, "neutral": 24, "other": 12}},
    "emovo": {"utterances": 84, "speakers": 6,
              "labels": {e: 12 for e in ("disgust", "happy", "neutral", "fear", "angry", "surprise", "sad")}},
    "urdu": {"utterances": 42, "speakers": 10,
             "labels": {"angry": 11, "happy": 11, "neutral": 9, "sad": 11}},
}

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
    corpora: registry names (keys of :data:`FIXTURE_CORPORA`), ``None`` for all.
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
        speech = speech or _Speech(int(seed))
        tmp = root / f".{folder.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            info = _WRITERS[name](tmp, speech)
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
class _Utt:
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


class _Speech:
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

    def get(self, lang: str, i: int, emotion: str, k: int, sentence: tuple[str, str] | None = None) -> _Utt:
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
        return _Utt(wave, text, spk, emotion, keys, path, speaker_seed=self.seed)


# =============================================================================== small helpers

def _rng(seed: int, *keys: str) -> np.random.Generator:
    return S._rng(seed, "fixtures", *keys)


def _write_wav(path: Path, wave: np.ndarray, rate: int = SR) -> Path:
    """16-bit PCM wav of a 16 kHz ``wave`` at ``rate`` Hz (resampled when it differs)."""
    import soundfile as sf

    if rate != SR:
        wave = S._resample(wave.astype(np.float64), SR, rate)
    wave = np.clip(wave, -1.0, 1.0).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, rate, subtype="PCM_16", format="WAV")
    return path


def _canvas(faces: np.ndarray, fps: float, seconds: float, height: int, width: int,
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


def _media():
    from ..features import media
    return media


def _tokens(text: str) -> list[str]:
    """Lower-case words without punctuation (how the SDK's word sequences spell them)."""
    return [w for w in re.sub(r"[^\w' ]+", " ", text.lower()).split() if w]


def _clock(seconds: float) -> str:
    """``HH:MM:SS,mmm`` as in MELD's StartTime/EndTime columns."""
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


# =============================================================================== Emo-DB

def _emodb(root: Path, sp: _Speech) -> dict:
    from . import emodb as E

    codes = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
             "T": "sad", "N": "neutral"}
    females = [c for c, (sex, _) in E.SPEAKERS.items() if sex == "F"]
    males = [c for c, (sex, _) in E.SPEAKERS.items() if sex == "M"]
    order = {c: 2 * females.index(c) for c in females} | {c: 2 * males.index(c) + 1 for c in males}
    texts = list(E.SENTENCES)
    n = 0
    for si, spk in enumerate(sorted(E.SPEAKERS)):
        for ei, (letter, emo) in enumerate(codes.items()):
            for k in range(2):
                tc = texts[(3 * si + 2 * ei + k) % len(texts)]
                u = sp.get("de", order[spk], emo, k, sentence=(tc, E.SENTENCES[tc]))
                version = "ab"[(si + ei) % 2]
                _write_wav(root / "wav" / f"{spk}{tc}{letter}{version}.wav", u.wave, E.OFFICIAL_RATE)
                n += 1
    (root / "erkennung.txt").write_text("Satz\terkannt\tnatuerlich\n", encoding="utf-8")
    return {"utterances": n}


# =============================================================================== IEMOCAP (+ text)

#: per speaker: (code, synthetic emotion, k, dialogue A or B)
_IEMOCAP_PLAN = [
    ("neu", "neutral", 0, "A"), ("hap", "happy", 0, "A"), ("exc", "happy", 2, "A"),
    ("sad", "sad", 0, "A"), ("ang", "angry", 0, "A"), ("xxx", "neutral", 2, "A"),
    ("neu", "neutral", 1, "B"), ("hap", "happy", 1, "B"), ("sad", "sad", 1, "B"),
    ("ang", "angry", 1, "B"), ("fru", "angry", 2, "B"),
]
_RATER_WORDS = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness",
                "ang": "Anger", "fru": "Frustration", "xxx": "Neutral"}
_AVI_FPS = 30000 / 1001


def _iemocap_dialogues(sp: _Speech) -> list[dict]:
    """The dialogues both IEMOCAP fixtures are cut from: name, session, and utterances
    ``(utt id, code, _Utt, start, end)`` on the dialogue's time line."""
    out = []
    for s in range(1, 6):
        for which, name in (("A", f"Ses0{s}F_impro01"), ("B", f"Ses0{s}M_script01_1")):
            rng = _rng(sp.seed, "iemocap", name)
            turns = {}
            for i, sex in ((2 * (s - 1), "F"), (2 * (s - 1) + 1, "M")):
                items = [p for p in _IEMOCAP_PLAN if p[3] == which]
                order = rng.permutation(len(items))
                turns[sex] = [(code, sp.get("en", i, emo, k)) for code, emo, k, _ in
                              (items[j] for j in order)]
            t, counters, utts = 1.0 + round(float(rng.uniform(0, 1)), 3), {"F": 0, "M": 0}, []
            first = "F" if which == "A" else "M"
            seq = [x for pair in zip(turns[first], turns["M" if first == "F" else "F"]) for x in pair]
            sexes = [first, "M" if first == "F" else "F"] * len(turns["F"])
            for sex, (code, u) in zip(sexes, seq):
                uid = f"{name}_{sex}{counters[sex]:03d}"
                counters[sex] += 1
                start = round(t, 3)
                end = start + u.seconds
                utts.append((uid, code, u, start, end))
                t = end + round(float(rng.uniform(0.2, 0.6)), 3)
            out.append({"name": name, "session": s, "which": which, "utts": utts,
                        "length": t + 0.5})
    return out


def _iemocap(root: Path, sp: _Speech) -> dict:
    media = _media()
    n, sources = 0, {}
    idle = {}
    for d in _iemocap_dialogues(sp):
        sdir = root / f"Session{d['session']}"
        name, utts = d["name"], d["utts"]
        rng = _rng(sp.seed, "iemocap-raters", name)
        # EmoEvaluation: the release's header, one consensus line and evaluator lines per turn
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"]
        for uid, code, u, start, end in utts:
            vad = [round(float(x) * 2) / 2 for x in rng.uniform(1.5, 4.5, 3)]
            lines.append(f"[{start:.4f} - {end:.4f}]\t{uid}\t{code}\t"
                         f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]\n")
            votes = ([_RATER_WORDS[code]] * 3 if code != "xxx"
                     else ["Frustration", "Neutral", "Anger"])
            for ev, word in zip(("C-E1", "C-E2", "C-E4"), votes):
                lines.append(f"{ev}:\t{word};\t()\n")
            lines.append(f"A-E1:\tval {int(vad[0])}; act {int(vad[1])}; dom  {int(vad[2])};\t()\n\n")
        emo = sdir / "dialog" / "EmoEvaluation" / f"{name}.txt"
        emo.parent.mkdir(parents=True, exist_ok=True)
        emo.write_text("".join(lines), encoding="utf-8")
        # transcriptions: every labelled turn, plus one unlabelled XX turn as in the release
        tr = [f"{uid} [{start:08.4f}-{end:08.4f}]: {u.text}\n" for uid, _, u, start, end in utts]
        last_end = utts[-1][4]
        tr.append(f"{name}_MXX0 [{last_end + 0.05:08.4f}-{last_end + 0.3:08.4f}]: [LAUGHTER]\n")
        tfile = sdir / "dialog" / "transcriptions" / f"{name}.txt"
        tfile.parent.mkdir(parents=True, exist_ok=True)
        tfile.write_text("".join(tr), encoding="utf-8")
        # utterance wavs and the dialogue wav
        total = int(round(d["length"] * SR))
        dialog = np.zeros(total, np.float32)
        for uid, _, u, start, _ in utts:
            wav = _write_wav(sdir / "sentences" / "wav" / name / f"{uid}.wav", u.wave)
            a = int(round(start * SR))
            dialog[a:a + len(u.wave)] = u.wave
            sources[str(wav.relative_to(root))] = str(u.source)
            n += 1
        _write_wav(sdir / "dialog" / "wav" / f"{name}.wav", dialog)
        # the dialogue video: both faces side by side, the speaking one animated
        nfr = int(round(d["length"] * _AVI_FPS))
        frames = np.empty((nfr, 96, 192), np.uint8)
        spk_f, spk_m = (sp.speaker("en", 2 * (d["session"] - 1) + j) for j in (0, 1))
        for j, spk in enumerate((spk_f, spk_m)):
            if spk.id not in idle:
                idle[spk.id] = S.render_face(spk, "neutral", 1, _rng(sp.seed, "idle", spk.id))[0]
            frames[:, :, 96 * j:96 * (j + 1)] = idle[spk.id].repeat(2, 0).repeat(2, 1)[None]
        for uid, _, u, start, end in utts:
            half = 0 if uid[len(name) + 1] == "F" else 1
            faces = u.faces().repeat(2, axis=1).repeat(2, axis=2)
            j0, j1 = int(np.ceil(start * _AVI_FPS)), min(nfr, int(np.ceil(end * _AVI_FPS)))
            idx = np.minimum(((np.arange(j0, j1) / _AVI_FPS - start) * FACE_FPS).astype(int), len(faces) - 1)
            frames[j0:j1, :, 96 * half:96 * (half + 1)] = faces[idx]
        avi = sdir / "dialog" / "avi" / "DivX" / f"{name}.avi"
        media.write_clip(avi, audio=dialog, sr=SR, frames=frames, fps=_AVI_FPS, video_codec="mpeg4",
                         audio_codec="pcm_s16le", codec_tag="DX50")
    return {"utterances": n, "sources": sources}


def _iemocap_text(root: Path, sp: _Speech) -> dict:
    rows = []
    for d in _iemocap_dialogues(sp):
        s, turn = d["session"], 0
        split = "test" if s == 5 else ("valid" if d["name"] == "Ses04M_script01_1" else "train")
        for uid, code, u, _, _ in d["utts"]:
            if code == "xxx":
                continue                     # the six-class derivative keeps labelled turns only
            label = {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad",
                     "ang": "angry", "fru": "frustrated"}[code]
            rows.append([d["name"], s, turn, uid[len(d["name"]) + 1], label, split, u.text])
            turn += 1
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["dialogue", "session", "turn", "speaker", "label", "split", "text"])
    w.writerows(rows)
    (root / "utterances.csv").write_bytes(buf.getvalue().encode("utf-8"))
    return {"utterances": len(rows)}


# =============================================================================== MELD

_MELD_EMOTIONS = {"neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry",
                  "surprise": "surprise", "fear": "fear", "disgust": "disgust"}
_MELD_SENTIMENT = {"neutral": "neutral", "joy": "positive", "surprise": "positive",
                   "sadness": "negative", "anger": "negative", "fear": "negative", "disgust": "negative"}
#: synthetic English speaker index -> Friends character (F at even indices, as the synthetic corpus)
_MELD_SPEAKERS = {0: "Rachel", 1: "Ross", 2: "Monica", 3: "Chandler", 4: "Phoebe", 5: "Joey"}
_MELD_SPLITS = {"train": (3, "train_splits", 20), "dev": (1, "dev_splits_complete", 23),
                "test": (2, "output_repeated_splits_test", 24)}   # per emotion, clip folder, first k
_MELD_FPS = 24000 / 1001


def _meld(root: Path, sp: _Speech) -> dict:
    media = _media()
    n, sources = 0, {}
    for split, (per, folder, koff) in _MELD_SPLITS.items():
        rng = _rng(sp.seed, "meld", split)
        items = [(emo, j) for emo in _MELD_EMOTIONS for j in range(per)]
        items = [items[i] for i in rng.permutation(len(items))]
        rows, dia, utt, t = [], 0, 0, float(rng.uniform(60, 600))
        season, episode = int(rng.integers(1, 10)), int(rng.integers(1, 25))
        for r_i, (emo, j) in enumerate(items):
            spk_i = (r_i + 2 * len(rows) // 7) % 6
            u = sp.get("en", spk_i, _MELD_EMOTIONS[emo], koff + j)
            text = u.text
            if r_i == 0:
                # the release's quirks: UTF-8 read as cp1252 in train, a cp1252 file for dev
                text = "Well, it\u2019s " + text[:1].lower() + text[1:]
                if split == "train":
                    text = text.encode("utf-8").decode("cp1252")
            start = t
            end = start + u.seconds
            rows.append([len(rows) + 1, text, _MELD_SPEAKERS[spk_i], emo, _MELD_SENTIMENT[emo], dia,
                         utt, season, episode, _clock(start), _clock(end)])
            clip = root / folder / f"dia{dia}_utt{utt}.mp4"
            frames = _canvas(u.faces(), _MELD_FPS, u.seconds, 96, 160)
            media.write_clip(clip, audio=u.wave, sr=SR, frames=frames, fps=_MELD_FPS,
                             video_codec="libx264", audio_codec="aac", audio_rate=48000, channels=2)
            sources[str(clip.relative_to(root))] = str(u.source)
            n += 1
            t = end + float(rng.uniform(0.5, 3.0))
            utt += 1
            if utt >= 3 + (dia % 2):          # dialogues of 3 and 4 utterances
                dia, utt, t = dia + 1, 0, t + float(rng.uniform(30, 300))
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
                    "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"])
        w.writerows(rows)
        enc = "cp1252" if split == "dev" else "utf-8"
        (root / f"{split}_sent_emo.csv").write_bytes(buf.getvalue().encode(enc))
    return {"utterances": n, "sources": sources}


# =============================================================================== CMU-MOSEI

_MOSEI_COLUMNS = ("happy", "sad", "angry", "surprise", "disgust", "fear")     # features 1..6
#: split -> segments per video (labels are dealt over them: every emotion in every split)
_MOSEI_SPLITS = {"train": [4, 4, 3, 3, 3, 3], "dev": [3, 2, 2], "test": [5, 4, 4]}


def _mosei_ids(rng: np.random.Generator, n: int) -> list[str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    ids = []
    for i in range(n):
        if i % 4 == 3:
            ids.append(str(int(rng.integers(100000, 999999))))          # the numeric ids
        else:
            ids.append("".join(alphabet[j] for j in rng.integers(len(alphabet), size=11)))
    return ids


def write_csd(path: Path, root_name: str, data: dict, description: str = "",
              metadata: dict | None = None) -> None:
    """A computational sequence in the CMU Multimodal SDK's HDF5 layout: ``<root>/data/<video>/features``
    and ``intervals`` for each ``video: (features, intervals)`` of ``data`` (text features, e.g. words,
    stored as one byte-string column), and ``<root>/metadata`` (``metadata``, else the SDK's keys)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        g = fh.create_group(root_name)
        d = g.create_group("data")
        for vid, (feats, ints) in data.items():
            v = d.create_group(vid)
            feats = np.asarray(feats)
            if feats.dtype.kind in "SO":
                feats = np.asarray(feats, dtype="S").reshape(-1, 1)
            v.create_dataset("features", data=feats)
            v.create_dataset("intervals", data=np.asarray(ints, dtype=np.float64))
        meta = metadata if metadata is not None else {
            "root name": root_name, "computational sequence description": description,
            "computational sequence version": "1.0", "alignment compatible": True,
            "dataset name": "CMU-MOSEI", "dataset version": "1.0",
            "creator": "sercore fixtures (synthetic speech)",
            "featureset bib citation": "", "dataset bib citation": ""}
        m = g.create_group("metadata")
        for key, value in meta.items():
            ds = m.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            ds[0] = json.dumps(value) if not isinstance(value, str) else value


def _mosei(root: Path, sp: _Speech) -> dict:
    rng = _rng(sp.seed, "mosei")
    n_videos = sum(len(v) for v in _MOSEI_SPLITS.values())
    ids = _mosei_ids(rng, n_videos)
    labels, words, folds, sources = {}, {}, {}, {}
    vi, n, tie_done = 0, 0, False
    for split, sizes in _MOSEI_SPLITS.items():
        total = sum(sizes)
        emos = [_MOSEI_COLUMNS[i % 6] for i in range(total - 1)] + ["neutral"]
        emos = [emos[i] for i in rng.permutation(total)]
        folds[split] = []
        pos = 0
        for size in sizes:
            vid, spk_i = ids[vi], vi
            vi += 1
            folds[split].append(vid)
            feats, ints, wtok, wint, audio, cursor = [], [], [], [], [], 0
            for j in range(size):
                emo = emos[pos]
                pos += 1
                u = sp.get("en", spk_i, emo, 12 + j)
                gap = int(round(float(rng.uniform(0.3, 1.0)) * SR))
                audio += [np.zeros(gap, np.float32), u.wave]
                start, end = (cursor + gap) / SR, (cursor + gap + len(u.wave)) / SR
                wtok.append("sp")                                   # the silence before it
                wint.append([cursor / SR, start])
                cursor += gap + len(u.wave)
                row = np.zeros(7)
                if emo != "neutral":
                    row[1:] = np.where(rng.random(6) < 0.4, np.round(rng.uniform(0.0, 0.34, 6), 4), 0.0)
                    k = _MOSEI_COLUMNS.index(emo)
                    row[1 + k] = float(np.round(rng.uniform(1.0, 2.4), 4))
                    if emo == "happy" and not tie_done:     # an intensity tie: happy wins (first)
                        row[1 + _MOSEI_COLUMNS.index("surprise")] = row[1 + k]
                        tie_done = True
                    row[0] = float(np.round(rng.uniform(0.3, 2.5), 4)) * (
                        1 if emo in ("happy", "surprise") else -1)
                feats.append(row)
                ints.append([start, end])
                # words spread over the speech inside the segment (by length)
                toks = _tokens(u.text)
                lead, tail = start + 0.1, end - 0.1
                lens = np.array([len(w) + 1 for w in toks], float)
                edges = lead + (tail - lead) * np.concatenate([[0], np.cumsum(lens) / lens.sum()])
                for w, a_, b_ in zip(toks, edges[:-1], edges[1:]):
                    wtok.append(w)
                    wint.append([a_, b_])
                n += 1
            wave = np.concatenate(audio + [np.zeros(SR // 2, np.float32)])
            labels[vid] = (np.asarray(feats, np.float64), np.asarray(ints))
            words[vid] = (np.asarray(wtok, dtype="S").reshape(-1, 1), np.asarray(wint))
            wav = _write_wav(root / "Raw" / "Audio" / "Full" / "WAV_16000" / f"{vid}.wav", wave)
            sources[str(wav.relative_to(root))] = "concatenated segments"
    write_csd(root / "CMU_MOSEI_Labels.csd", "All Labels", labels,
               "Labels: sentiment, happy, sad, anger, surprise, disgust, fear")
    write_csd(root / "CMU_MOSEI_TimestampedWords.csd", "words", words, "Words with timestamps")
    (root / "cmu_mosei_std_folds.py").write_text(
        "".join(f"standard_{'valid' if s == 'dev' else s}_fold={folds[s]!r}\n" for s in ("train", "dev", "test")),
        encoding="utf-8")
    return {"utterances": n, "videos": len(labels)}


# =============================================================================== MSP-IMPROV

_MSP_LETTERS = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral"}
_MSP_CONDITIONS = ("S", "R", "T", "P")
_MSP_FPS = 30000 / 1001


def _msp_improv(root: Path, sp: _Speech) -> dict:
    media = _media()
    rng = _rng(sp.seed, "msp-improv")
    lines, n, sources = [], 0, {}
    for s in range(1, 7):
        clips = []
        for j, sex in enumerate("FM"):
            i = 2 * (s - 1) + j
            for li, (letter, emo) in enumerate(_MSP_LETTERS.items()):
                for k in range(2):
                    clips.append((sex, i, letter, letter, emo, 3 + k))
        # no agreement (X) and other (O): a clip of each per session, from other emotions
        clips.append(("F", 2 * (s - 1), "H", "X", "surprise", 3))
        clips.append(("M", 2 * (s - 1) + 1, "S", "O", "disgust", 3))
        turns: dict[str, int] = {}
        for c, (sex, i, target, consensus, emo, k) in enumerate(clips):
            sentence = int(rng.integers(1, 21))
            cond = _MSP_CONDITIONS[c % 4]
            other = "M" if sex == "F" else "F"
            tkey = f"{sex}{other}"
            turns[tkey] = turns.get(tkey, 0) + 1
            key = f"S{sentence:02d}{target}-{sex}{s:02d}-{cond}-{tkey}{turns[tkey]:02d}"
            u = sp.get("en", i, emo, k)
            rel = Path(f"session{s}") / f"S{sentence:02d}{target}" / cond / f"MSP-IMPROV-{key}"
            wav = _write_wav(root / "Audio" / rel.with_suffix(".wav"), u.wave)
            frames = _canvas(u.faces(), _MSP_FPS, u.seconds, 96, 128)
            avi = root / "Video" / rel.with_suffix(".avi")
            media.write_clip(avi, audio=u.wave, sr=SR, frames=frames, fps=_MSP_FPS,
                             video_codec="mpeg4", audio_codec="pcm_s16le", codec_tag="XVID")
            sources[str(avi.relative_to(root))] = str(wav.relative_to(root))
            n += 1
            a, v, d = (float(x) for x in np.round(rng.uniform(1.5, 4.5, 3), 1))
            lines.append(f"UTD-IMPROV-{key}.avi; {consensus}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f} ; "
                         f"N:{float(rng.uniform(2, 4)):.6f};\n")
            words = {"A": "Angry", "H": "Happy", "S": "Sad", "N": "Neutral"}
            votes = ([words[consensus]] * 3 if consensus in words
                     else ["Happy", "Neutral", "Angry"] if consensus == "X" else ["Other", "Other", "Sad"])
            for r_i, vote in enumerate(votes):
                lines.append(f"rater_{int(rng.integers(1, 40)):02d}; {vote}; ; A:{a:.6f}; V:{v:.6f}; "
                             f"D:{d:.6f}; N:{float(rng.uniform(2, 4)):.6f};\n")
            lines.append("\n")
    (root / "Evaluation.txt").write_text("".join(lines), encoding="utf-8")
    return {"utterances": n, "sources": sources}


# =============================================================================== EMOVO, URDU

def _emovo(root: Path, sp: _Speech) -> dict:
    from . import emovo as EV

    order = {"f1": 0, "m1": 1, "f2": 2, "m2": 3, "f3": 4, "m3": 5}
    codes = list(EV.SENTENCES)
    n = 0
    for si, spk in enumerate(EV.SPEAKERS):
        for ei, (code, emo) in enumerate(EV.EMOTIONS.items()):
            for k in range(2):
                sc = codes[(5 * si + 2 * ei + k) % len(codes)]
                u = sp.get("it", order[spk], emo, k, sentence=(sc, EV.SENTENCES[sc]))
                _write_wav(root / spk / f"{code}-{spk}-{sc}.wav", u.wave, 48000)
                n += 1
    (root / "documents").mkdir(exist_ok=True)
    return {"utterances": n}


#: URDU plan: (sex, speaker number, synthetic speaker index, {folder: count})
_URDU_PLAN = [
    ("F", 1, 0, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("M", 2, 1, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("F", 3, 2, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("M", 4, 3, {"Angry": 3}), ("F", 5, 4, {"Happy": 3}), ("M", 6, 5, {"Neutral": 3}),
    ("F", 7, 6, {"Sad": 3}), ("M", 8, 7, {"Angry": 2}), ("F", 9, 8, {"Happy": 2}),
    ("M", 10, 9, {"Sad": 2}),
]


def _urdu(root: Path, sp: _Speech) -> dict:
    from . import urdu as U

    n, running = 0, {f: 0 for f in U.FOLDERS}
    for sex, num, i, folders in _URDU_PLAN:
        for f_i, (folder, count) in enumerate(folders.items()):
            letter, emo = U.FOLDERS[folder]
            for k in range(count):
                running[folder] += 1
                name = f"S{sex}{num}_F{f_i + 1}_{letter}{running[folder]:02d}.wav"
                u = sp.get("ur", i, emo, k)
                _write_wav(root / folder / name, u.wave)
                n += 1
    return {"utterances": n}


_WRITERS = {"emodb": _emodb, "iemocap": _iemocap, "iemocap_text": _iemocap_text, "meld": _meld,
            "mosei": _mosei, "msp_improv": _msp_improv, "emovo": _emovo, "urdu": _urdu}


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
