"""MELD, the Multimodal EmotionLines Dataset (Poria et al., 2019): Friends dialogues.

Read from the layout of ``MELD.Raw``: three CSVs (``train_sent_emo.csv``,
``dev_sent_emo.csv``, ``test_sent_emo.csv``) with one row per utterance, and the
clips ``dia<D>_utt<U>.mp4`` in the split folders the release's tarballs unpack
to (``train_splits/``, ``dev_splits_complete/``, ``output_repeated_splits_test/``,
directly under the corpus folder or under ``train/``, ``dev/``, ``test/``).

Decisions
---------
* ``utt_id`` is ``<split>_dia<D>_utt<U>`` (dialogue ids restart in every split);
  ``split`` and ``session`` are the official split (``train``/``dev``/``test``).
* Labels: neutral, joy -> happy, sadness -> sad, anger -> angry, surprise, fear,
  disgust; ``label_raw`` keeps MELD's word. Sentiment is not stored.
* ``video`` is the clip; ``path`` is a ``dia<D>_utt<U>.wav`` next to the clip when
  one was extracted, else the mp4 itself (its AAC audio track, decoded by
  :mod:`sercore.features.media` through PyAV). Without clips the corpus is text-only (``path`` and
  ``video`` ``None``) and ``attrs['note']`` says so; clips missing from a
  present folder are counted in the note.
* CSVs are decoded UTF-8, else cp1252, and UTF-8 text that was mis-decoded as
  Latin-1 (``heâ\\x80\\x99s``) is repaired; the number of repaired rows is in the note.
* A row with an unknown Emotion, an empty Speaker, a blank Utterance (one silent gap would
  drop the text modality of the whole corpus), non-integer ids or an id given twice is a
  :class:`CorruptFileError` naming the CSV, line and utterance, or with
  ``on_error='skip'`` a counted skip (``attrs['skipped']``); so is a clip or extracted wav
  that is not sound.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from ..registry import Corpus
from ._io import check_audio, check_mp4, examples, fix_mojibake, join_notes, read_text, require_root
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import LabelMap
from .manifest import make_manifest

NAME = "meld"
DIRNAME = "meld"
LAYOUT = """\
meld/                                   (the MELD.Raw folder)
  train_sent_emo.csv                    Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,
  dev_sent_emo.csv                      Utterance_ID,Season,Episode,StartTime,EndTime
  test_sent_emo.csv
  train_splits/dia0_utt0.mp4 ...        (optional: clips; also accepted under train/train_splits/)
  dev_splits_complete/dia0_utt0.mp4 ... (optional; or dev/dev_splits_complete/)
  output_repeated_splits_test/dia0_utt0.mp4 ... (optional; or test/output_repeated_splits_test/)
Without the clip folders the corpus is loaded text-only."""

#: MELD's label setting (sercore.data.labels.LabelMap)
MELD7 = LabelMap("meld7", ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"), {},
                 "MELD 7 classes (joy is stored as happy, sadness as sad, anger as angry).")

SPLITS = ("train", "dev", "test")
CSV_NAMES = {s: f"{s}_sent_emo.csv" for s in SPLITS}
#: accepted clip folders per split, official name first
CLIP_DIRS = {
    "train": ("train_splits", "train/train_splits", "train"),
    "dev": ("dev_splits_complete", "dev/dev_splits_complete", "dev_splits", "dev"),
    "test": ("output_repeated_splits_test", "test/output_repeated_splits_test", "test_splits", "test"),
}
COLUMNS = ("Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
EMOTIONS: dict[str, str] = {
    "neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry",
    "surprise": "surprise", "fear": "fear", "disgust": "disgust",
}


def clip_dir(root: Path, split: str) -> Path | None:
    """The folder holding ``split``'s clips, or ``None`` when none of the accepted ones exists."""
    for name in CLIP_DIRS[split]:
        d = root / name
        if d.is_dir() and any(d.glob("dia*_utt*.mp4")):
            return d
    return None


def read_csv_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a MELD CSV; :class:`CorruptFileError` when columns are missing."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    reader.fieldnames = fields
    missing = [c for c in COLUMNS if c not in fields]
    if missing:
        raise CorruptFileError(path, f"missing column(s) {missing}; found {fields}")
    return [(reader.line_num, row) for row in reader]


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the MELD folder ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    missing = [CSV_NAMES[s] for s in SPLITS if not (root / CSV_NAMES[s]).is_file()]
    if missing:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"missing {', '.join(missing)}")

    records, repaired = [], 0
    no_clip: dict[str, list[str]] = {}
    clip_dirs = {s: clip_dir(root, s) for s in SPLITS}
    for split in SPLITS:
        csv_path = root / CSV_NAMES[split]
        rows = read_csv_rows(csv_path)
        if not rows:
            raise CorruptFileError(csv_path, "no data rows")
        cdir = clip_dirs[split]
        seen: dict[str, int] = {}
        for line, row in rows:
            try:
                rec, fixed = _record(row, split, csv_path, line)
                if rec["utt_id"] in seen:
                    raise CorruptFileError(csv_path, f"line {line}: duplicate utterance id "
                                                     f"{rec['utt_id']} (first at line {seen[rec['utt_id']]})")
                seen[rec["utt_id"]] = line
                if cdir is not None:
                    stem = rec["utt_id"].split("_", 1)[1]        # dia<D>_utt<U>
                    mp4 = cdir / f"{stem}.mp4"
                    if mp4.is_file():
                        check_mp4(mp4)
                        wav = mp4.with_suffix(".wav")
                        if wav.is_file():
                            check_audio(wav)
                        rec["video"] = str(mp4.resolve())
                        rec["path"] = str((wav if wav.is_file() else mp4).resolve())
                    else:
                        no_clip.setdefault(split, []).append(stem)
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            repaired += fixed
            records.append(rec)

    absent = [s for s in SPLITS if clip_dirs[s] is None]
    note = join_notes([
        ("Text only: no clips found (looked for "
         + "; ".join(f"{s}: {', '.join(CLIP_DIRS[s][:2])}" for s in absent) + "), so those splits' "
         "utterances have no audio and no video.") if absent else None,
        "; ".join(f"{len(v)} {s} clip(s) missing ({examples(v)})" for s, v in no_clip.items())
        + ", so those utterances have no audio." if no_clip else None,
        "Audio is the mp4 clips' sound track (decoded through PyAV, resampled to the feature rate)."
        if len(absent) < len(SPLITS) and any((r.get("path") or "").endswith(".mp4") for r in records)
        else None,
        f"{repaired} utterance text(s) were repaired from mis-decoded UTF-8." if repaired else None,
    ])
    return make_manifest(records, root=root, note=note, skipped=log.items)


def _record(row: dict, split: str, csv_path: Path, line: int) -> tuple[dict, bool]:
    def bad(msg: str) -> CorruptFileError:
        return CorruptFileError(csv_path, f"line {line}: {msg}")

    try:
        dia, utt = int(str(row["Dialogue_ID"]).strip()), int(str(row["Utterance_ID"]).strip())
    except (TypeError, ValueError):
        raise bad(f"Dialogue_ID {row['Dialogue_ID']!r} / Utterance_ID {row['Utterance_ID']!r} "
                  "are not integers") from None
    raw = (row["Emotion"] or "").strip()
    if raw.lower() not in EMOTIONS:
        raise bad(f"unknown Emotion {raw!r} (known: {sorted(EMOTIONS)})")
    speaker = re.sub(r"\s+", " ", fix_mojibake(row["Speaker"] or "")).strip()
    if not speaker:
        raise bad("empty Speaker")
    original = (row["Utterance"] or "").strip()
    text = fix_mojibake(original)
    if not text:
        raise bad(f"blank Utterance (transcript) for {split}_dia{dia}_utt{utt}")
    return {
        "utt_id": f"{split}_dia{dia}_utt{utt}",
        "text": text,
        "label": EMOTIONS[raw.lower()],
        "label_raw": raw,
        "speaker": speaker,
        "session": split,
        "language": "en",
        "corpus": NAME,
        "split": split,
    }, text != original

# ----------------------------------------------------------------------------- fixture

_MELD_EMOTIONS = {"neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry",
                  "surprise": "surprise", "fear": "fear", "disgust": "disgust"}
_MELD_SENTIMENT = {"neutral": "neutral", "joy": "positive", "surprise": "positive",
                   "sadness": "negative", "anger": "negative", "fear": "negative", "disgust": "negative"}
#: synthetic English speaker index -> Friends character (F at even indices, as the synthetic corpus)
_MELD_SPEAKERS = {0: "Rachel", 1: "Ross", 2: "Monica", 3: "Chandler", 4: "Phoebe", 5: "Joey"}
_MELD_SPLITS = {"train": (3, "train_splits", 20), "dev": (1, "dev_splits_complete", 23),
                "test": (2, "output_repeated_splits_test", 24)}   # per emotion, clip folder, first k
_MELD_FPS = 24000 / 1001


def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    The three CSVs with the official columns (train 21, dev 7, test 14 rows: every emotion in every
    split), a mis-decoded UTF-8 (mojibake) row in train and a cp1252-encoded dev CSV, and one
    ``dia<D>_utt<U>.mp4`` per row (H.264 video of a face, AAC 48 kHz stereo audio) in ``train_splits/``,
    ``dev_splits_complete/``, ``output_repeated_splits_test/``."""
    from . import fixtures as F

    media = F.media()
    n, sources = 0, {}
    for split, (per, folder, koff) in _MELD_SPLITS.items():
        rng = F.rng(sp.seed, "meld", split)
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
                         utt, season, episode, F.clock(start), F.clock(end)])
            clip = root / folder / f"dia{dia}_utt{utt}.mp4"
            frames = F.canvas(u.faces(), _MELD_FPS, u.seconds, 96, 160)
            media.write_clip(clip, audio=u.wave, sr=F.SR, frames=frames, fps=_MELD_FPS,
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


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="MELD", layout=LAYOUT, load=load, order=4,
    label_map="meld7", label_maps=(MELD7,), modalities=("audio", "text"), protocol="official",
    write_fixture=write_fixture,
    fixture={"utterances": 42, "speakers": 6,
             "labels": {e: 6 for e in ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust")}})
