"""Emo-DB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005).

10 actors (5 female, 5 male) speak 10 German sentences in 7 emotions; 535
utterances in the official release. Everything the manifest needs is in the
file name (``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion ``F``,
version ``a``) plus the corpus documentation's speaker and sentence tables,
which are written out below.

Copy check: the official files are 16 kHz and of varying length. A widely
mirrored copy re-saved every file at 22,050 Hz and fixed it to exactly 2.0 s
(padding short files with zeros, cutting long ones). The loader reads every
file's header and, when the copy is that one (or any other non-16 kHz copy),
puts a caveat in ``attrs['note']`` to print next to results.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..registry import Corpus
from ._io import check_audio, claim_id, require_root, visible_files
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import LabelMap
from .manifest import make_manifest

NAME = "emodb"
DIRNAME = "emodb"
LAYOUT = """\
emodb/
  wav/
    03a01Fa.wav        <speaker 03><text a01><emotion F><version a>.wav, 535 files
    03a01Nc.wav
    ...
  erkennung.txt        (optional, not read: listener recognition rates)
emotion codes: W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral"""

#: Emo-DB's label settings (sercore.data.labels.LabelMap)
EMODB7 = LabelMap("emodb7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom"), {},
                  "Emo-DB, all 7 classes.")
EMODB4_MDAT = LabelMap("emodb4_mdat", ("neutral", "happy", "sad", "angry"), {"boredom": "sad"},
                       "Emo-DB 4 classes of the cross-language paper: its 420-utterance subset only adds up "
                       "with boredom merged into sad (our reading).")

#: emotion code (German initial) -> canonical label
EMOTIONS: dict[str, str] = {
    "W": "angry",     # Wut / Ärger
    "L": "boredom",   # Langeweile
    "E": "disgust",   # Ekel
    "A": "fear",      # Angst
    "F": "happy",     # Freude
    "T": "sad",       # Trauer
    "N": "neutral",
}

#: speaker code -> (sex, age at recording), from the corpus documentation
SPEAKERS: dict[str, tuple[str, int]] = {
    "03": ("M", 31), "08": ("F", 34), "09": ("F", 21), "10": ("M", 32), "11": ("M", 26),
    "12": ("M", 30), "13": ("F", 32), "14": ("F", 35), "15": ("M", 25), "16": ("F", 31),
}

#: text code -> the sentence spoken
SENTENCES: dict[str, str] = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

OFFICIAL_RATE = 16000
MIRROR_RATE, MIRROR_FRAMES = 22050, 44100   # 2.0 s at 22,050 Hz

COPY_CAVEAT = (
    "Emo-DB copy differs from the official release: every file is 22,050 Hz and exactly 2.0 s "
    "long (a public mirror re-saved the corpus, padding shorter recordings with trailing zeros "
    "and cutting longer ones; the official files are 16 kHz and about 2.8 s on average). "
    "Results on this copy are not exactly comparable with published Emo-DB numbers."
)

_NAME_RE = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")


def parse_name(path: Path) -> dict:
    """Fields of an Emo-DB file name; :class:`CorruptFileError` naming the file otherwise."""
    m = _NAME_RE.match(path.stem)
    if not m or path.suffix.lower() != ".wav":
        raise CorruptFileError(path, "file name does not follow <speaker 2 digits><text a01..b10>"
                                     "<emotion W/L/E/A/F/T/N><version a-z>.wav (e.g. 03a01Fa.wav)")
    spk, text, emo, version = m.groups()
    if spk not in SPEAKERS:
        raise CorruptFileError(path, f"unknown speaker code {spk!r} (known: {sorted(SPEAKERS)})")
    if text not in SENTENCES:
        raise CorruptFileError(path, f"unknown text code {text!r} (known: {sorted(SENTENCES)})")
    if emo not in EMOTIONS:
        raise CorruptFileError(path, f"unknown emotion code {emo!r} (known: {sorted(EMOTIONS)})")
    return {"speaker": spk, "text_code": text, "emotion": emo, "version": version}


def copy_note(headers: list[tuple[int, int]]) -> str | None:
    """The caveat for this copy from its (sample rate, frames) pairs, or ``None`` if official-like."""
    if not headers:
        return None
    if all(sr == MIRROR_RATE and n == MIRROR_FRAMES for sr, n in headers):
        return COPY_CAVEAT
    rates = sorted({sr for sr, _ in headers})
    if rates != [OFFICIAL_RATE]:
        return (f"Emo-DB copy differs from the official release: sample rate(s) {rates} Hz where the "
                f"official files are {OFFICIAL_RATE} Hz. Results may not be comparable with "
                "published Emo-DB numbers.")
    return None


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the Emo-DB folder ``root`` (see :data:`LAYOUT`).

    Every file is checked (:func:`~sercore.data._io.check_audio`: readable, not empty, at
    least 25 ms, not truncated, no NaN/Inf) and its name parsed; a bad one raises
    :class:`CorruptFileError` naming it, or with ``on_error='skip'`` is left out and listed
    in ``attrs['skipped']``. So are a folder named ``*.wav`` and a second file giving the
    same utterance id (``03a01Fa.wav`` next to ``03a01Fa.WAV``).
    """
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    wav_dir = root / "wav"
    if not wav_dir.is_dir():
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no folder {wav_dir}")
    files = visible_files(wav_dir, [".wav"], log)
    if not files and not log.items:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no .wav files in {wav_dir}")

    records, headers, seen = [], [], {}
    for path in files:
        try:
            f = parse_name(path)
            info = check_audio(path)
            claim_id(seen, path.stem, path)
        except CorruptFileError as exc:
            log.handle(exc)
            continue
        headers.append((info.samplerate, info.frames))
        records.append({
            "utt_id": path.stem,
            "path": str(path.resolve()),
            "text": SENTENCES[f["text_code"]],
            "label": EMOTIONS[f["emotion"]],
            "label_raw": f["emotion"],
            "speaker": f["speaker"],
            "gender": SPEAKERS[f["speaker"]][0],
            "language": "de",
            "corpus": NAME,
        })
    return make_manifest(records, root=root, note=copy_note(headers), skipped=log.items)

# ----------------------------------------------------------------------------- fixture

def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    10 speakers (the corpus' own codes and sexes) x 7 emotions x 2 sentences of the corpus' ten,
    16 kHz wavs: 140 files ``wav/<spk><text><emo><version>.wav``."""
    from . import fixtures as F

    codes = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
             "T": "sad", "N": "neutral"}
    females = [c for c, (sex, _) in SPEAKERS.items() if sex == "F"]
    males = [c for c, (sex, _) in SPEAKERS.items() if sex == "M"]
    order = {c: 2 * females.index(c) for c in females} | {c: 2 * males.index(c) + 1 for c in males}
    texts = list(SENTENCES)
    n = 0
    for si, spk in enumerate(sorted(SPEAKERS)):
        for ei, (letter, emo) in enumerate(codes.items()):
            for k in range(2):
                tc = texts[(3 * si + 2 * ei + k) % len(texts)]
                u = sp.get("de", order[spk], emo, k, sentence=(tc, SENTENCES[tc]))
                version = "ab"[(si + ei) % 2]
                F.write_wav(root / "wav" / f"{spk}{tc}{letter}{version}.wav", u.wave, OFFICIAL_RATE)
                n += 1
    (root / "erkennung.txt").write_text("Satz\terkannt\tnatuerlich\n", encoding="utf-8")
    return {"utterances": n}


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="Emo-DB", layout=LAYOUT, load=load, order=1,
    label_map="emodb7", label_maps=(EMODB7, EMODB4_MDAT), modalities=("audio", "text"), protocol="loso_speaker",
    write_fixture=write_fixture,
    fixture={"utterances": 140, "speakers": 10,
             "labels": {e: 20 for e in ("angry", "boredom", "disgust", "fear", "happy", "neutral", "sad")}})
