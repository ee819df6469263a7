"""CMU-MOSEI (Zadeh et al., 2018) from the CMU Multimodal SDK's computational sequences.

A computational sequence (``.csd``) is an HDF5 file ``<root name>/data/<video id>/``
with ``features`` (one row per segment) and ``intervals`` (start, end in
seconds), plus ``<root name>/metadata``. The labels sequence
``CMU_MOSEI_Labels.csd`` has 7 features per segment: sentiment (-3..3) and the
mean intensity (0..3) of happy, sad, anger, surprise, disgust, fear.

Decisions
---------
* One row per labelled segment; ``utt_id`` is ``<video id>_<segment index>``.
* Single-label reading (MOSEI is multi-label): ``label`` is the emotion with the
  highest intensity; ties go to the first in the order happy, sad, anger,
  surprise, disgust, fear (counted in the note); a segment whose six
  intensities are all 0 is ``neutral`` (``label_raw`` ``none``), a class the
  ``mosei6`` map drops. ``label_raw`` is the SDK's emotion name.
* ``speaker`` is the video id: the SDK files do not map videos to speakers.
* ``text`` comes from ``CMU_MOSEI_TimestampedWords.csd`` when present: the
  words inside the segment's interval, silences (``sp``) left out. A video the
  words sequence does not hold has ``text`` ``None`` (counted in the note); a
  segment of a video it does hold but with no word inside its interval is a blank
  transcript: :class:`CorruptFileError` naming the words file and the segment, or
  with ``on_error='skip'`` a counted skip (one silent gap would drop the text
  modality of the whole corpus). Non-finite labels or intervals, an interval with
  ``end <= start`` and audio that is not sound are refused the same way.
* ``split`` comes from the SDK's standard folds. Their id lists are not
  embedded here: put the SDK's ``cmu_mosei_std_folds.py`` (it is read as data,
  never executed) or a ``splits.json`` (``{"train": [...], "dev": [...],
  "test": [...]}``, ``valid`` accepted for ``dev``) in the folder. Without
  them ``split`` is ``None`` and the note says so.
* ``path`` is the video's audio when ``Audio/<video id>.wav`` (or the raw
  release's ``Raw/Audio/Full/WAV_16000/<video id>.wav``) exists, with the
  segment's ``start``/``end``; else ``None`` (``start``/``end`` still give the
  segment's times in the video).
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..registry import Corpus
from ._io import check_audio, examples, join_notes, read_text, require_root
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import LabelMap
from .manifest import make_manifest

NAME = "mosei"
DIRNAME = "mosei"
LAYOUT = """\
mosei/
  CMU_MOSEI_Labels.csd             CMU Multimodal SDK computational sequence (HDF5):
                                   <root>/data/<video id>/features   N x 7 (sentiment, happy, sad,
                                                                     anger, surprise, disgust, fear)
                                   <root>/data/<video id>/intervals  N x 2 (start, end in seconds)
  CMU_MOSEI_TimestampedWords.csd   (optional) words per video, for the text column
  cmu_mosei_std_folds.py           (optional) the SDK's standard folds (standard_train_fold = [...],
                                   standard_valid_fold, standard_test_fold), read as data
  splits.json                      (optional, instead) {"train": [ids], "dev": [ids], "test": [ids]}
  Audio/<video id>.wav             (optional) audio of the whole video; also accepted:
                                   Raw/Audio/Full/WAV_16000/<video id>.wav
The .csd files may also sit in one sub-folder (e.g. labels/, language/)."""

#: CMU-MOSEI's label setting (sercore.data.labels.LabelMap)
MOSEI6 = LabelMap("mosei6", ("happy", "sad", "angry", "fear", "disgust", "surprise"), {},
                  "CMU-MOSEI six emotions, single label per utterance.")

LABELS_CSD = "CMU_MOSEI_Labels.csd"
WORDS_CSD = "CMU_MOSEI_TimestampedWords.csd"
FOLDS_PY = "cmu_mosei_std_folds.py"
SPLITS_JSON = "splits.json"
AUDIO_DIRS = ("Audio", "Audio/Full/WAV_16000", "Raw/Audio/Full/WAV_16000")

#: feature columns 1..6 of the labels sequence, in order; SDK name -> canonical label
EMOTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("happy", "happy"), ("sad", "sad"), ("anger", "angry"),
    ("surprise", "surprise"), ("disgust", "disgust"), ("fear", "fear"),
)
_FOLD_VARS = {"standard_train_fold": "train", "standard_valid_fold": "dev", "standard_test_fold": "test"}
_SPLIT_KEYS = {"train": "train", "dev": "dev", "valid": "dev", "val": "dev", "test": "test"}


def find_file(root: Path, name: str) -> Path | None:
    """``root/name`` or ``root/<one sub-folder>/name``."""
    if (root / name).is_file():
        return root / name
    hits = sorted(root.glob(f"*/{name}"))
    return hits[0] if hits else None


def read_csd(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """video id -> (features, intervals) of a computational sequence; raw arrays, unchecked."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except Exception as exc:
        raise CorruptFileError(path, f"not an HDF5 computational sequence ({exc})") from None
    with fh:
        groups = [k for k in fh.keys() if isinstance(fh[k], h5py.Group) and "data" in fh[k]]
        if not groups:
            raise CorruptFileError(path, "no '<root name>/data' group: not a CMU SDK computational "
                                         "sequence")
        data = fh[groups[0]]["data"]
        out = {}
        for vid in data.keys():
            g = data[vid]
            if not isinstance(g, h5py.Group) or "features" not in g or "intervals" not in g:
                out[vid] = (None, None)
                continue
            out[vid] = (np.asarray(g["features"][()]), np.asarray(g["intervals"][()]))
    return out


def read_splits(root: Path) -> tuple[dict[str, str], str | None]:
    """video id -> split from the folds file in ``root``, and the file's name (``None``: none)."""
    folds: dict[str, list] = {}
    source = None
    if (root / SPLITS_JSON).is_file():
        source = root / SPLITS_JSON
        try:
            raw = json.loads(read_text(source))
        except json.JSONDecodeError as exc:
            raise CorruptFileError(source, f"not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise CorruptFileError(source, "expected an object {\"train\": [...], \"dev\": [...], "
                                           "\"test\": [...]}")
        for key, ids in raw.items():
            if key.lower() not in _SPLIT_KEYS or not isinstance(ids, list):
                raise CorruptFileError(source, f"unexpected entry {key!r}: keys must be train/dev/"
                                               "valid/test, each a list of video ids")
            folds.setdefault(_SPLIT_KEYS[key.lower()], []).extend(ids)
    elif (root / FOLDS_PY).is_file():
        source = root / FOLDS_PY
        try:
            tree = ast.parse(read_text(source))
        except SyntaxError as exc:
            raise CorruptFileError(source, f"not parseable ({exc.msg}, line {exc.lineno})") from None
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id in _FOLD_VARS:
                try:
                    ids = ast.literal_eval(node.value)
                except ValueError:
                    raise CorruptFileError(source, f"{node.targets[0].id} is not a literal list") from None
                folds.setdefault(_FOLD_VARS[node.targets[0].id], []).extend(ids)
        if not folds:
            raise CorruptFileError(source, f"none of {sorted(_FOLD_VARS)} is assigned")
    else:
        return {}, None
    out: dict[str, str] = {}
    for split, ids in folds.items():
        for vid in ids:
            vid = str(vid)
            if out.get(vid, split) != split:
                raise CorruptFileError(source, f"video {vid!r} is in both {out[vid]} and {split}")
            out[vid] = split
    return out, source.name


def _words(words: dict, vid: str, start: float, end: float) -> str | None:
    """The words of ``vid`` inside ``[start, end]`` joined by spaces: ``None`` when the words
    sequence has no (or an empty) entry for ``vid``, ``''`` when it has but none fall inside."""
    feats, ints = words.get(vid, (None, None))
    if feats is None or ints is None or len(feats) == 0:
        return None
    ints = np.asarray(ints, dtype=float).reshape(-1, 2)
    inside = (ints[:, 0] >= start - 1e-3) & (ints[:, 1] <= end + 1e-3)
    toks = []
    for w in np.asarray(feats).reshape(len(feats), -1)[inside, 0]:
        w = w.decode("utf-8", "replace") if isinstance(w, (bytes, np.bytes_)) else str(w)
        if w.strip() and w.strip().lower() != "sp":
            toks.append(w.strip())
    return " ".join(toks)


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the CMU-MOSEI folder ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    labels_path = find_file(root, LABELS_CSD)
    if labels_path is None:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no {LABELS_CSD}")
    labels = read_csd(labels_path)
    if not labels:
        raise CorruptFileError(labels_path, "no videos in the data group")
    words_path = find_file(root, WORDS_CSD)
    words = read_csd(words_path) if words_path else {}
    split_of, split_source = read_splits(root)
    audio_dirs = [root / d for d in AUDIO_DIRS if (root / d).is_dir()]

    records = []
    ties = zeros = 0
    no_split: list[str] = []
    no_words: list[str] = []
    for vid in sorted(labels):
        feats, ints = labels[vid]
        try:
            if feats is None:
                raise CorruptFileError(labels_path, f"video {vid}: no features/intervals datasets")
            if feats.ndim != 2 or feats.shape[1] != 7 or ints.ndim != 2 or ints.shape[1] != 2 \
                    or len(feats) != len(ints) or len(feats) == 0:
                raise CorruptFileError(labels_path, f"video {vid}: features {feats.shape} / intervals "
                                                    f"{ints.shape}, expected N x 7 / N x 2 with N > 0")
            feats, ints = feats.astype(float), ints.astype(float)
            if not (np.isfinite(feats).all() and np.isfinite(ints).all()):
                raise CorruptFileError(labels_path, f"video {vid}: non-finite values")
            wav = next((d / f"{vid}.wav" for d in audio_dirs if (d / f"{vid}.wav").is_file()), None)
            if wav is not None:
                check_audio(wav)
        except CorruptFileError as exc:
            log.handle(exc)
            continue
        split = split_of.get(vid)
        if split_of and split is None:
            no_split.append(vid)
        for i, (row, (start, end)) in enumerate(zip(feats, ints)):
            text = None
            try:
                if not end > start:
                    raise CorruptFileError(labels_path, f"segment {vid}_{i}: interval [{start}, {end}] "
                                                        "has end <= start")
                if words:
                    text = _words(words, vid, float(start), float(end))
                    if text == "":
                        raise CorruptFileError(words_path, f"blank transcript for segment {vid}_{i}: no "
                                                           f"word inside [{start:.3f}, {end:.3f}] s")
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            if words and text is None:
                no_words.append(f"{vid}_{i}")
            emo = row[1:7]
            if not (emo > 0).any():
                label, raw = "neutral", "none"
                zeros += 1
            else:
                k = int(np.argmax(emo))
                ties += int((emo == emo[k]).sum() > 1)
                raw, label = EMOTION_COLUMNS[k]
            records.append({
                "utt_id": f"{vid}_{i}",
                "path": str(wav.resolve()) if wav is not None else None,
                "start": float(start), "end": float(end),
                "text": text,
                "label": label,
                "label_raw": raw,
                "speaker": vid,
                "language": "en",
                "corpus": NAME,
                "split": split,
            })

    n_audio = sum(r["path"] is not None for r in records)
    note = join_notes([
        "Single-label reading of CMU-MOSEI's multi-label intensities: label = the emotion with the "
        "highest intensity (ties go to the first of happy, sad, anger, surprise, disgust, fear: "
        f"{ties} segment(s)); {zeros} segment(s) with all six intensities 0 are labelled neutral "
        "(label_raw 'none'), which the mosei6 map drops.",
        "speaker is the video id (the SDK files do not name speakers).",
        None if words else f"No {WORDS_CSD}: the utterances have no text.",
        f"{len(no_words)} segment(s) belong to videos {WORDS_CSD} does not hold: their text is "
        f"None: {examples(no_words)}." if no_words else None,
        f"No split file ({FOLDS_PY} or {SPLITS_JSON}): split is None." if split_source is None
        else (f"{len(no_split)} video(s) are in no fold of {split_source} (split None): "
              f"{examples(no_split)}." if no_split else None),
        f"{len(records) - n_audio} segment(s) have no audio file (path None)."
        if n_audio < len(records) else None,
    ])
    return make_manifest(records, root=root, note=note, skipped=log.items)

# ----------------------------------------------------------------------------- fixture

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


def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    ``CMU_MOSEI_Labels.csd`` and ``CMU_MOSEI_TimestampedWords.csd`` (HDF5 computational sequences),
    ``cmu_mosei_std_folds.py`` and ``Raw/Audio/Full/WAV_16000/<video>.wav``: 12 videos, 40 segments (every
    emotion in every split, one intensity tie, three all-zero = neutral)."""
    from . import fixtures as F

    rng = F.rng(sp.seed, "mosei")
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
                gap = int(round(float(rng.uniform(0.3, 1.0)) * F.SR))
                audio += [np.zeros(gap, np.float32), u.wave]
                start, end = (cursor + gap) / F.SR, (cursor + gap + len(u.wave)) / F.SR
                wtok.append("sp")                                   # the silence before it
                wint.append([cursor / F.SR, start])
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
                toks = F.tokens(u.text)
                lead, tail = start + 0.1, end - 0.1
                lens = np.array([len(w) + 1 for w in toks], float)
                edges = lead + (tail - lead) * np.concatenate([[0], np.cumsum(lens) / lens.sum()])
                for w, a_, b_ in zip(toks, edges[:-1], edges[1:]):
                    wtok.append(w)
                    wint.append([a_, b_])
                n += 1
            wave = np.concatenate(audio + [np.zeros(F.SR // 2, np.float32)])
            labels[vid] = (np.asarray(feats, np.float64), np.asarray(ints))
            words[vid] = (np.asarray(wtok, dtype="S").reshape(-1, 1), np.asarray(wint))
            wav = F.write_wav(root / "Raw" / "Audio" / "Full" / "WAV_16000" / f"{vid}.wav", wave)
            sources[str(wav.relative_to(root))] = "concatenated segments"
    write_csd(root / "CMU_MOSEI_Labels.csd", "All Labels", labels,
               "Labels: sentiment, happy, sad, anger, surprise, disgust, fear")
    write_csd(root / "CMU_MOSEI_TimestampedWords.csd", "words", words, "Words with timestamps")
    (root / "cmu_mosei_std_folds.py").write_text(
        "".join(f"standard_{'valid' if s == 'dev' else s}_fold={folds[s]!r}\n" for s in ("train", "dev", "test")),
        encoding="utf-8")
    return {"utterances": n, "videos": len(labels)}


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="CMU-MOSEI", layout=LAYOUT, load=load, order=5,
    label_map="mosei6", label_maps=(MOSEI6,), modalities=("audio", "text"), protocol="official",
    write_fixture=write_fixture,
    fixture={"utterances": 40, "speakers": 12,
             "labels": {"happy": 7, "sad": 6, "angry": 6, "surprise": 6, "disgust": 6, "fear": 6, "neutral": 3}})
