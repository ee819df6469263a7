"""MSP-IMPROV (Busso et al., 2017): six dyadic sessions, twelve actors, improvised scenes.

Read from the layout of the release: audio under
``Audio/session<n>/<sentence><target>/<condition>/MSP-IMPROV-*.wav`` (the
``Audio/`` level may be absent), video in the same tree under ``Video/``, and
the ratings file ``Evaluation.txt``. In it every clip has one consensus line
followed by its raters' lines::

    UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:2.600000; V:2.000000; D:3.000000 ; N:3.400000;
    rater_07; Angry; Frustrated; A:3.000000; V:2.000000; D:3.000000; N:4.000000;

File names: ``MSP-IMPROV-S<sentence 2 digits><target emotion A/H/S/N>-<F|M><session
2 digits>-<condition>-<turn>``: ``F01`` is the actress of session 1, the
condition is ``R`` (target sentence read), ``S`` (target sentence improvised),
``T`` (other improvised turns) or ``P`` (natural interaction between takes).

Decisions
---------
* Rows are the wav files that have a consensus line; the consensus letter is the
  label: A angry, H happy, S sad, N neutral, O other, and X (no agreement among
  the raters) is also stored as ``other`` with ``label_raw`` ``X``. Four-class
  maps drop ``other``.
* ``speaker`` is ``F01``..``M06`` (sex + session), ``session`` the integer 1..6.
* Wavs without a consensus line, and consensus lines without a wav, are counted
  in ``attrs['note']``.
* ``text`` is ``None``: the release has no transcripts.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..registry import Corpus
from ._io import check_audio, claim_id, examples, join_notes, read_text, require_root
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .manifest import make_manifest

NAME = "msp_improv"
DIRNAME = "msp-improv"
LAYOUT = """\
msp-improv/
  Evaluation.txt                        consensus + rater lines per clip:
      UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:2.600000; V:2.000000; D:3.000000 ; N:3.400000;
      rater_07; Angry; Frustrated; A:3.000000; V:2.000000; D:3.000000; N:4.000000;
  Audio/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav   Audio/session<1..6>/<S##E>/<R|S|T|P>/*.wav
  ...                                                     (session<n>/ directly at the top also accepted)
  Video/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.avi   (optional)"""

LETTERS: dict[str, str] = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral",
                           "O": "other", "X": "other"}
CONDITIONS = {"R": "read", "S": "target improvised", "T": "other improvised", "P": "natural interaction"}
EVAL_NAMES = ("Evaluation.txt", "Evalution.txt", "evaluation.txt")

# S01A-F01-S-FM01 : sentence, target emotion, sex, session, condition, turn
_ID_RE = re.compile(r"S(\d{2})([A-Z])-([FM])(\d{2})-([A-Z])-([A-Z]{1,2}\d{1,3})")
_NAME_RE = re.compile(r"^(?:MSP|UTD)-IMPROV-(" + _ID_RE.pattern + r")$")
_CONSENSUS_RE = re.compile(r"^(?:MSP|UTD)-IMPROV-(" + _ID_RE.pattern + r")\.(?:avi|wav)\s*;\s*([A-Z])\s*;")


def parse_evaluation(path: Path, log: SkipLog) -> dict[str, str]:
    """Clip key (``S01A-F01-S-FM01``) -> consensus letter, from the consensus lines."""
    out: dict[str, str] = {}
    where: dict[str, int] = {}
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        line = line.strip()
        if not re.match(r"^(?:MSP|UTD)-IMPROV-", line):
            continue   # rater lines, blanks
        m = _CONSENSUS_RE.match(line)
        try:
            if not m:
                raise CorruptFileError(path, f"line {n} is not '<UTD-IMPROV-id>.avi; <letter>; "
                                             f"A:..; V:..; D:.. ; N:..;': {line[:80]!r}")
            key, letter = m.group(1), m.group(8)
            if letter not in LETTERS:
                raise CorruptFileError(path, f"line {n}: unknown consensus label {letter!r} "
                                             f"(known: {sorted(LETTERS)})")
            if key in out:
                raise CorruptFileError(path, f"line {n}: a second consensus line for {key} "
                                             f"(first at line {where[key]})")
        except CorruptFileError as exc:
            log.handle(exc)
            continue
        out[key], where[key] = letter, n
    if not out:
        raise CorruptFileError(path, "no consensus lines ('UTD-IMPROV-<id>.avi; <letter>; ...')")
    return out


def load(root: Path, on_error: str = "raise") -> pd.DataFrame:
    """Manifest of the MSP-IMPROV folder ``root`` (see :data:`LAYOUT`)."""
    log = SkipLog(on_error)
    root = require_root(NAME, root, LAYOUT)
    eval_path = next((root / n for n in EVAL_NAMES if (root / n).is_file()), None)
    if eval_path is None:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail="no Evaluation.txt")
    audio_root = root / "Audio" if (root / "Audio").is_dir() else root
    sessions = sorted(p for p in audio_root.iterdir()
                      if p.is_dir() and re.fullmatch(r"session\d+", p.name, re.IGNORECASE))
    if not sessions:
        raise CorpusNotFoundError(NAME, root, LAYOUT, detail=f"no session<n> folders in {audio_root}")
    consensus = parse_evaluation(eval_path, log)
    video_root = root / "Video"

    records, unlabelled, seen, ids = [], [], set(), {}
    for sdir in sessions:
        for wav in sorted(sdir.rglob("*.wav")):
            if wav.name.startswith("."):
                continue
            try:
                if not wav.is_file():
                    raise CorruptFileError(wav, "is a folder (or other non-file) named like a .wav file")
                m = _NAME_RE.match(wav.stem)
                if not m:
                    raise CorruptFileError(wav, "file name does not follow MSP-IMPROV-S<##><A|H|S|N>-"
                                                "<F|M><##>-<R|S|T|P>-<turn>.wav (e.g. "
                                                "MSP-IMPROV-S01A-F01-S-FM01.wav)")
                key = m.group(1)
                if key not in consensus:
                    unlabelled.append(wav.name)
                    continue
                _, sentence, target, sex, session, condition, _turn = m.groups()
                if sdir.name.lower() != f"session{int(session)}":
                    raise CorruptFileError(wav, f"session {int(session)} in the name ({sex}{session}) "
                                                f"but the file is in folder {sdir.name!r}")
                check_audio(wav)
                claim_id(ids, wav.stem, wav)
            except CorruptFileError as exc:
                log.handle(exc)
                continue
            seen.add(key)
            letter = consensus[key]
            avi = video_root / wav.relative_to(audio_root).with_suffix(".avi")
            records.append({
                "utt_id": wav.stem,
                "path": str(wav.resolve()),
                "label": LETTERS[letter],
                "label_raw": letter,
                "speaker": f"{sex}{session}",
                "gender": sex,
                "session": int(session),
                "language": "en",
                "corpus": NAME,
                "video": str(avi.resolve()) if video_root.is_dir() and avi.is_file() else None,
            })
    no_wav = sorted(set(consensus) - seen)
    skipped_keys = {Path(p).stem.split("IMPROV-")[-1] for p, _ in log.items}
    no_wav = [k for k in no_wav if k not in skipped_keys]
    note = join_notes([
        f"{len(unlabelled)} wav(s) have no consensus line in {eval_path.name} and were left out: "
        f"{examples(unlabelled)}." if unlabelled else None,
        f"{len(no_wav)} rated clip(s) have no wav: {examples(no_wav)}." if no_wav else None,
        "Consensus X (no agreement) and O are stored as label 'other' (label_raw keeps the letter).",
    ])
    return make_manifest(records, root=root, note=note, skipped=log.items)

# ----------------------------------------------------------------------------- fixture

_MSP_LETTERS = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral"}
_MSP_CONDITIONS = ("S", "R", "T", "P")
_MSP_FPS = 30000 / 1001


def write_fixture(root: Path, sp: F.Speech) -> dict:
    """A small copy of the corpus in its official layout, into ``root`` (:mod:`sercore.data.fixtures`):
    6 sessions x 2 speakers x 4 emotions x 2 clips + one ``X`` and one ``O`` clip per session (108):
    ``Audio/session<n>/S<##><E>/<cond>/*.wav`` (16 kHz), the same tree of avi clips under ``Video/`` and
    ``Evaluation.txt`` with consensus and rater lines."""
    from . import fixtures as F

    media = F.media()
    rng = F.rng(sp.seed, "msp-improv")
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
            wav = F.write_wav(root / "Audio" / rel.with_suffix(".wav"), u.wave)
            frames = F.canvas(u.faces(), _MSP_FPS, u.seconds, 96, 128)
            avi = root / "Video" / rel.with_suffix(".avi")
            media.write_clip(avi, audio=u.wave, sr=F.SR, frames=frames, fps=_MSP_FPS,
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


CORPUS = Corpus(
    name=NAME, dirname=DIRNAME, title="MSP-IMPROV", layout=LAYOUT, load=load, order=6,
    label_map="ser4", modalities=("audio", "video"), protocol="loso",
    write_fixture=write_fixture,
    fixture={"utterances": 108, "speakers": 12,
             "labels": {"angry": 24, "happy": 24, "sad": 24, "neutral": 24, "other": 12}})
