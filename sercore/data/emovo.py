"""EMOVO, Italian emotional speech (Costantini et al., LREC 2014).

Six actors (``f1``-``f3``, ``m1``-``m3``) speak 14 sentences in 7 emotions: 588
utterances. Everything is in the path: ``<speaker>/<emotion>-<speaker>-<sentence>.wav``.
The sentence texts below are the corpus documentation's (b = short, l = long,
n = nonsense, d = questions).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..registry import Corpus
from ._io import check_audio, claim_id, join_notes, require_root, visible_files
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import LabelMap
from .manifest import make_manifest

NAME = "emovo"
DIRNAME = "emovo"
LAYOUT = """\
emovo/
  f1/ f2/ f3/ m1/ m2/ m3/             one folder per actor
    dis-f1-b1.wav                     <emotion>-<speaker>-<sentence>.wav
    ...
emotions: dis disgust, gio joy, neu neutral, pau fear, rab anger, sor surprise, tri sadness
sentences: b1-b3, l1-l4, n1-n5, d1-d2"""

#: EMOVO's label setting (sercore.data.labels.LabelMap)
EMOVO7 = LabelMap("emovo7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"), {},
                  "EMOVO 7 classes.")

SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
EMOTIONS: dict[str, str] = {
    "dis": "disgust", "gio": "happy", "neu": "neutral", "pau": "fear",
    "rab": "angry", "sor": "surprise", "tri": "sad",
}
SENTENCES: dict[str, str] = {
    "b1": "Gli operai si alzano presto.",
    "b2": "I vigili sono muniti di pistola.",
    "b3": "La cascata fa molto rumore.",
    "l1": "L'autunno prossimo Tony partirà per la Spagna: nella prima metà di ottobre.",
    "l2": "Ora prendo la felpa di là ed esco per fare una passeggiata.",
    "l3": "Un attimo dopo s'è incamminato... ed è inciampato.",
    "l4": "Vorrei il numero telefonico del Signor Piatti.",
    "n1": "La casa forte vuole col pane.",
    "n2": "La forza trova il passo e l'aglio rosso.",
    "n3": "Il gatto sta scorrendo nella pera.",
    "n4": "Insalata pastasciutta coscia d'agnello limoncello.",
    "n5": "Uno quarantatré dieci mille cinquantasette venti.",
    "d1": "Sabato sera cosa farà?",
    "d2": "Porti con te quella cosa?",
}

_NAME_RE = re.compile(r"^([a-z]{3})-([fm]\d)-([a-z]\d)$")


def parse_name(path: Path, folder: str) -> dict:
    """Fields of an EMOVO file name; :class:`CorruptFileError` naming the file otherwise."""
    m = _NAME_RE.match(path.stem.lower())
    if not m:
        raise CorruptFileError(path, "file name does not follow <emotion>-<speaker>-<sentence>.wav "
                                     "(e.g. dis-f1-b1.wav)")
    emo, spk, sent = m.groups()
    if emo not in EMOTIONS:
        raise CorruptFileError(path, f"unknown emotion code {emo!r} (known: {sorted(EMOTIONS)})")
    if spk != folder:
        raise CorruptFileError(path, f"speaker {spk!r} in the name but the file is in folder {folder!r}")
    if sent not in SENTENCES:
        raise CorruptFileError(path, f"unknown sentence code {sent!r} (known: {sorted(SENTENCES)})")
    return {"emotion": emo, "speaker": spk, "sentence": sent}


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the EMOVO folder ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    folders = {p.name.lower(): p for p in root.iterdir() if p.is_dir() and p.name.lower() in SPEAKERS}
    if not folders:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"none of the folders {list(SPEAKERS)}")
    records, seen = [], {}
    for spk in SPEAKERS:
        if spk not in folders:
            continue
        for path in visible_files(folders[spk], [".wav"], log):
            try:
                f = parse_name(path, spk)
                check_audio(path)
                claim_id(seen, f"{f['emotion']}-{spk}-{f['sentence']}", path)
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            records.append({
                "utt_id": f"{f['emotion']}-{spk}-{f['sentence']}",
                "path": str(path.resolve()),
                "text": SENTENCES[f["sentence"]],
                "label": EMOTIONS[f["emotion"]],
                "label_raw": f["emotion"],
                "speaker": spk,
                "gender": spk[0].upper(),
                "language": "it",
                "corpus": NAME,
            })
    absent = [s for s in SPEAKERS if s not in folders]
    note = join_notes([f"Speaker folder(s) {absent} not found." if absent else None])
    return make_manifest(records, root=root, note=note, skipped=log.items)

# ----------------------------------------------------------------------------- fixture

def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    6 actors x 7 emotions x 2 sentences, 48 kHz wavs (84)."""
    from . import fixtures as F

    order = {"f1": 0, "m1": 1, "f2": 2, "m2": 3, "f3": 4, "m3": 5}
    codes = list(SENTENCES)
    n = 0
    for si, spk in enumerate(SPEAKERS):
        for ei, (code, emo) in enumerate(EMOTIONS.items()):
            for k in range(2):
                sc = codes[(5 * si + 2 * ei + k) % len(codes)]
                u = sp.get("it", order[spk], emo, k, sentence=(sc, SENTENCES[sc]))
                F.write_wav(root / spk / f"{code}-{spk}-{sc}.wav", u.wave, 48000)
                n += 1
    (root / "documents").mkdir(exist_ok=True)
    return {"utterances": n}


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="EMOVO", layout=LAYOUT, load=load, order=7,
    label_map="emovo7", label_maps=(EMOVO7,), modalities=("audio", "text"), protocol="loso_speaker",
    write_fixture=write_fixture,
    fixture={"utterances": 84, "speakers": 6,
             "labels": {e: 12 for e in ("disgust", "happy", "neutral", "fear", "angry", "surprise", "sad")}})
