"""Every input is checked where it enters (issue 16): audio, transcripts, labels, sessions, ids, layout.

Each bad input is one case. With the default ``on_error='raise'`` it must raise an error whose
type is fixed and whose message names the file and the cause; with ``on_error='skip'`` it must be
left out and counted in ``attrs['skipped']`` (never silently dropped, never a NaN row). The
fixture trees are the official layouts built by ``tests/data/conftest.py``.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sercore.data as data
from sercore.data import CorpusNotFoundError, CorruptFileError, SkipLog, make_manifest
from sercore.data._io import MIN_AUDIO_SECONDS
from sercore.features import AudioLoadError, load_audio

_spec = importlib.util.spec_from_file_location(
    "_sercore_data_trees", Path(__file__).resolve().parents[1] / "data" / "conftest.py")
trees = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trees)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


# ============================================================================ bad audio files

def nan_wav(path: Path) -> Path:
    x = (0.1 * np.sin(np.arange(8000) / 5)).astype("float32")
    x[4000] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


def inf_wav(path: Path) -> Path:
    x = (0.1 * np.sin(np.arange(8000) / 5)).astype("float32")
    x[100:103] = np.inf
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


def empty_wav(path: Path) -> Path:
    return trees.write_empty_wav(path)


def truncated_wav(path: Path) -> Path:
    trees.write_wav(path, seconds=0.5)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])          # a copy cut off half-way
    return path


def short_wav(path: Path) -> Path:
    return trees.write_wav(path, seconds=0.01)      # 10 ms, under MIN_AUDIO_SECONDS


def folder_wav(path: Path) -> Path:
    (path / "inside").mkdir(parents=True)            # a folder named like a wav file
    return path


def not_audio_wav(path: Path) -> Path:
    return trees.write_garbage(path)


def _with_rate_field(path: Path, rate: int, sr: int = 16000, seconds: float = 0.5) -> Path:
    """A PCM wav recorded at ``sr`` whose header's sample-rate field alone was rewritten to ``rate``."""
    import struct

    trees.write_wav(path, seconds=seconds, sr=sr)
    raw = bytearray(path.read_bytes())
    assert raw[12:16] == b"fmt "
    raw[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(raw))
    return path


def rate_1hz_wav(path: Path) -> Path:
    return _with_rate_field(path, 1)


def relabelled_wav(path: Path) -> Path:
    return _with_rate_field(path, 8000, sr=22050)          # 22.05 kHz audio whose header says 8 kHz


def rate_400k_wav(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(40000, np.float32), 400000, subtype="PCM_16")     # a consistent header, 400 kHz
    return path


def text_wav(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("03a01Wa,angry\nthis file was saved under the wrong name\n")
    return path


def zero_byte_wav(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


AUDIO_FAULTS = {   # name -> (builder, words the cause is told in)
    "rate_1hz": (rate_1hz_wav, "sample rate 1 Hz is outside 4-192 kHz"),
    "rate_relabelled": (relabelled_wav, "header disagrees with itself: sample rate 8,000 Hz"),
    "rate_400k": (rate_400k_wav, "sample rate 400,000 Hz is outside 4-192 kHz"),
    "text": (text_wav, "holds text, not audio"),
    "zero_bytes": (zero_byte_wav, "empty (0 bytes)"),
    "nan": (nan_wav, "non-finite samples (NaN or Inf)"),
    "inf": (inf_wav, "non-finite samples (NaN or Inf)"),
    "empty": (empty_wav, "no samples"),
    "truncated": (truncated_wav, "truncated"),
    "too_short": (short_wav, "too short"),
    "folder": (folder_wav, "folder"),
    "not_audio": (not_audio_wav, "not a readable audio file"),
}


@pytest.mark.parametrize("fault", sorted(AUDIO_FAULTS))
def test_load_audio_refuses(tmp_path, fault):
    """load_audio: the file every feature is computed from."""
    build, cause = AUDIO_FAULTS[fault]
    path = build(tmp_path / f"{fault}.wav")
    with pytest.raises(AudioLoadError) as ei:
        load_audio(path)
    msg = str(ei.value)
    assert str(path) in msg, msg
    assert ei.value.path == path
    if fault == "not_audio":
        assert "cannot read audio file" in msg
    else:
        assert cause in msg or cause in ei.value.reason, msg


def test_load_audio_truncated_flac(tmp_path):
    """A compressed file cut short: the decoder stops, the message says so and names the file."""
    path = tmp_path / "cut.flac"
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(16000)).astype("float32"), 16000)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AudioLoadError, match="cut.flac.*cannot be fully decoded"):
        load_audio(path)


def test_load_audio_too_short_segment_states_minimum(tmp_path):
    path = trees.write_wav(tmp_path / "ok.wav", seconds=1.0)
    with pytest.raises(AudioLoadError) as ei:
        load_audio(path, start=0.5, end=0.51)
    msg = str(ei.value)
    assert "ok.wav" in msg and "too short" in msg and f"{1000 * MIN_AUDIO_SECONDS:.0f} ms" in msg
    assert load_audio(path, start=0.5, end=0.5 + MIN_AUDIO_SECONDS).shape == (400,)


def test_load_audio_nan_inside_the_part_read(tmp_path):
    """NaN is refused in the part read; a clean part of the same file still loads."""
    path = nan_wav(tmp_path / "half.wav")         # NaN at 0.25 s
    with pytest.raises(AudioLoadError, match=r"half.wav.*non-finite.*0\.250 s"):
        load_audio(path, start=0.2, end=0.3)
    w = load_audio(path, start=0.0, end=0.2)
    assert np.isfinite(w).all() and w.shape == (3200,)


def test_mfcc_extractor_refuses_nan_audio(tmp_path):
    """Features are never computed from NaN audio (Emo-DB with NaN samples trained to WA 25)."""
    from sercore.features import get_extractor

    path = nan_wav(tmp_path / "03a01Fa.wav")
    with pytest.raises(AudioLoadError, match="03a01Fa.wav.*non-finite"):
        get_extractor("mfcc")({"path": str(path), "utt_id": "03a01Fa"})


# ---------------------------------------------------------------------------- through a loader

@pytest.mark.parametrize("fault", sorted(AUDIO_FAULTS))
def test_emodb_bad_audio_raises_then_skips_counted(root, fault):
    build, cause = AUDIO_FAULTS[fault]
    trees.make_emodb(root / "emodb")
    bad = build(root / "emodb" / "wav" / "09a01Wa.wav")
    with pytest.raises(CorruptFileError) as ei:
        data.load("emodb", root=root)
    assert ei.value.path == bad and str(bad) in str(ei.value)
    assert cause in ei.value.reason, ei.value.reason
    df = data.load("emodb", root=root, on_error="skip")
    assert len(df) == len(trees.EMODB_FILES) and "09a01Wa" not in set(df.utt_id)
    assert [p for p, _ in df.attrs["skipped"]] == [str(bad)]
    assert data.summary(df)["skipped"] == 1


def _emovo(root):
    trees.make_emovo(root / "emovo")
    return root / "emovo" / "f2" / "neu-f2-b2.wav", "emovo"


def _urdu(root):
    trees.make_urdu(root / "urdu")
    return root / "urdu" / "Sad" / "SF2_F1_S01.wav", "urdu"


def _msp(root):
    trees.make_msp_improv(root / "msp-improv")
    return root / "msp-improv/Audio/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav", "msp_improv"


def _iemocap(root):
    trees.make_iemocap(root / "iemocap")
    return root / "iemocap/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav", "iemocap"


def _mosei(root):
    trees.make_mosei(root / "mosei")
    return root / "mosei" / "Audio" / "vidA_x1.wav", "mosei"


@pytest.mark.parametrize("corpus", [_emovo, _urdu, _msp, _iemocap, _mosei],
                         ids=["emovo", "urdu", "msp_improv", "iemocap", "mosei"])
def test_every_audio_loader_refuses_nan(root, corpus):
    path, name = corpus(root)
    if path.exists():
        path.unlink()
    nan_wav(path)
    with pytest.raises(CorruptFileError, match="non-finite") as ei:
        data.load(name, root=root)
    assert ei.value.path == path and str(path) in str(ei.value)
    df = data.load(name, root=root, on_error="skip")
    assert [p for p, _ in df.attrs["skipped"]] == [str(path)]
    assert str(path.resolve()) not in set(df.path.dropna())


def test_emodb_duplicate_utterance_id(root):
    """03a01Fa.WAV next to 03a01Fa.wav: two files, one utterance id."""
    trees.make_emodb(root / "emodb")
    twin = trees.write_wav(root / "emodb" / "wav" / "03a01Fa.WAV")
    with pytest.raises(CorruptFileError, match="duplicate utterance id '03a01Fa'") as ei:
        data.load("emodb", root=root)
    assert {ei.value.path.name} <= {"03a01Fa.wav", twin.name}
    assert "first read from" in str(ei.value)
    df = data.load("emodb", root=root, on_error="skip")
    assert len(df) == len(trees.EMODB_FILES) and len(df.attrs["skipped"]) == 1


def test_emovo_duplicate_utterance_id(root):
    trees.make_emovo(root / "emovo")
    trees.write_wav(root / "emovo" / "f1" / "DIS-f1-b1.wav")
    with pytest.raises(CorruptFileError, match="duplicate utterance id 'dis-f1-b1'"):
        data.load("emovo", root=root)
    assert len(data.load("emovo", root=root, on_error="skip").attrs["skipped"]) == 1


def test_msp_improv_session_folder_disagrees(root):
    """A session-2 clip (F02) filed under session1/ would be stored with the wrong session."""
    trees.make_msp_improv(root / "msp-improv")
    wrong = trees.write_wav(root / "msp-improv/Audio/session1/S07N/S/MSP-IMPROV-S07N-F02-S-FM01.wav")
    with pytest.raises(CorruptFileError, match="session 2 in the name.*'session1'") as ei:
        data.load("msp_improv", root=root)
    assert ei.value.path == wrong
    df = data.load("msp_improv", root=root, on_error="skip")
    assert [p for p, _ in df.attrs["skipped"]] == [str(wrong)]


def test_msp_improv_two_consensus_lines(root):
    trees.make_msp_improv(root / "msp-improv")
    ev = root / "msp-improv" / "Evaluation.txt"
    ev.write_text(ev.read_text() + "UTD-IMPROV-S01A-F01-S-FM01.avi; H; A:2.0; V:2.0; D:3.0 ; N:3.0;\n")
    with pytest.raises(CorruptFileError, match="second consensus line for S01A-F01-S-FM01") as ei:
        data.load("msp_improv", root=root)
    assert ei.value.path == ev
    df = data.load("msp_improv", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1
    assert df.set_index("utt_id").loc["MSP-IMPROV-S01A-F01-S-FM01", "label"] == "angry"   # the first


def test_msp_improv_unknown_consensus_label(root):
    trees.make_msp_improv(root / "msp-improv")
    ev = root / "msp-improv" / "Evaluation.txt"
    ev.write_text(ev.read_text().replace("FM01.avi; A;", "FM01.avi; Q;", 1))
    with pytest.raises(CorruptFileError, match="unknown consensus label 'Q'") as ei:
        data.load("msp_improv", root=root)
    assert ei.value.path == ev
    assert len(data.load("msp_improv", root=root, on_error="skip").attrs["skipped"]) == 1


# ============================================================================ transcripts

BLANK_ROW = ("Ses01F_impro01", 1, 2, "F", "neutral", "train", "   ")


def test_iemocap_text_blank_transcript_raises_naming_row(root):
    """One blank row among many used to make the whole text modality vanish (MLCCT: 'got ()')."""
    trees.make_iemocap_text(root / "iemocap-text", trees.IEMOCAP_TEXT_ROWS + [BLANK_ROW])
    csv_path = root / "iemocap-text" / "utterances.csv"
    with pytest.raises(CorruptFileError) as ei:
        data.load("iemocap_text", root=root)
    assert ei.value.path == csv_path
    assert "line 7" in str(ei.value) and "blank transcript for Ses01F_impro01_002" in str(ei.value)


def test_iemocap_text_blank_transcript_skipped_and_counted(root):
    trees.make_iemocap_text(root / "iemocap-text", trees.IEMOCAP_TEXT_ROWS + [BLANK_ROW])
    df = data.load("iemocap_text", root=root, on_error="skip")
    assert len(df) == len(trees.IEMOCAP_TEXT_ROWS) and len(df.attrs["skipped"]) == 1
    assert "Ses01F_impro01_002" in df.attrs["skipped"][0][1]
    assert data.modalities(df) == ("text",)            # the modality survives


def test_meld_blank_utterance(root):
    trees.make_meld(root / "meld", clips=False)
    rows = list(trees.MELD_ROWS["test"]) + [("  ", "Ross", "neutral", "neutral", 1, 1)]
    trees.write_meld_csv(root / "meld" / "test_sent_emo.csv", rows)
    csv_path = root / "meld" / "test_sent_emo.csv"
    with pytest.raises(CorruptFileError, match="line 5: blank Utterance .* test_dia1_utt1") as ei:
        data.load("meld", root=root)
    assert ei.value.path == csv_path
    df = data.load("meld", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1 and "test_dia1_utt1" not in set(df.utt_id)
    assert "text" in data.modalities(df)


def test_iemocap_blank_transcript_line(root):
    trees.make_iemocap(root / "iemocap")
    tf = root / "iemocap/Session1/dialog/transcriptions/Ses01F_impro01.txt"
    tf.write_text(tf.read_text().replace(": Do you have your forms?", ":   "))
    with pytest.raises(CorruptFileError, match="blank transcript for Ses01F_impro01_M000") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == tf
    df = data.load("iemocap", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1 and "Ses01F_impro01_M000" not in set(df.utt_id)
    assert df.text.notna().all()


def test_iemocap_missing_transcript_line(root):
    trees.make_iemocap(root / "iemocap")
    tf = root / "iemocap/Session1/dialog/transcriptions/Ses01F_impro01.txt"
    tf.write_text("".join(l for l in tf.read_text().splitlines(True) if "F001" not in l))
    with pytest.raises(CorruptFileError, match="no transcript line for Ses01F_impro01_F001") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == tf
    assert len(data.load("iemocap", root=root, on_error="skip").attrs["skipped"]) == 1


def test_iemocap_missing_transcript_file(root):
    trees.make_iemocap(root / "iemocap")
    tf = root / "iemocap/Session1/dialog/transcriptions/Ses01M_script01_1.txt"
    tf.unlink()
    with pytest.raises(CorruptFileError, match="no transcript file for dialogue Ses01M_script01_1") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == tf
    df = data.load("iemocap", root=root, on_error="skip")
    assert [p for p, _ in df.attrs["skipped"]] == [str(tf)]
    assert not any(u.startswith("Ses01M_script01_1") for u in df.utt_id)


def test_iemocap_without_transcriptions_folder_is_stated(root):
    """No transcriptions at all in a session: text None there, and the note says so (not silent)."""
    trees.make_iemocap(root / "iemocap")
    shutil.rmtree(root / "iemocap/Session2/dialog/transcriptions")
    df = data.load("iemocap", root=root)
    assert "Session2" in df.attrs["note"] and "transcriptions" in df.attrs["note"]
    assert df[df.session == 2].text.isna().all() and df[df.session == 1].text.notna().all()


def test_mosei_segment_without_words(root):
    trees.make_mosei(root / "mosei")
    words = root / "mosei" / "language" / "CMU_MOSEI_TimestampedWords.csd"
    feats, ints = trees.MOSEI_WORDS["vidA_x1"]
    keep = [i for i, (s, _) in enumerate(ints) if s < 3.0]        # nothing left in [3.2, 6.0]
    trees.write_csd(words, "words", {"vidA_x1": ([feats[i] for i in keep], [ints[i] for i in keep])})
    with pytest.raises(CorruptFileError, match="blank transcript for segment vidA_x1_1") as ei:
        data.load("mosei", root=root)
    assert ei.value.path == words
    df = data.load("mosei", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1 and "vidA_x1_1" not in set(df.utt_id)


# ============================================================================ labels, sessions, ids

def test_iemocap_text_session_disagrees_with_dialogue(root):
    """Ses03... under session 2 used to be stored as speaker Ses02F."""
    rows = trees.IEMOCAP_TEXT_ROWS + [("Ses03F_impro01", 2, 0, "F", "sad", "train", "Hello.")]
    trees.make_iemocap_text(root / "iemocap-text", rows)
    with pytest.raises(CorruptFileError, match="line 7: session 2 disagrees with dialogue Ses03F_impro01") as ei:
        data.load("iemocap_text", root=root)
    assert ei.value.path == root / "iemocap-text" / "utterances.csv"
    df = data.load("iemocap_text", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1 and "Ses02F" not in set(df.speaker)


def test_iemocap_text_dialogue_not_an_iemocap_id(root):
    rows = trees.IEMOCAP_TEXT_ROWS + [("friends_s01", 1, 0, "F", "sad", "train", "Hello.")]
    trees.make_iemocap_text(root / "iemocap-text", rows)
    with pytest.raises(CorruptFileError, match="line 7: dialogue 'friends_s01' is not an IEMOCAP"):
        data.load("iemocap_text", root=root)


def test_iemocap_text_duplicate_turn(root):
    rows = trees.IEMOCAP_TEXT_ROWS + [("Ses01F_impro01", 1, 1, "M", "angry", "train", "Again?")]
    trees.make_iemocap_text(root / "iemocap-text", rows)
    with pytest.raises(CorruptFileError) as ei:
        data.load("iemocap_text", root=root)
    msg = str(ei.value)
    assert "line 7" in msg and "duplicate utterance id 'Ses01F_impro01_001'" in msg and "line 3" in msg
    df = data.load("iemocap_text", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1
    assert df.set_index("utt_id").loc["Ses01F_impro01_001", "label"] == "frustrated"   # the first kept


def test_iemocap_text_unknown_label(root):
    rows = trees.IEMOCAP_TEXT_ROWS + [("Ses01F_impro01", 1, 2, "F", "bored", "train", "Hm.")]
    trees.make_iemocap_text(root / "iemocap-text", rows)
    with pytest.raises(CorruptFileError, match="line 7: unknown label 'bored'") as ei:
        data.load("iemocap_text", root=root)
    assert ei.value.path.name == "utterances.csv"


def test_iemocap_label_file_in_the_wrong_session(root):
    """A session-2 dialogue's labels filed under Session1: refused there, read under Session2."""
    trees.make_iemocap(root / "iemocap")
    src = root / "iemocap/Session2/dialog/EmoEvaluation/Ses02F_impro02.txt"
    stray = root / "iemocap/Session1/dialog/EmoEvaluation/Ses02F_impro02.txt"
    shutil.copy(src, stray)
    with pytest.raises(CorruptFileError, match="Ses02F_impro02_F000 belongs to session 2 but its "
                                               "label file is under Session1") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == stray
    df = data.load("iemocap", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 2
    assert set(df[df.utt_id.str.startswith("Ses02")].session) == {2}


def test_iemocap_duplicate_label_line(root):
    trees.make_iemocap(root / "iemocap")
    lf = root / "iemocap/Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    lf.write_text(lf.read_text() + "[6.2901 - 8.2357]\tSes01F_impro01_F000\tang\t[2.5000, 3.0000, 2.5000]\n")
    with pytest.raises(CorruptFileError, match="duplicate utterance id 'Ses01F_impro01_F000'") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == lf and "first read from" in str(ei.value)
    df = data.load("iemocap", root=root, on_error="skip")
    assert len(df.attrs["skipped"]) == 1
    assert df.set_index("utt_id").loc["Ses01F_impro01_F000", "label"] == "neutral"


def test_iemocap_unknown_label_code(root):
    trees.make_iemocap(root / "iemocap")
    lf = root / "iemocap/Session2/dialog/EmoEvaluation/Ses02F_impro02.txt"
    lf.write_text(lf.read_text().replace("\tsad\t", "\tmelancholy\t"))
    with pytest.raises(CorruptFileError, match="unknown emotion code 'melancholy'") as ei:
        data.load("iemocap", root=root)
    assert ei.value.path == lf
    assert len(data.load("iemocap", root=root, on_error="skip").attrs["skipped"]) == 1


def test_meld_unknown_emotion(root):
    trees.make_meld(root / "meld", clips=False)
    rows = list(trees.MELD_ROWS["dev"]) + [("Hi.", "Ross", "contempt", "neutral", 1, 0)]
    trees.write_meld_csv(root / "meld" / "dev_sent_emo.csv", rows)
    with pytest.raises(CorruptFileError, match="line 4: unknown Emotion 'contempt'") as ei:
        data.load("meld", root=root)
    assert ei.value.path.name == "dev_sent_emo.csv"
    assert len(data.load("meld", root=root, on_error="skip").attrs["skipped"]) == 1


# ============================================================================ layout, columns, schema

@pytest.mark.parametrize("name", ["emodb", "iemocap", "iemocap_text", "meld", "mosei", "msp_improv",
                                  "emovo", "urdu"])
def test_missing_corpus_folder_names_path_and_layout(root, name):
    mod = data.corpus_module(name)
    with pytest.raises(CorpusNotFoundError) as ei:
        data.load(name, root=root)
    msg = str(ei.value)
    assert str(root / mod.DIRNAME) in msg and mod.LAYOUT in msg and "SERCORE_DATA" in msg


def test_iemocap_text_csv_missing_column(root):
    (root / "iemocap-text").mkdir()
    csv_path = root / "iemocap-text" / "utterances.csv"
    csv_path.write_text("dialogue,session,turn,speaker,split,text\nSes01F_impro01,1,0,F,train,Hi\n")
    with pytest.raises(CorruptFileError, match=r"missing column\(s\) \['label'\]") as ei:
        data.load("iemocap_text", root=root)
    assert ei.value.path == csv_path


def test_meld_csv_missing_column(root):
    trees.make_meld(root / "meld", clips=False)
    p = root / "meld" / "train_sent_emo.csv"
    p.write_text(p.read_text().replace("Emotion", "Feeling", 1))
    with pytest.raises(CorruptFileError, match=r"missing column\(s\) \['Emotion'\]") as ei:
        data.load("meld", root=root)
    assert ei.value.path == p


def test_manifest_duplicate_ids_named_with_source(tmp_path):
    rec = {"utt_id": "u1", "label": "sad", "speaker": "s", "corpus": "x"}
    with pytest.raises(ValueError, match=r"manifest of .*src has 1 duplicated utt_id value\(s\): 'u1'"):
        make_manifest([rec, dict(rec)], root=tmp_path / "src")


def test_manifest_blank_required_value(tmp_path):
    recs = [{"utt_id": "u1", "label": " ", "speaker": "s", "corpus": "x"}]
    with pytest.raises(ValueError, match=r"column 'label' is empty for 1 row\(s\).*'u1'"):
        make_manifest(recs, root=tmp_path)


def test_on_error_must_be_raise_or_skip():
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip', got 'ignore'"):
        SkipLog("ignore")


# ---------------------------------------------------------------------------- what a file is, by its name

@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg", ".wav"])
def test_a_text_file_named_like_audio_is_named_as_text(tmp_path, suffix, capfd):
    """Not libsndfile's "File does not exist or is not a regular file" of a file that exists."""
    from sercore.data._io import check_audio

    path = tmp_path / f"notes{suffix}"
    path.write_text("hello, this is a text file\n")
    with pytest.raises(AudioLoadError) as ei:
        load_audio(path)
    assert f"cannot read audio file {path}: holds text, not audio" in str(ei.value)
    assert "does not exist" not in str(ei.value)
    with pytest.raises(CorruptFileError, match=f"{path}: holds text, not audio .*its {suffix} name"):
        check_audio(path)
    assert "Illegal Audio-MPEG-Header" not in capfd.readouterr().err       # no decoder noise either


def test_an_undecodable_mp3_is_not_called_missing(tmp_path):
    from sercore.data._io import check_audio

    path = tmp_path / "x.mp3"
    path.write_bytes(bytes(range(256)) * 8)                  # binary, not MPEG audio
    with pytest.raises(CorruptFileError) as ei:
        check_audio(path)
    assert "does not exist" not in str(ei.value) and "not a readable audio file" in str(ei.value)


def test_every_rate_from_4_to_192_khz_is_accepted(tmp_path):
    from sercore.data._io import check_audio

    for sr in (4000, 8000, 11025, 22050, 44100, 48000, 96000, 192000):
        p = trees.write_wav(tmp_path / f"r{sr}.wav", seconds=0.05, sr=sr)
        assert check_audio(p).samplerate == sr
        assert load_audio(p, sr=16000).shape == (800,)


def test_skip_bad_with_every_file_bad_says_all_were_skipped(root):
    from sercore import experiment

    trees.make_emodb(root / "emodb")
    wavs = sorted((root / "emodb" / "wav").glob("*.wav"))
    for w in wavs:
        text_wav(w)
    with pytest.raises(ValueError) as ei:
        experiment.load_corpus({"corpus": "emodb", "label_map": "emodb7", "data_root": str(root), "seed": 0,
                                "skip_bad": True})
    msg = str(ei.value)
    assert f"emodb: all {len(wavs)} files were skipped as unreadable or invalid (first: {wavs[0]}: holds text" in msg
    assert "no rows" not in msg
