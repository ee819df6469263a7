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

import numpy as np
import pandas as pd

from ..registry import Corpus
from ._io import (check_audio, claim_id, examples, join_notes, media_fragment, read_text,
                  require_root, visible_dirs, visible_files)
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import LabelMap
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

#: IEMOCAP's label settings (sercore.data.labels.LabelMap)
IEMOCAP4 = LabelMap("iemocap4", ("neutral", "happy", "sad", "angry"), {"excited": "happy"},
                    "IEMOCAP 4 classes: excited merged into happy; frustrated and the rest dropped.")
IEMOCAP6 = LabelMap("iemocap6", ("happy", "sad", "neutral", "angry", "excited", "frustrated"), {},
                    "IEMOCAP 6 classes of conversation research.")

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
        f"Session(s) {no_trans_dir} have no dialog/transcriptions folder, so their utterances have no text."
        if no_trans_dir else None,
    ])
    return make_manifest(records, root=root, note=note, skipped=log.items)

# ----------------------------------------------------------------------------- fixture

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


def fixture_dialogues(sp: F.Speech) -> list[dict]:
    """The dialogues both IEMOCAP fixtures are cut from: name, session, and utterances
    ``(utt id, code, fixtures.Utt, start, end)`` on the dialogue's time line."""
    from . import fixtures as F

    out = []
    for s in range(1, 6):
        for which, name in (("A", f"Ses0{s}F_impro01"), ("B", f"Ses0{s}M_script01_1")):
            rng = F.rng(sp.seed, "iemocap", name)
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


def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    5 sessions x 2 speakers, two dialogues per session (``Ses0<n>F_impro01``,
    ``Ses0<n>M_script01_1``); per speaker 11 labelled utterances: ``neu`` x2, ``hap`` x2, ``exc``, ``sad`` x2,
    ``ang`` x2, ``fru``, ``xxx`` (110). Utterance wavs (16 kHz), EmoEvaluation files with evaluator lines,
    transcriptions (plus an unlabelled ``XX`` turn per dialogue, as in the release), the dialogue wav, and the
    dialogue avi (DivX/MPEG-4 video of both faces at 29.97 frames/s, 16 kHz PCM audio) whose times match the
    labels."""
    from . import fixtures as F

    media = F.media()
    n, sources = 0, {}
    idle = {}
    for d in fixture_dialogues(sp):
        sdir = root / f"Session{d['session']}"
        name, utts = d["name"], d["utts"]
        rng = F.rng(sp.seed, "iemocap-raters", name)
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
        total = int(round(d["length"] * F.SR))
        dialog = np.zeros(total, np.float32)
        for uid, _, u, start, _ in utts:
            wav = F.write_wav(sdir / "sentences" / "wav" / name / f"{uid}.wav", u.wave)
            a = int(round(start * F.SR))
            dialog[a:a + len(u.wave)] = u.wave
            sources[str(wav.relative_to(root))] = str(u.source)
            n += 1
        F.write_wav(sdir / "dialog" / "wav" / f"{name}.wav", dialog)
        # the dialogue video: both faces side by side, the speaking one animated
        nfr = int(round(d["length"] * _AVI_FPS))
        frames = np.empty((nfr, 96, 192), np.uint8)
        spk_f, spk_m = (sp.speaker("en", 2 * (d["session"] - 1) + j) for j in (0, 1))
        for j, spk in enumerate((spk_f, spk_m)):
            if spk.id not in idle:
                idle[spk.id] = F.S.render_face(spk, "neutral", 1, F.rng(sp.seed, "idle", spk.id))[0]
            frames[:, :, 96 * j:96 * (j + 1)] = idle[spk.id].repeat(2, 0).repeat(2, 1)[None]
        for uid, _, u, start, end in utts:
            half = 0 if uid[len(name) + 1] == "F" else 1
            faces = u.faces().repeat(2, axis=1).repeat(2, axis=2)
            j0, j1 = int(np.ceil(start * _AVI_FPS)), min(nfr, int(np.ceil(end * _AVI_FPS)))
            idx = np.minimum(((np.arange(j0, j1) / _AVI_FPS - start) * F.FACE_FPS).astype(int), len(faces) - 1)
            frames[j0:j1, :, 96 * half:96 * (half + 1)] = faces[idx]
        avi = sdir / "dialog" / "avi" / "DivX" / f"{name}.avi"
        media.write_clip(avi, audio=dialog, sr=F.SR, frames=frames, fps=_AVI_FPS, video_codec="mpeg4",
                         audio_codec="pcm_s16le", codec_tag="DX50")
    return {"utterances": n, "sources": sources}


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="IEMOCAP", layout=LAYOUT, load=load, order=2,
    label_map="iemocap4", label_maps=(IEMOCAP4, IEMOCAP6), modalities=("audio", "text", "video"), protocol="loso",
    write_fixture=write_fixture,
    fixture={"utterances": 110, "speakers": 10,
             "labels": {"neutral": 20, "happy": 20, "excited": 10, "sad": 20, "angry": 20, "frustrated": 10,
                        "other": 10}})
