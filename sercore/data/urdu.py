"""URDU, Urdu emotional speech from TV talk shows (Latif et al., 2018).

400 utterances in four emotions (100 each), one folder per emotion, cut from Urdu
TV talk shows. File names ``S<M|F><speaker number>_F<file number>_<A|H|N|S><running
number>.wav`` (``SM1_F1_A01.wav``: male speaker 1, his file 1, angry utterance 01);
``speaker`` is ``S<M|F><number>`` from the name. The emotion letter must agree with
the folder. The corpus has no transcripts (``text`` is ``None``).

**Speakers.** The corpus description (and the MDAT paper, Sec. IV) say 38 speakers
(27 male, 11 female); the speaker IDs the file names hold are fewer, and most of them
occur under one emotion only: speaker and emotion are confounded. Count them from the
manifest (``manifest["speaker"].nunique()``); :func:`sercore.protocols.confound` measures
the tie and the data chapter shows it. Leave-one-speaker-out test folds on URDU hold a
single class (refused by :func:`sercore.protocols.check_folds`); the book runs URDU with
label-stratified k-fold (``kfold_val``).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..registry import Corpus
from ._io import check_audio, claim_id, join_notes, require_root, visible_files
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .manifest import make_manifest

NAME = "urdu"
DIRNAME = "urdu"
LAYOUT = """\
urdu/
  Angry/SM1_F1_A01.wav      S<M|F><speaker>_F<file>_<A|H|N|S><number>.wav
  Happy/...
  Neutral/...
  Sad/..."""

#: folder -> (emotion letter in the file names, canonical label)
FOLDERS: dict[str, tuple[str, str]] = {
    "Angry": ("A", "angry"), "Happy": ("H", "happy"), "Neutral": ("N", "neutral"), "Sad": ("S", "sad"),
}

_NAME_RE = re.compile(r"^S([MF])(\d+)_F(\d+)_([A-Z])(\d+)$")


def parse_name(path: Path, folder: str) -> dict:
    """Fields of an URDU file name; :class:`CorruptFileError` naming the file otherwise."""
    m = _NAME_RE.match(path.stem)
    if not m:
        raise CorruptFileError(path, "file name does not follow S<M|F><speaker>_F<file>_<A|H|N|S>"
                                     "<number>.wav (e.g. SM1_F1_A01.wav)")
    sex, spk, _file, letter, _num = m.groups()
    want = FOLDERS[folder][0]
    if letter != want:
        raise CorruptFileError(path, f"emotion letter {letter!r} in the name but the file is in "
                                     f"folder {folder!r} (letter {want!r})")
    return {"gender": sex, "speaker": f"S{sex}{int(spk)}"}


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the URDU folder ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    present = {name: root / name for name in FOLDERS if (root / name).is_dir()}
    if not present:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"none of the folders {list(FOLDERS)}")
    records, seen = [], {}
    for folder, d in present.items():
        for path in visible_files(d, [".wav"], log):
            try:
                f = parse_name(path, folder)
                check_audio(path)
                claim_id(seen, path.stem, path)
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            records.append({
                "utt_id": path.stem,
                "path": str(path.resolve()),
                "label": FOLDERS[folder][1],
                "label_raw": FOLDERS[folder][0],
                "speaker": f["speaker"],
                "gender": f["gender"],
                "language": "ur",
                "corpus": NAME,
            })
    absent = [n for n in FOLDERS if n not in present]
    note = join_notes([f"Emotion folder(s) {absent} not found." if absent else None,
                       "URDU has no transcripts: its utterances have no text."])
    return make_manifest(records, root=root, note=note, skipped=log.items)

# ----------------------------------------------------------------------------- fixture

_URDU_PLAN = [
    ("F", 1, 0, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("M", 2, 1, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("F", 3, 2, {"Angry": 2, "Happy": 2, "Neutral": 2, "Sad": 2}),
    ("M", 4, 3, {"Angry": 3}), ("F", 5, 4, {"Happy": 3}), ("M", 6, 5, {"Neutral": 3}),
    ("F", 7, 6, {"Sad": 3}), ("M", 8, 7, {"Angry": 2}), ("F", 9, 8, {"Happy": 2}),
    ("M", 10, 9, {"Sad": 2}),
]


def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    10 speaker ids, three of them under every emotion folder and seven under one only (the real corpus
    ties most ids to one emotion): 42 wavs, 16 kHz."""
    from . import fixtures as F

    n, running = 0, {f: 0 for f in FOLDERS}
    for sex, num, i, folders in _URDU_PLAN:
        for f_i, (folder, count) in enumerate(folders.items()):
            letter, emo = FOLDERS[folder]
            for k in range(count):
                running[folder] += 1
                name = f"S{sex}{num}_F{f_i + 1}_{letter}{running[folder]:02d}.wav"
                u = sp.get("ur", i, emo, k)
                F.write_wav(root / folder / name, u.wave)
                n += 1
    return {"utterances": n}


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="URDU", layout=LAYOUT, load=load, order=8,
    label_map="ser4", modalities=("audio",), protocol="kfold_val",
    write_fixture=write_fixture,
    fixture={"utterances": 42, "speakers": 10, "labels": {"angry": 11, "happy": 11, "neutral": 9, "sad": 11}})
