"""IEMOCAP transcripts and labels, text only (no audio).

A public research derivative of IEMOCAP (the one DialogueRNN/COSMIC use) written
out as one CSV: 7,433 utterances of 151 dialogues in six classes. It has no
official utterance ids and no times, so:

* ``utt_id`` is ``<dialogue>_<turn, 3 digits>`` (``Ses01F_impro01_000``); the
  turn counts only the utterances the derivative kept;
* ``speaker`` is ``Ses0<session><F|M>``, the same ids as :mod:`.iemocap`;
* ``split`` is the derivative's own split with ``valid`` renamed ``dev``
  (``train``/``dev``/``test``; ``test`` is all of Session 5);
* ``path`` is ``None``.

Every row is checked where it is read; a bad one is a :class:`CorruptFileError`
naming the file, the line and the utterance (or, with ``on_error='skip'``, a
counted skip in ``attrs['skipped']``): a dialogue id that is not
``Ses0<1-5><F|M>_...``, a ``session`` that disagrees with it (``Ses03...`` under
session 2 would be stored under the wrong speaker), an unknown label or split,
a blank transcript (text is the only modality here: one silent gap would make
the whole text modality vanish), and a (dialogue, turn) given twice.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from ..registry import Corpus
from ._io import claim_id, read_text, require_root
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .iemocap import CODES
from .labels import EMOTIONS
from .manifest import make_manifest

NAME = "iemocap_text"
DIRNAME = "iemocap-text"
LAYOUT = """\
iemocap-text/
  utterances.csv   columns: dialogue,session,turn,speaker,label,split,text
                   Ses01F_impro01,1,0,F,neutral,train,Excuse me.
                   (labels happy/sad/neutral/angry/excited/frustrated or IEMOCAP codes;
                    split train/valid/test, valid is stored as dev)"""

COLUMNS = ("dialogue", "session", "turn", "speaker", "label", "split", "text")
SPLITS = {"train": "train", "valid": "dev", "dev": "dev", "val": "dev", "test": "test"}

_DIALOGUE_RE = re.compile(r"^Ses0([1-5])[FM]_\S+$")

NOTE = ("IEMOCAP text-only derivative (DialogueRNN/COSMIC): no audio, no official utterance ids "
        "or times; its split is its own ('valid' stored as 'dev', test = Session 5).")


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of ``root/utterances.csv`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    csv_path = root / "utterances.csv"
    if not csv_path.is_file():
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no file {csv_path}")
    reader = csv.DictReader(io.StringIO(read_text(csv_path), newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CorruptFileError(csv_path, f"missing column(s) {missing}; expected {list(COLUMNS)}, "
                                         f"found {reader.fieldnames}")
    records, seen = [], {}
    for row in reader:
        line = reader.line_num
        try:
            rec = _record(row, csv_path, line)
            claim_id(seen, rec["utt_id"], csv_path, f"line {line}")
            records.append(rec)
        except CorruptFileError as exc:
            log.handle(exc)
    if not records and not log.items:
        raise CorruptFileError(csv_path, "no data rows")
    return make_manifest(records, root=root, note=NOTE, skipped=log.items)


def _record(row: dict, csv_path: Path, line: int) -> dict:
    def bad(msg: str) -> CorruptFileError:
        return CorruptFileError(csv_path, f"line {line}: {msg}")

    dialogue = (row["dialogue"] or "").strip()
    if not dialogue:
        raise bad("empty dialogue")
    dm = _DIALOGUE_RE.match(dialogue)
    if not dm:
        raise bad(f"dialogue {dialogue!r} is not an IEMOCAP dialogue id Ses0<1-5><F|M>_<name>")
    try:
        session = int(row["session"])
        turn = int(row["turn"])
    except (TypeError, ValueError):
        raise bad(f"session {row['session']!r} and turn {row['turn']!r} must be integers") from None
    if not 1 <= session <= 5:
        raise bad(f"session {session} is not 1..5")
    if turn < 0:
        raise bad(f"turn {turn} of {dialogue} is negative")
    if int(dm.group(1)) != session:
        raise bad(f"session {session} disagrees with dialogue {dialogue} (session {dm.group(1)}): "
                  f"its speakers would be stored under the wrong session")
    speaker = (row["speaker"] or "").strip().upper()
    if speaker not in ("F", "M"):
        raise bad(f"speaker {row['speaker']!r} is not F or M")
    raw = (row["label"] or "").strip()
    label = raw.lower() if raw.lower() in EMOTIONS else CODES.get(raw.lower())
    if label is None:
        raise bad(f"unknown label {raw!r}")
    split = SPLITS.get((row["split"] or "").strip().lower())
    if split is None:
        raise bad(f"unknown split {row['split']!r} (expected one of {sorted(SPLITS)})")
    text = (row["text"] or "").strip()
    if not text:
        raise bad(f"blank transcript for {dialogue}_{turn:03d}")
    return {
        "utt_id": f"{dialogue}_{turn:03d}",
        "text": text,
        "label": label,
        "label_raw": raw,
        "speaker": f"Ses{session:02d}{speaker}",
        "gender": speaker,
        "session": session,
        "language": "en",
        "corpus": NAME,
        "split": split,
    }

# ----------------------------------------------------------------------------- fixture

def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    ``utterances.csv`` of the IEMOCAP fixture's dialogues (the six-class derivative: 100 rows,
    ``xxx`` left out; split train / valid / test, test = Session 5)."""
    from .iemocap import fixture_dialogues

    rows = []
    for d in fixture_dialogues(sp):
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


#: IEMOCAP's transcripts: a paper's IEMOCAP number is on this corpus's utterances (its text modality)
CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="IEMOCAP transcripts (text only)", layout=LAYOUT, load=load, order=3,
    label_map="iemocap4", modalities=("text",), protocol="official", compares_as="iemocap",
    write_fixture=write_fixture,
    fixture={"utterances": 100, "speakers": 10,
             "labels": {"neutral": 20, "happy": 20, "excited": 10, "sad": 20, "angry": 20, "frustrated": 10}})
