"""Corpus loaders: official layouts in (fixture trees and, when present, the real copies)."""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest
import soundfile as sf

import sercore.data as data
from sercore.data import CorpusNotFoundError, CorruptFileError, get_label_map
from sercore.data._io import split_media_fragment
from sercore.data.manifest import COLUMNS


REPO = Path(__file__).resolve().parents[2]
#: every corpus read from the data root, from the corpora's declarations (a new corpus module is tested here too)
DIRNAMES = {n: c.dirname for n, c in data.CORPORA.items() if not c.generated}


def mod(name):
    return importlib.import_module(data.CORPORA[name].load.__module__)


def by_id(df):
    return df.set_index("utt_id")


# ============================================================================ contract

@pytest.mark.parametrize("name", sorted(DIRNAMES))
def test_module_contract(name):
    m = mod(name)
    assert m.DIRNAME == DIRNAMES[name] and m.CORPUS.name == name and m.CORPUS.layout == m.LAYOUT
    assert data.corpus_module(name) is m
    assert m.LAYOUT.startswith(m.DIRNAME + "/") and m.LAYOUT.count("\n") >= 2


@pytest.mark.parametrize("name", sorted(DIRNAMES))
def test_missing_root_names_path_and_layout(name, data_root):
    with pytest.raises(CorpusNotFoundError) as ei:
        data.load(name, root=data_root)
    msg = str(ei.value)
    assert str(data_root / DIRNAMES[name]) in msg
    assert mod(name).LAYOUT.splitlines()[1] in msg
    # the loader itself, called directly on a missing folder
    with pytest.raises(CorpusNotFoundError, match="no corpus found"):
        mod(name).load(data_root / "nowhere")


@pytest.mark.parametrize("name", sorted(DIRNAMES))
def test_folder_without_layout_raises(name, data_root):
    folder = data_root / DIRNAMES[name]
    (folder / "stray").mkdir(parents=True)
    (folder / "readme.txt").write_text("nothing here")
    with pytest.raises(CorpusNotFoundError) as ei:
        mod(name).load(folder)
    assert str(folder) in str(ei.value) and mod(name).LAYOUT in str(ei.value)


def test_on_error_must_be_raise_or_skip(data_root, trees):
    trees.make_emodb(data_root / "emodb")
    with pytest.raises(ValueError, match="on_error"):
        data.load("emodb", root=data_root, on_error="ignore")


# ============================================================================ Emo-DB

def test_emodb_fixture(data_root, trees):
    trees.make_emodb(data_root / "emodb")
    df = data.load("emodb", root=data_root)          # through the registry
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == len(trees.EMODB_FILES)
    rows = by_id(df)
    emodb = mod("emodb")
    for name, (label, spk, gender, text_code) in trees.EMODB_FILES.items():
        r = rows.loc[name]
        assert (r.label, r.speaker, r.gender) == (label, spk, gender)
        assert r.label_raw == name[5]
        assert r.text == emodb.SENTENCES[text_code]
        assert Path(r.path).is_file() and Path(r.path).is_absolute()
    assert rows.loc["03a01Fa", "text"] == "Der Lappen liegt auf dem Eisschrank."
    assert set(df.language) == {"de"} and set(df.corpus) == {"emodb"}
    assert df.attrs["note"] is None and df.attrs["skipped"] == []
    assert df.attrs["root"] == str(data_root / "emodb")


def test_emodb_detects_the_mirror_copy(data_root, trees):
    trees.make_emodb(data_root / "emodb", mirror=True)
    df = data.load("emodb", root=data_root)
    assert df.attrs["note"] == mod("emodb").COPY_CAVEAT
    # one file of another length: not that copy, but still not 16 kHz
    trees.write_wav(data_root / "emodb" / "wav" / "15a04Wa.wav", seconds=1.5, sr=22050)
    note = data.load("emodb", root=data_root).attrs["note"]
    assert note != mod("emodb").COPY_CAVEAT and "22050" in note


def test_emodb_corrupt_wav_raises_then_skips(data_root, trees):
    trees.make_emodb(data_root / "emodb")
    bad = trees.write_garbage(data_root / "emodb" / "wav" / "09a01Wa.wav")
    with pytest.raises(CorruptFileError) as ei:
        data.load("emodb", root=data_root)
    assert ei.value.path == bad and str(bad) in str(ei.value)
    df = data.load("emodb", root=data_root, on_error="skip")
    assert len(df) == len(trees.EMODB_FILES) and "09a01Wa" not in set(df.utt_id)
    assert [p for p, _ in df.attrs["skipped"]] == [str(bad)]


def test_emodb_empty_wav(data_root, trees):
    trees.make_emodb(data_root / "emodb")
    empty = trees.write_empty_wav(data_root / "emodb" / "wav" / "12b01Nb.wav")
    with pytest.raises(CorruptFileError, match="0 frames") as ei:
        data.load("emodb", root=data_root)
    assert ei.value.path == empty


@pytest.mark.parametrize("bad_name", ["03a01Fa_copy.wav", "99a01Fa.wav", "03a03Fa.wav", "03a01Xa.wav"])
def test_emodb_unparseable_name(data_root, bad_name, trees):
    trees.make_emodb(data_root / "emodb")
    bad = trees.write_wav(data_root / "emodb" / "wav" / bad_name)
    with pytest.raises(CorruptFileError) as ei:
        data.load("emodb", root=data_root)
    assert ei.value.path == bad
    df = data.load("emodb", root=data_root, on_error="skip")
    assert len(df) == len(trees.EMODB_FILES) and len(df.attrs["skipped"]) == 1


# ============================================================================ IEMOCAP

def test_iemocap_fixture(data_root, trees):
    trees.make_iemocap(data_root / "iemocap")
    df = data.load("iemocap", root=data_root)
    rows = by_id(df)
    n = sum(len(u) for u in trees.IEMOCAP_UTTS.values())
    assert len(df) == n
    codes = mod("iemocap").CODES
    for dialog, utts in trees.IEMOCAP_UTTS.items():
        for utt, start, end, code, text in utts:
            r = rows.loc[utt]
            assert (r.label, r.label_raw, r.text) == (codes[code], code, text)
            assert r.session == int(dialog[3:5])
    assert rows.loc["Ses01F_impro01_M001", "label"] == "other"        # xxx kept as other
    assert rows.loc["Ses01F_impro01_F001", "label"] == "excited"
    # speaker = session + the sex letter before the utterance number
    assert rows.loc["Ses01F_impro01_M000", "speaker"] == "Ses01M"
    assert rows.loc["Ses01M_script01_1_F000", "speaker"] == "Ses01F"
    assert rows.loc["Ses01M_script01_1_F000", "gender"] == "F"
    assert sorted(df.speaker.unique()) == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    # utterance wav: whole file; the dialogue video carries the times
    r = rows.loc["Ses01F_impro01_F000"]
    assert r.path.endswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
    assert r.start is None and r.end is None
    video, vs, ve = split_media_fragment(r.video)
    assert video.endswith("Session1/dialog/avi/DivX/Ses01F_impro01.avi") and (vs, ve) == (6.2901, 8.2357)
    assert rows.loc["Ses01M_script01_1_F000", "video"] is None
    # missing utterance wav: the dialogue wav with start/end
    r = rows.loc["Ses02F_impro02_M000"]
    assert r.path.endswith("Session2/dialog/wav/Ses02F_impro02.wav") and (r.start, r.end) == (5.0, 7.125)
    note = df.attrs["note"]
    assert "Ses02F_impro02_F001" in note and "1 utterance wav(s) have no line" in note
    assert "Only sessions [1, 2]" in note
    assert "Ses02F_impro02_F001" not in set(df.utt_id)


def test_iemocap_missing_label_file(data_root, trees):
    trees.make_iemocap(data_root / "iemocap")
    (data_root / "iemocap/Session1/dialog/EmoEvaluation/Ses01M_script01_1.txt").unlink()
    with pytest.raises(CorpusNotFoundError, match="Ses01M_script01_1"):
        data.load("iemocap", root=data_root)
    shutil.rmtree(data_root / "iemocap/Session1/dialog/EmoEvaluation")
    with pytest.raises(CorpusNotFoundError, match="EmoEvaluation"):
        data.load("iemocap", root=data_root)


def test_iemocap_bad_label_line_and_corrupt_wav(data_root, trees):
    root = data_root / "iemocap"
    trees.make_iemocap(root)
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text().replace("\tfru\t", "\tbored\t"))
    with pytest.raises(CorruptFileError, match="bored") as ei:
        data.load("iemocap", root=data_root)
    assert ei.value.path == label_file
    bad_wav = trees.write_garbage(root / "Session2/sentences/wav/Ses02F_impro02/Ses02F_impro02_F000.wav")
    df = data.load("iemocap", root=data_root, on_error="skip")
    assert len(df) == sum(len(u) for u in trees.IEMOCAP_UTTS.values()) - 2
    assert {p for p, _ in df.attrs["skipped"]} == {str(label_file), str(bad_wav)}
    assert not {"Ses01F_impro01_M000", "Ses02F_impro02_F000"} & set(df.utt_id)


# ============================================================================ IEMOCAP text

def test_iemocap_text_fixture(data_root, trees):
    trees.make_iemocap_text(data_root / "iemocap-text")
    df = data.load("iemocap_text", root=data_root)
    assert len(df) == len(trees.IEMOCAP_TEXT_ROWS)
    rows = by_id(df)
    r = rows.loc["Ses02M_script01_1_000"]
    assert (r.split, r.speaker, r.session, r.label, r.gender) == ("dev", "Ses02M", 2, "excited", "M")
    assert r.text == "Oh, that's great, really great." and r.path is None
    assert rows.loc["Ses01F_impro01_001", "label"] == "frustrated"
    assert list(df.split) == ["train", "train", "dev", "test", "test"]


def test_iemocap_text_bad_rows_and_columns(data_root, trees):
    root = data_root / "iemocap-text"
    trees.make_iemocap_text(root, trees.IEMOCAP_TEXT_ROWS + [("Ses05F_impro03", 5, 2, "F", "bored", "test", "Hm.")])
    csv_path = root / "utterances.csv"
    with pytest.raises(CorruptFileError, match="line 7") as ei:
        data.load("iemocap_text", root=data_root)
    assert ei.value.path == csv_path
    df = data.load("iemocap_text", root=data_root, on_error="skip")
    assert len(df) == len(trees.IEMOCAP_TEXT_ROWS) and len(df.attrs["skipped"]) == 1
    csv_path.write_text("dialogue,session,turn,speaker,text\nSes01F_impro01,1,0,F,Hi\n")
    with pytest.raises(CorruptFileError, match="missing column"):
        data.load("iemocap_text", root=data_root)


# ============================================================================ MELD

def test_meld_with_clips(data_root, trees):
    root = data_root / "meld"
    trees.make_meld(root)
    df = data.load("meld", root=data_root)
    assert len(df) == 8
    rows = by_id(df)
    assert list(df.split).count("train") == 3 and set(df.session) == {"train", "dev", "test"}
    assert rows.loc["train_dia1_utt0", "label"] == "happy"
    assert rows.loc["train_dia1_utt0", "label_raw"] == "joy"
    assert rows.loc["dev_dia0_utt0", "label"] == "sad" and rows.loc["dev_dia0_utt1", "label"] == "angry"
    # mis-decoded UTF-8 repaired; the cp1252 CSV decoded
    assert rows.loc["train_dia0_utt1", "text"] == "Oh my God, he\u2019s lost it."
    assert rows.loc["dev_dia0_utt0", "text"] == "Oh, what\u2019s wrong?"
    assert rows.loc["train_dia0_utt0", "speaker"] == "Chandler"
    # clips: official train folder, dev under dev/, an extracted wav preferred as audio
    r = rows.loc["train_dia0_utt0"]
    assert r.video.endswith("train_splits/dia0_utt0.mp4") and r.path == r.video
    assert rows.loc["train_dia0_utt1", "path"].endswith("train_splits/dia0_utt1.wav")
    assert rows.loc["dev_dia0_utt1", "video"].endswith("dev/dev_splits_complete/dia0_utt1.mp4")
    assert rows.loc["train_dia1_utt0", "path"] is None          # clip missing from the folder
    assert df[df.split == "test"].path.isna().all()
    note = df.attrs["note"]
    assert "1 train clip(s) missing (dia1_utt0)" in note and "test: output_repeated_splits_test" in note
    assert "1 utterance text(s) were repaired" in note


def test_meld_text_only(data_root, trees):
    trees.make_meld(data_root / "meld", clips=False)
    df = data.load("meld", root=data_root)
    assert len(df) == 8 and df.path.isna().all() and df.video.isna().all()
    assert df.attrs["note"].startswith("Text only: no clips found")


def test_meld_missing_csv_bad_row_corrupt_clip(data_root, trees):
    root = data_root / "meld"
    trees.make_meld(root)
    (root / "test_sent_emo.csv").unlink()
    with pytest.raises(CorpusNotFoundError, match="test_sent_emo.csv"):
        data.load("meld", root=data_root)
    trees.write_meld_csv(root / "test_sent_emo.csv", [("Hm.", "Ross", "boredom", "neutral", 0, 0),
                                                ("Yes!", "Ross", "joy", "positive", 0, 1)])
    with pytest.raises(CorruptFileError, match="boredom"):
        data.load("meld", root=data_root)
    df = data.load("meld", root=data_root, on_error="skip")
    assert len(df) == 6 and len(df.attrs["skipped"]) == 1
    empty_clip = root / "train_splits" / "dia0_utt0.mp4"
    empty_clip.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty") as ei:
        data.load("meld", root=data_root, on_error="raise")
    assert ei.value.path == empty_clip


# ============================================================================ CMU-MOSEI

def test_mosei_fixture_with_std_folds(data_root, trees):
    trees.make_mosei(data_root / "mosei")
    df = data.load("mosei", root=data_root)
    assert len(df) == 5
    rows = by_id(df)
    assert (rows.loc["vidA_x1_0", "label"], rows.loc["vidA_x1_0", "label_raw"]) == ("happy", "happy")
    assert (rows.loc["vidA_x1_1", "label"], rows.loc["vidA_x1_1", "label_raw"]) == ("angry", "anger")
    assert (rows.loc["-3nNcZdcdvU_0", "label"], rows.loc["-3nNcZdcdvU_0", "label_raw"]) == ("neutral", "none")
    assert rows.loc["-3nNcZdcdvU_1", "label"] == "sad" and rows.loc["257045_0", "label"] == "surprise"
    assert rows.loc["vidA_x1_0", "text"] == "i really like it"
    assert rows.loc["vidA_x1_1", "text"] == "but not the end"
    assert rows.loc["257045_0", "text"] is None
    assert (rows.loc["vidA_x1_1", "start"], rows.loc["vidA_x1_1", "end"]) == (3.2, 6.0)
    assert rows.loc["vidA_x1_0", "path"].endswith("Audio/vidA_x1.wav")
    assert rows.loc["257045_0", "path"] is None
    assert rows.loc["vidA_x1_0", "split"] == "train" and rows.loc["-3nNcZdcdvU_1", "split"] == "dev"
    assert rows.loc["257045_0", "split"] is None
    assert rows.loc["vidA_x1_0", "speaker"] == "vidA_x1"
    note = df.attrs["note"]
    assert "1 segment(s)); 1 segment(s) with all six intensities 0" in note
    assert "1 video(s) are in no fold of cmu_mosei_std_folds.py" in note and "257045" in note
    mapped = get_label_map("mosei6").apply(df)
    assert len(mapped) == 4 and mapped.attrs["dropped"] == {"neutral": 1}


def test_mosei_splits_json_and_no_folds(data_root, trees):
    root = data_root / "mosei"
    trees.make_mosei(root, folds="json", audio=False, words=False)
    df = data.load("mosei", root=data_root)
    assert dict(zip(df.utt_id, df.split)) == {"-3nNcZdcdvU_0": "dev", "-3nNcZdcdvU_1": "dev",
                                              "257045_0": "test", "vidA_x1_0": "train",
                                              "vidA_x1_1": "train"}
    assert df.path.isna().all() and df.text.isna().all()
    (root / "splits.json").unlink()
    df = data.load("mosei", root=data_root)
    assert df.split.isna().all() and "No split file" in df.attrs["note"]


def test_mosei_corrupt_inputs(data_root, trees):
    root = data_root / "mosei"
    trees.make_mosei(root)
    labels = root / "CMU_MOSEI_Labels.csd"
    trees.write_csd(labels, "All Labels", {"good": ([[0.0, 1.0, 0, 0, 0, 0, 0]], [[0.0, 1.0]]),
                                     "bad": ([[0.0, 1.0, 0.0]], [[0.0, 1.0]])})
    with pytest.raises(CorruptFileError, match="video bad") as ei:
        data.load("mosei", root=data_root)
    assert ei.value.path == labels
    df = data.load("mosei", root=data_root, on_error="skip")
    assert list(df.utt_id) == ["good_0"] and len(df.attrs["skipped"]) == 1
    trees.write_garbage(labels)
    with pytest.raises(CorruptFileError, match="HDF5") as ei:
        data.load("mosei", root=data_root)
    assert ei.value.path == labels


# ============================================================================ MSP-IMPROV

def test_msp_improv_fixture(data_root, trees):
    trees.make_msp_improv(data_root / "msp-improv")
    df = data.load("msp_improv", root=data_root)
    with_wav = [k for k, (_, w) in trees.MSP_CLIPS.items() if w]
    assert sorted(df.utt_id) == sorted(f"MSP-IMPROV-{k}" for k in with_wav)
    rows = by_id(df)
    r = rows.loc["MSP-IMPROV-S01A-F01-S-FM01"]
    assert (r.label, r.label_raw, r.speaker, r.gender, r.session) == ("angry", "A", "F01", "F", 1)
    assert r.video.endswith("Video/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.avi")
    assert r.path.endswith("Audio/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav")
    assert rows.loc["MSP-IMPROV-S01A-M01-R-MM01", "label"] == "happy"
    assert rows.loc["MSP-IMPROV-S01A-M01-R-MM01", "video"] is None
    assert rows.loc["MSP-IMPROV-S05H-M02-T-MF02", "label"] == "other"
    assert rows.loc["MSP-IMPROV-S05H-M02-T-MF02", "label_raw"] == "X"
    assert rows.loc["MSP-IMPROV-S05H-M02-T-MF02", "session"] == 2
    note = df.attrs["note"]
    assert "MSP-IMPROV-S03A-M01-T-MF05.wav" in note and "S08S-M02-R-MM02" in note
    assert len(get_label_map("ser4").apply(df)) == 3


def test_msp_improv_bad_name_and_missing_evaluation(data_root, trees):
    root = data_root / "msp-improv"
    trees.make_msp_improv(root)
    bad = trees.write_wav(root / "Audio" / "session1" / "S01A" / "S" / "take_3.wav")
    with pytest.raises(CorruptFileError, match="file name") as ei:
        data.load("msp_improv", root=data_root)
    assert ei.value.path == bad
    assert len(data.load("msp_improv", root=data_root, on_error="skip").attrs["skipped"]) == 1
    (root / "Evaluation.txt").unlink()
    with pytest.raises(CorpusNotFoundError, match="Evaluation.txt"):
        data.load("msp_improv", root=data_root)


# ============================================================================ EMOVO, URDU

def test_emovo_fixture(data_root, trees):
    trees.make_emovo(data_root / "emovo")
    df = data.load("emovo", root=data_root)
    assert sorted(df.utt_id) == sorted(trees.EMOVO_FILES)
    rows = by_id(df)
    assert (rows.loc["gio-f1-l2", "label"], rows.loc["gio-f1-l2", "speaker"]) == ("happy", "f1")
    assert rows.loc["pau-m2-d1", "label"] == "fear" and rows.loc["pau-m2-d1", "gender"] == "M"
    assert rows.loc["rab-f3-b3", "label"] == "angry" and rows.loc["tri-m3-n1", "label"] == "sad"
    assert rows.loc["dis-f1-b1", "text"] == "Gli operai si alzano presto."
    assert set(df.language) == {"it"}
    assert "f2" in df.attrs["note"]                      # no f2 folder in the fixture


def test_emovo_speaker_mismatch_and_corrupt(data_root, trees):
    root = data_root / "emovo"
    trees.make_emovo(root)
    bad = trees.write_wav(root / "f1" / "neu-m1-b1.wav")
    with pytest.raises(CorruptFileError, match="folder 'f1'") as ei:
        data.load("emovo", root=data_root)
    assert ei.value.path == bad
    bad.unlink()
    empty = trees.write_empty_wav(root / "m1" / "neu-m1-b2.wav")
    df = data.load("emovo", root=data_root, on_error="skip")
    assert len(df) == len(trees.EMOVO_FILES) and df.attrs["skipped"][0][0] == str(empty)


def test_urdu_fixture(data_root, trees):
    trees.make_urdu(data_root / "urdu")
    df = data.load("urdu", root=data_root)
    assert len(df) == sum(len(v) for v in trees.URDU_FILES.values())
    rows = by_id(df)
    assert (rows.loc["SM1_F1_A01", "speaker"], rows.loc["SM1_F1_A01", "gender"]) == ("SM1", "M")
    assert (rows.loc["SF10_F2_A0100", "speaker"], rows.loc["SF10_F2_A0100", "label"]) == ("SF10", "angry")
    assert rows.loc["SM4_F3_H055", "label"] == "happy" and rows.loc["SF11_F1_N03", "label"] == "neutral"
    assert rows.loc["SM23_F4_S010", "label"] == "sad" and set(df.language) == {"ur"}


def test_urdu_bad_names(data_root, trees):
    root = data_root / "urdu"
    trees.make_urdu(root)
    wrong_folder = trees.write_wav(root / "Happy" / "SM2_F1_A07.wav")
    with pytest.raises(CorruptFileError, match="folder 'Happy'") as ei:
        data.load("urdu", root=data_root)
    assert ei.value.path == wrong_folder
    trees.write_wav(root / "Sad" / "speaker2-sad.wav")
    df = data.load("urdu", root=data_root, on_error="skip")
    assert len(df) == sum(len(v) for v in trees.URDU_FILES.values()) and len(df.attrs["skipped"]) == 2


# ============================================================================ real copies

def real(dirname: str) -> Path:
    """The real data root holding ``dirname``: ``SERCORE_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get("SERCORE_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    if not (root / dirname).is_dir():
        pytest.skip(f"real corpus not found at {root / dirname}")
    return root.resolve()


def test_real_emodb():
    root = real("emodb")
    df = data.load("emodb", root=root)
    assert len(df) == 535
    counts = df.label_raw.value_counts().to_dict()
    assert counts == {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
    assert df.speaker.nunique() == 10 and df.attrs["skipped"] == []
    assert set(df[df.speaker == "03"].gender) == {"M"} and set(df[df.speaker == "08"].gender) == {"F"}
    first = sf.info(df.path.iloc[0])
    if (first.samplerate, first.frames) == (22050, 44100):
        assert df.attrs["note"] == mod("emodb").COPY_CAVEAT
    else:
        assert df.attrs["note"] != mod("emodb").COPY_CAVEAT
    assert len(get_label_map("emodb4_mdat").apply(df)) == 420


def test_real_iemocap_text():
    root = real("iemocap-text")
    df = data.load("iemocap_text", root=root)
    assert len(df) == 7433 and df.attrs["skipped"] == []
    assert df.label.value_counts().to_dict() == {"happy": 648, "sad": 1084, "neutral": 1708, "angry": 1103,
                                                 "excited": 1041, "frustrated": 1849}
    assert ((df.session == 5) == (df.split == "test")).all()
    assert set(df.split) == {"train", "dev", "test"}
    assert df.utt_id.str.split("_").str[0].str[:5].eq("Ses0" + df.session.astype(str)).all()
    assert df.speaker.nunique() == 10 and df.text.notna().all()
    assert len(get_label_map("iemocap4").apply(df)) == 5584
