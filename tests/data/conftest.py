"""Fixture trees in each corpus' official layout, written into tmp_path.

Every builder takes the corpus folder, writes a handful of tiny generated wav
files and the label / transcript files in the release's own format, and
returns a dict of what it wrote so that tests can compare against it.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from sercore.data.mosei import write_csd as _write_csd



# ----------------------------------------------------------------------------- files

def write_wav(path: Path, seconds: float = 0.05, sr: int = 16000) -> Path:
    """A short sine tone; a real, readable PCM wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sr))) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype("float32"), sr, subtype="PCM_16")
    return path


def write_garbage(path: Path) -> Path:
    """Bytes that are not audio, under an audio file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a RIFF file \x00\x01\x02" * 20)
    return path


def write_empty_wav(path: Path, sr: int = 16000) -> Path:
    """A valid wav header with zero frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(0, dtype="float32"), sr, subtype="PCM_16")
    return path


def write_mp4(path: Path) -> Path:
    """A real 0.2 s MP4 clip (H.264 frames + AAC audio): the loaders' clip check decodes it."""
    from sercore.features.media import write_clip

    sr = 16000
    t = np.arange(int(0.2 * sr)) / sr
    frames = np.zeros((5, 32, 32), np.uint8)
    frames[:, 8:24, 8:24] = np.arange(5, dtype=np.uint8)[:, None, None] * 40
    return write_clip(path, audio=(0.1 * np.sin(2 * np.pi * 220 * t)).astype("float32"), sr=sr,
                      frames=frames, fps=25)


# ----------------------------------------------------------------------------- Emo-DB

EMODB_FILES = {          # name -> (label, speaker, gender, text code)
    "03a01Fa": ("happy", "03", "M", "a01"),
    "08b02Wb": ("angry", "08", "F", "b02"),
    "16a05Nc": ("neutral", "16", "F", "a05"),
    "10b09Lb": ("boredom", "10", "M", "b09"),
    "11a02Ea": ("disgust", "11", "M", "a02"),
    "13b10Ab": ("fear", "13", "F", "b10"),
    "14a07Tc": ("sad", "14", "F", "a07"),
}


def make_emodb(root: Path, mirror: bool = False) -> dict:
    """``emodb/wav/*.wav``; ``mirror=True`` writes the 22,050 Hz / exactly 2.0 s copy."""
    for i, name in enumerate(EMODB_FILES):
        if mirror:
            write_wav(root / "wav" / f"{name}.wav", seconds=2.0, sr=22050)
        else:
            write_wav(root / "wav" / f"{name}.wav", seconds=0.05 + 0.01 * i, sr=16000)
    (root / "erkennung.txt").write_text("Nr.\tSatz\terkannt\tnatuerlich\n", encoding="utf-8")
    return EMODB_FILES


# ----------------------------------------------------------------------------- IEMOCAP

_EMO_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"

IEMOCAP_UTTS = {  # dialog -> [(utt, start, end, code, transcript)]
    "Ses01F_impro01": [
        ("Ses01F_impro01_F000", 6.2901, 8.2357, "neu", "Excuse me."),
        ("Ses01F_impro01_M000", 10.01, 11.3925, "fru", "Do you have your forms?"),
        ("Ses01F_impro01_F001", 14.8872, 18.0175, "exc", "Yeah."),
        ("Ses01F_impro01_M001", 18.9, 20.1, "xxx", "Let me see them."),
    ],
    "Ses01M_script01_1": [
        ("Ses01M_script01_1_F000", 1.5, 3.25, "ang", "What is he doing?"),
        ("Ses01M_script01_1_M003", 4.0, 5.5, "hap", "Nothing at all."),
    ],
    "Ses02F_impro02": [
        ("Ses02F_impro02_F000", 2.0, 4.0, "sad", "I don't know."),
        ("Ses02F_impro02_M000", 5.0, 7.125, "neu", "Okay."),   # no utterance wav: dialog wav
    ],
}


def write_emo_evaluation(path: Path, utts) -> None:
    lines = [_EMO_HEADER]
    for utt, start, end, code, _ in utts:
        lines.append(f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 2.5000]\n")
        lines.append("C-E2:\tNeutral;\t()\nC-E3:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


def make_iemocap(root: Path) -> dict:
    for dialog, utts in IEMOCAP_UTTS.items():
        sdir = root / f"Session{int(dialog[3:5])}"
        write_emo_evaluation(sdir / "dialog" / "EmoEvaluation" / f"{dialog}.txt", utts)
        trans = "".join(f"{u} [{s:08.4f}-{e:08.4f}]: {t}\n" for u, s, e, _, t in utts)
        (sdir / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
        (sdir / "dialog" / "transcriptions" / f"{dialog}.txt").write_text(trans, encoding="utf-8")
        for utt, *_ in utts:
            if utt != "Ses02F_impro02_M000":
                write_wav(sdir / "sentences" / "wav" / dialog / f"{utt}.wav")
    # the dialogue wav of session 2 stands in for its missing utterance wav
    write_wav(root / "Session2" / "dialog" / "wav" / "Ses02F_impro02.wav", seconds=0.2)
    # an utterance wav with no label line
    write_wav(root / "Session2" / "sentences" / "wav" / "Ses02F_impro02" / "Ses02F_impro02_F001.wav")
    # the dialogue video of one dialogue
    avi = root / "Session1" / "dialog" / "avi" / "DivX" / "Ses01F_impro01.avi"
    avi.parent.mkdir(parents=True, exist_ok=True)
    avi.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST")
    return IEMOCAP_UTTS


# ----------------------------------------------------------------------------- IEMOCAP text

IEMOCAP_TEXT_ROWS = [
    ("Ses01F_impro01", 1, 0, "F", "neutral", "train", "Excuse me."),
    ("Ses01F_impro01", 1, 1, "M", "frustrated", "train", "Do you have your forms?"),
    ("Ses02M_script01_1", 2, 0, "M", "excited", "valid", "Oh, that's great, really great."),
    ("Ses05F_impro03", 5, 0, "F", "happy", "test", "We got married!"),
    ("Ses05F_impro03", 5, 1, "M", "angry", "test", "Why didn't you tell me?"),
]


def make_iemocap_text(root: Path, rows=IEMOCAP_TEXT_ROWS) -> list:
    import csv
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "utterances.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["dialogue", "session", "turn", "speaker", "label", "split", "text"])
        w.writerows(rows)
    return rows


# ----------------------------------------------------------------------------- MELD

MELD_HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
               "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]
MELD_ROWS = {  # split -> rows (utterance, speaker, emotion, sentiment, dia, utt)
    "train": [
        ("also I was the point person on my company\u2019s transition.", "Chandler", "neutral",
         "neutral", 0, 0),
        ("Oh my God, he\u00e2\u0080\u0099s lost it.", "Monica", "surprise", "negative", 0, 1),
        ("That's great!", "Joey", "joy", "positive", 1, 0),
    ],
    "dev": [
        ("Oh, what\u2019s wrong?", "Rachel", "sadness", "negative", 0, 0),
        ("Get out!", "Ross", "anger", "negative", 0, 1),
    ],
    "test": [
        ("Why do all your coffee mugs have numbers on the bottom?", "Mark", "surprise", "positive", 0, 0),
        ("Ew.", "Rachel", "disgust", "negative", 0, 1),
        ("I'm scared.", "Phoebe", "fear", "negative", 1, 0),
    ],
}


def write_meld_csv(path: Path, rows, encoding: str = "utf-8") -> None:
    import csv
    import io
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(MELD_HEADER)
    for i, (text, spk, emo, sent, dia, utt) in enumerate(rows, start=1):
        w.writerow([i, text, spk, emo, sent, dia, utt, 8, 21, "00:16:16,059", "00:16:21,731"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode(encoding))


def make_meld(root: Path, clips: bool = True) -> dict:
    """CSVs (dev in cp1252, the others UTF-8); with ``clips``: train clips in ``train_splits/``
    (one missing), dev clips in ``dev/dev_splits_complete/``, no test clips."""
    write_meld_csv(root / "train_sent_emo.csv", MELD_ROWS["train"])
    write_meld_csv(root / "dev_sent_emo.csv", MELD_ROWS["dev"], encoding="cp1252")
    write_meld_csv(root / "test_sent_emo.csv", MELD_ROWS["test"])
    if clips:
        write_mp4(root / "train_splits" / "dia0_utt0.mp4")
        write_mp4(root / "train_splits" / "dia0_utt1.mp4")       # dia1_utt0 is missing
        write_wav(root / "train_splits" / "dia0_utt1.wav")        # an extracted audio track
        write_mp4(root / "dev" / "dev_splits_complete" / "dia0_utt0.mp4")
        write_mp4(root / "dev" / "dev_splits_complete" / "dia0_utt1.mp4")
    return MELD_ROWS


# ----------------------------------------------------------------------------- CMU-MOSEI

MOSEI_LABELS = {  # video -> (features N x 7, intervals N x 2)
    "vidA_x1": (np.array([[1.0, 2.0, 0.3, 0.0, 0.0, 0.0, 0.0],      # happy
                          [-1.0, 0.0, 0.0, 1.5, 0.0, 0.0, 1.5]]),  # anger/fear tie -> anger
                np.array([[0.5, 3.0], [3.2, 6.0]])),
    "-3nNcZdcdvU": (np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],   # all zero -> neutral
                              [-2.0, 0.0, 1.0, 0.0, 0.0, 0.3, 0.0]]),  # sad
                    np.array([[0.0, 2.0], [2.0, 4.5]])),
    "257045": (np.array([[0.5, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0]]),      # surprise
               np.array([[1.0, 2.0]])),
}
MOSEI_WORDS = {
    "vidA_x1": ([b"well", b"i", b"really", b"like", b"it", b"sp", b"but", b"sp", b"not", b"the", b"end"],
                [[0.1, 0.45], [0.6, 0.9], [0.9, 1.4], [1.4, 1.8], [1.8, 2.2], [2.2, 3.3],
                 [3.3, 3.6], [3.6, 3.7], [3.7, 4.0], [4.0, 4.3], [4.3, 5.0]]),
}


def write_csd(path: Path, root_name: str, data: dict) -> None:
    """A computational sequence in the CMU Multimodal SDK's HDF5 layout, with minimal metadata."""
    _write_csd(path, root_name, data, metadata={"root name": root_name, "dimension names": ["x"]})


def make_mosei(root: Path, folds: str | None = "py", audio: bool = True, words: bool = True) -> dict:
    write_csd(root / "CMU_MOSEI_Labels.csd", "All Labels", MOSEI_LABELS)
    if words:
        write_csd(root / "language" / "CMU_MOSEI_TimestampedWords.csd", "words", MOSEI_WORDS)
    if folds == "py":
        (root / "cmu_mosei_std_folds.py").write_text(
            "standard_train_fold=['vidA_x1', 'other1']\n"
            "standard_valid_fold=['-3nNcZdcdvU']\n"
            "standard_test_fold=['other2']\n", encoding="utf-8")
    elif folds == "json":
        (root / "splits.json").write_text(json.dumps(
            {"train": ["vidA_x1"], "valid": ["-3nNcZdcdvU"], "test": ["257045"]}), encoding="utf-8")
    if audio:
        write_wav(root / "Audio" / "vidA_x1.wav", seconds=0.1)
    return MOSEI_LABELS


# ----------------------------------------------------------------------------- MSP-IMPROV

MSP_CLIPS = {  # clip key -> (consensus letter, wav present)
    "S01A-F01-S-FM01": ("A", True),
    "S01A-M01-R-MM01": ("H", True),
    "S02S-F01-P-FM03": ("N", True),
    "S05H-M02-T-MF02": ("X", True),
    "S07N-F02-S-FM01": ("O", True),
    "S08S-M02-R-MM02": ("S", False),   # rated, no wav
}


def make_msp_improv(root: Path) -> dict:
    lines = []
    for key, (letter, has_wav) in MSP_CLIPS.items():
        lines.append(f"UTD-IMPROV-{key}.avi; {letter}; A:2.600000; V:2.000000; D:3.000000 ; "
                     "N:3.400000;\n")
        lines.append("rater_07; Angry; Frustrated; A:3.000000; V:2.000000; D:3.000000; N:4.000000;\n")
        lines.append("rater_11; Neutral; ; A:2.000000; V:3.000000; D:3.000000; N:3.000000;\n\n")
        if has_wav:
            sent, _spk, cond, _ = key.split("-")
            session = int(key.split("-")[1][1:])
            write_wav(root / "Audio" / f"session{session}" / sent / cond / f"MSP-IMPROV-{key}.wav")
    (root / "Evaluation.txt").write_text("".join(lines), encoding="utf-8")
    # a wav that was never rated
    write_wav(root / "Audio" / "session1" / "S03A" / "T" / "MSP-IMPROV-S03A-M01-T-MF05.wav")
    avi = root / "Video" / "session1" / "S01A" / "S" / "MSP-IMPROV-S01A-F01-S-FM01.avi"
    avi.parent.mkdir(parents=True, exist_ok=True)
    avi.write_bytes(b"RIFF....AVI ")
    return MSP_CLIPS


# ----------------------------------------------------------------------------- EMOVO, URDU

EMOVO_FILES = ["dis-f1-b1", "gio-f1-l2", "neu-m2-n5", "pau-m2-d1", "rab-f3-b3", "sor-m1-l4",
               "tri-m3-n1"]
URDU_FILES = {"Angry": ["SM1_F1_A01", "SF10_F2_A0100"], "Happy": ["SM4_F3_H055"],
              "Neutral": ["SF11_F1_N03"], "Sad": ["SM23_F4_S010"]}


def make_emovo(root: Path) -> list:
    for name in EMOVO_FILES:
        write_wav(root / name.split("-")[1] / f"{name}.wav")
    (root / "documents").mkdir(parents=True, exist_ok=True)
    return EMOVO_FILES


def make_urdu(root: Path) -> dict:
    for folder, names in URDU_FILES.items():
        for n in names:
            write_wav(root / folder / f"{n}.wav")
    return URDU_FILES


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def trees():
    """The builders and constants of this module (``trees.make_emodb``, ``trees.EMODB_FILES`` ...)."""
    return SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """An empty data root; builders fill ``data_root / <DIRNAME>``."""
    d = tmp_path / "data"
    d.mkdir()
    return d
