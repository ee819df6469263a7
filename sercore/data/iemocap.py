"""IEMOCAP, full release (Busso et al., 2008): five dyadic sessions, ten actors.

Read from the layout of ``IEMOCAP_full_release``: one wav per utterance under
``Session*/sentences/wav/<dialog>/``, the categorical consensus label per
utterance in ``Session*/dialog/EmoEvaluation/<dialog>.txt``, the transcript in
``Session*/dialog/transcriptions/<dialog>.txt`` and, when present, the dialogue
video ``Session*/dialog/avi/DivX/<dialog>.avi``.

Decisions
---------
* Rows are the utterances of the EmoEvaluation files (10,039 in the release).
  Every code is kept: ``oth`` and ``xxx`` (no majority among the evaluators) both
  become ``label='other'``; ``label_raw`` keeps the code, so the two stay apart.
  The papers' label maps (``iemocap4`` ...) drop ``other``.
* ``speaker`` is ``Ses0<n><F|M>``: the session and the sex letter in front of the
  utterance number (``Ses01F_impro01_M012`` is ``Ses01M``), since each session
  has one actress and one actor. ``session`` is the integer 1..5.
* ``path`` is the utterance wav (``start``/``end`` empty: the whole file). When an
  utterance wav is missing but the dialogue wav ``dialog/wav/<dialog>.wav`` exists,
  ``path`` is that file with the utterance's ``start``/``end``; when neither
  exists ``path`` is ``None``. Both cases are counted in ``attrs['note']``.
* ``video`` is the dialogue avi with the utterance's times as a W3C media
  fragment, ``.../Ses01F_impro01.avi#t=6.2901,8.2357``
  (:func:`sercore.data._io.split_media_fragment` splits it), because the
  manifest's ``start``/``end`` belong to ``path``.
* Utterance wavs with no line in their EmoEvaluation file are left out and
  counted in the note.
* Checked where read, each an error naming the file (or, with ``on_error='skip'``,
  a counted skip in ``attrs['skipped']``): an unknown emotion code; an utterance
  whose session disagrees with the ``Session<n>`` folder of its label file; an
  utterance id read twice; an utterance wav that is not sound audio
  (:func:`~sercore.data._io.check_audio`). When a session has a
  ``dialog/transcriptions`` folder, every labelled utterance needs a non-blank
  line in its dialogue's transcript file (a missing file or line, or a blank
  transcript, is such an error: one silent gap would drop the text modality of
  the whole corpus). A session without that folder has ``text`` ``None``
  throughout, and the note says so.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ._io import (check_audio, claim_id, examples, join_notes, media_fragment, read_text,
                  require_root, visible_dirs, visible_files)
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .manifest import make_manifest

NAME = "iemocap"
DIRNAME = "iemocap"
LAYOUT = """\
iemocap/                                   (the IEMOCAP_full_release folder)
  Session1/ ... Session5/
    sentences/wav/<dialog>/<utterance>.wav   sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav
    dialog/EmoEvaluation/<dialog>.txt        labels, one line per utterance:
        [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
    dialog/transcriptions/<dialog>.txt       Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
    dialog/avi/DivX/<dialog>.avi             (optional) dialogue video
    dialog/wav/<dialog>.wav                  (optional) dialogue audio, used when an utterance wav is missing"""

#: IEMOCAP's category codes -> canonical labels (nothing dropped)
CODES: dict[str, str] = {
    "ang": "angry", "hap": "happy", "exc": "excited", "sad": "sad", "neu": "neutral",
    "fru": "frustrated", "fea": "fear", "sur": "surprise", "dis": "disgust",
    "oth": "other", "xxx": "other",
}

_LABEL_RE = re.compile(
    r"^\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]\s+(\S+)\s+(\S+)\s+\[.*\]\s*$")
_TRANS_RE = re.compile(r"^(Ses\S+)\s+\[\s*[\d.]+\s*-\s*[\d.]+\s*\]:\s?(.*)$")
_SPEAKER_RE = re.compile(r"^Ses(\d{2})[FM]_.*_([FM])[A-Z]*\d+$")


def parse_labels(path: Path, dialog: str, log: SkipLog, session: int | None = None) -> list[dict]:
    """Utterance lines of one EmoEvaluation file (``[start - end] id code [v, a, d]``).

    Each line must name an utterance of ``dialog`` in ``session`` (the ``Session<n>`` folder
    the file is in) and a known code; otherwise :class:`CorruptFileError` naming the file and
    line (or a counted skip)."""
    text = read_text(path)
    out, bad = [], 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("["):
            continue   # header ("% [START_TIME - END_TIME] ..."), evaluator lines, blanks
        m = _LABEL_RE.match(line.strip())
        try:
            if not m:
                raise CorruptFileError(path, f"line {n} is not '[start - end]<TAB>utterance<TAB>"
                                             f"code<TAB>[v, a, d]': {line.strip()[:80]!r}")
            start, end, utt, code = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
            if code not in CODES:
                raise CorruptFileError(path, f"line {n}: unknown emotion code {code!r} "
                                             f"(known: {sorted(CODES)})")
            sm = _SPEAKER_RE.match(utt)
            if not sm or not utt.startswith(dialog + "_"):
                raise CorruptFileError(path, f"line {n}: utterance id {utt!r} does not look like "
                                             f"{dialog}_<F|M><number>")
            if session is not None and int(sm.group(1)) != session:
                raise CorruptFileError(path, f"line {n}: utterance {utt} belongs to session "
                                             f"{int(sm.group(1))} but its label file is under "
                                             f"Session{session}")
        except CorruptFileError as exc:
            log.handle(exc)
            bad += 1
            continue
        out.append({"utt": utt, "line": n, "start": start, "end": end, "code": code,
                    "session": int(sm.group(1)), "gender": sm.group(2)})
    if not out and not bad:
        raise CorruptFileError(path, "no utterance lines ('[start - end]<TAB>utterance<TAB>code"
                                     "<TAB>[v, a, d]') found")
    return out


def parse_transcripts(path: Path) -> dict[str, str]:
    """Utterance id -> transcript, stripped (lines that are not utterances are ignored; a
    blank transcript is kept as ``''`` for the loader to refuse)."""
    out = {}
    for line in read_text(path).splitlines():
        m = _TRANS_RE.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the IEMOCAP full release at ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    sessions = sorted((p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"Session[1-5]", p.name)),
                      key=lambda p: p.name)
    if not sessions:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail="no Session1..Session5 folders")

    records: list[dict] = []
    seen: dict[str, str] = {}
    unlabelled: list[str] = []
    from_dialog_wav: list[str] = []
    no_audio: list[str] = []
    no_trans_dir: list[str] = []
    for sdir in sessions:
        emo_dir = sdir / "dialog" / "EmoEvaluation"
        wav_root = sdir / "sentences" / "wav"
        if not emo_dir.is_dir():
            raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no label folder {emo_dir}")
        if not wav_root.is_dir():
            raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no audio folder {wav_root}")
        if not (sdir / "dialog" / "transcriptions").is_dir():
            no_trans_dir.append(sdir.name)
        label_files = {p.stem: p for p in visible_files(emo_dir, [".txt"])}
        wav_dialogs = {p.name: p for p in visible_dirs(wav_root)}
        if not label_files:
            raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no label files in {emo_dir}")
        missing = sorted(set(wav_dialogs) - set(label_files))
        if missing:
            raise CorpusNotFoundError(
                NAME, root, LAYOUT,
                detail=f"no label file {emo_dir}/<dialog>.txt for {examples(missing)}")

        for dialog, label_file in sorted(label_files.items()):
            try:
                utts = parse_labels(label_file, dialog, log, session=int(sdir.name[-1]))
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            if not utts:
                continue            # skip mode: every line of it was skipped (and counted)
            trans_dir = sdir / "dialog" / "transcriptions"
            trans_file = trans_dir / f"{dialog}.txt"
            texts = None            # None: this session has no transcriptions folder at all
            if trans_dir.is_dir():
                try:
                    if not trans_file.is_file():
                        raise CorruptFileError(trans_file, f"missing: no transcript file for dialogue "
                                                           f"{dialog} ({len(utts)} labelled utterances)")
                    texts = parse_transcripts(trans_file)
                except CorruptFileError as exc:
                    log.handle(exc)
                    continue        # skip mode: the dialogue's utterances are left out
            avi = sdir / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
            dialog_wav = sdir / "dialog" / "wav" / f"{dialog}.wav"
            wav_dir = wav_dialogs.get(dialog)
            wavs = {p.stem: p for p in visible_files(wav_dir, [".wav"], log)} if wav_dir else {}
            labelled = {u["utt"] for u in utts}
            unlabelled += sorted(set(wavs) - labelled)
            for u in utts:
                utt = u["utt"]
                path, start, end = None, None, None
                try:
                    claim_id(seen, utt, label_file, f"line {u['line']}")
                    if texts is not None and utt not in texts:
                        raise CorruptFileError(trans_file, f"no transcript line for {utt}")
                    if texts is not None and not texts[utt]:
                        raise CorruptFileError(trans_file, f"blank transcript for {utt}")
                    if utt in wavs:
                        check_audio(wavs[utt])
                except CorruptFileError as exc:
                    log.handle(exc)
                    continue
                if utt in wavs:
                    path = str(wavs[utt].resolve())
                elif dialog_wav.is_file():
                    path, start, end = str(dialog_wav.resolve()), u["start"], u["end"]
                    from_dialog_wav.append(utt)
                else:
                    no_audio.append(utt)
                text = texts[utt] if texts is not None else None
                records.append({
                    "utt_id": utt,
                    "path": path, "start": start, "end": end,
                    "text": text,
                    "label": CODES[u["code"]],
                    "label_raw": u["code"],
                    "speaker": f"Ses{u['session']:02d}{u['gender']}",
                    "gender": u["gender"],
                    "session": u["session"],
                    "language": "en",
                    "corpus": NAME,
                    "video": media_fragment(avi.resolve(), u["start"], u["end"]) if avi.is_file() else None,
                })

    found = [int(s.name[-1]) for s in sessions]
    note = join_notes([
        f"Only sessions {found} of 1-5 were found." if found != [1, 2, 3, 4, 5] else None,
        f"{len(unlabelled)} utterance wav(s) have no line in their EmoEvaluation file and were "
        f"left out: {examples(unlabelled)}." if unlabelled else None,
        f"{len(from_dialog_wav)} utterance(s) have no utterance wav; path is the dialogue wav "
        f"with start/end: {examples(from_dialog_wav)}." if from_dialog_wav else None,
        f"{len(no_audio)} utterance(s) have no audio at all (path None): "
        f"{examples(no_audio)}." if no_audio else None,
        f"Session(s) {no_trans_dir} have no dialog/transcriptions folder: their text is None."
        if no_trans_dir else None,
    ])
    return make_manifest(records, root=root, note=note, skipped=log.items)
