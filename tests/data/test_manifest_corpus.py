"""Manifest corpora: a folder with manifest.csv (or EmoBox's fold lists) under the data root is a corpus.

Trees here are written with short sine tones (the names and the manifest are what is tested); the
end-to-end runs are in tests/test_manifest_runs.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sercore import cli, data, runs
from sercore.data import CorruptFileError, manifest_corpus as mc, manifest_scan as ms
from sercore.schemas import ParamsError


def tone(path: Path, seconds: float = 0.1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 16000, subtype="PCM_16")
    return path


def corpus(folder: Path, rows: list[list[str]], header: str = "path,label,speaker") -> Path:
    """``folder/manifest.csv`` with ``rows`` (each row's file written as a tone)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [header]
    for r in rows:
        lines.append(",".join(r))
        rel = r[0]
        if rel and ".." not in rel and not rel.startswith("/") and "missing" not in rel:
            tone(folder / rel)
    (folder / mc.MANIFEST).write_text("\n".join(lines) + "\n")
    return folder


def balanced(speakers=("s1", "s2", "s3"), labels=("angry", "happy", "sad"), n=2) -> list[list[str]]:
    return [[f"{s}/{lab}_{i}.wav", lab, s] for s in speakers for lab in labels for i in range(n)]


# ----------------------------------------------------------------------------- reading and its errors

def test_a_csv_manifest_is_a_corpus_found_by_name(tmp_path):
    corpus(tmp_path / "mine", balanced())
    assert mc.find(tmp_path) == {"mine": tmp_path / "mine"}
    m = data.load("mine", tmp_path)
    assert len(m) == 18 and set(m["speaker"]) == {"s1", "s2", "s3"} and (m["corpus"] == "mine").all()
    assert Path(m["path"][0]).is_absolute() and m["utt_id"][0] == "s1/angry_0.wav"
    assert "mine" in data.available(tmp_path) and data.is_available("mine", tmp_path)
    assert data.label_map("mine", tmp_path).classes == ("happy", "sad", "angry")   # the book's order
    assert m.attrs["protocol"]["name"] == "loso_speaker" and "loso_speaker" in m.attrs["note"]


@pytest.mark.parametrize("rows, where", [
    ([["s1/a.wav", "angry", "s1"], ["s1/missing.wav", "sad", "s1"]], "line 3, column 'path': no file 's1/missing.wav'"),
    ([["s1/a.wav", "angry", "s1"], ["s1/b.wav", "grumpy", "s1"]], "line 3, column 'label': unknown label 'grumpy'"),
    ([["s1/a.wav", "angry", "s1"], ["s1/b.wav", "", "s1"]], "line 3, column 'label': empty"),
    ([["s1/a.wav", "angry", "s1"], ["s1/a.wav", "sad", "s2"]],
     "line 3, column 'path': duplicate path 's1/a.wav' (also on line 2)"),
    ([["../outside.wav", "angry", "s1"]], "line 2, column 'path': '../outside.wav' leaves the corpus folder"),
    ([["/etc/x.wav", "angry", "s1"]], "line 2, column 'path': '/etc/x.wav' leaves the corpus folder"),
    ([["s1/a.wav", "angry", ""]], "line 2, column 'speaker': empty"),
])
def test_bad_manifests_are_one_line_naming_file_line_and_column(tmp_path, rows, where):
    folder = corpus(tmp_path / "bad", rows)
    with pytest.raises(CorruptFileError) as e:
        mc.index(folder)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(folder / "manifest.csv")) and where in msg, msg


def test_a_missing_file_is_skipped_and_counted_on_request(tmp_path):
    folder = corpus(tmp_path / "gaps", [*balanced(), ["s1/missing.wav", "sad", "s1"]])
    m = mc.load(folder, on_error="skip")
    assert len(m) == 18 and len(m.attrs["skipped"]) == 1 and "missing.wav" in m.attrs["skipped"][0][1]


def test_bad_split_and_missing_columns(tmp_path):
    folder = corpus(tmp_path / "s", [["a.wav", "angry", "train"], ["b.wav", "sad", "exam"]], "path,label,split")
    with pytest.raises(CorruptFileError, match="line 3, column 'split': unknown split 'exam'"):
        mc.index(folder)
    (folder / mc.MANIFEST).write_text("file,emotion\na.wav,angry\n")
    with pytest.raises(CorruptFileError, match=r"missing column\(s\) \['path', 'label'\]"):
        mc.index(folder)


def test_corpus_yaml_maps_labels_drops_some_and_names_the_language(tmp_path):
    rows = [[f"{s}/{lab}_{i}.wav", lab, s] for s in ("a", "b", "c") for lab in ("calm", "ANG", "sadness", "surprised")
            for i in range(2)]
    folder = corpus(tmp_path / "rav", rows)
    (folder / "corpus.yaml").write_text("labels: {calm: neutral, surprised: drop}\nlanguage: en\ntitle: Mine\n")
    m = mc.index(folder)
    assert sorted(set(m["label"])) == ["angry", "neutral", "sad"] and (m["language"] == "en").all()
    assert m.attrs["dropped_by_mapping"] == {"surprised": 6} and "surprised 6" in m.attrs["note"]
    (folder / "corpus.yaml").write_text("labels: {calm: serene}\n")
    with pytest.raises(CorruptFileError, match=r"corpus.yaml: key 'labels.calm': expected one of neutral"):
        mc.index(folder)


def test_a_folder_whose_name_could_be_taken_for_a_built_in_corpus_is_refused(tmp_path):
    corpus(tmp_path / "emodb_urdu", balanced())
    corpus(tmp_path / "My-Corpus", balanced())
    assert mc.find(tmp_path) == {}
    problems = " ".join(mc.problems(tmp_path))
    assert "emodb_urdu" in problems and "made of built-in corpus names" in problems and "My-Corpus" in problems


# ----------------------------------------------------------------------------- the protocol it takes

def test_the_protocol_follows_what_the_manifest_holds(tmp_path):
    full = mc.index(corpus(tmp_path / "full", balanced(n=2)))
    assert mc.choose_protocol(full)[:2] == ("loso_speaker", {"val": "speaker"})
    lacking = [r for r in balanced(n=4) if not (r[2] == "s3" and r[1] == "sad")]
    p, opts, why = mc.choose_protocol(mc.index(corpus(tmp_path / "lacking", lacking)))
    assert p == "kfold_val" and opts == {"k": 5, "val": "fold"} and "lack a class" in why and "'s3'" in why
    rows = [[r[0], r[1], r[2], "test" if r[2] == "s3" else "train"] for r in balanced()]
    split = mc.index(corpus(tmp_path / "split", rows, "path,label,speaker,split"))
    assert mc.choose_protocol(split)[0] == "official"
    nospk = mc.index(corpus(tmp_path / "nospk", [[r[0], r[1]] for r in balanced(n=4)], "path,label"))
    p, opts, why = mc.choose_protocol(nospk)
    assert p == "kfold_val" and opts["k"] == 6 and "speakers unknown" in why     # 36 rows: 6 per test part
    tiny = mc.index(corpus(tmp_path / "tiny", balanced(speakers=("s1",), n=1)))
    with pytest.raises(ValueError, match="too few for 3 stratified parts"):
        mc.choose_protocol(tiny)


def test_resolve_gives_a_manifest_corpus_the_generic_params_of_each_paper(tmp_path):
    corpus(tmp_path / "mine", balanced())
    for paper in ("ctmam", "ca_ser", "mdat", "leaderboard"):
        for profile in runs.profiles(paper, "mine", data_root=str(tmp_path)):
            P = runs.resolve(paper, "mine", profile, {"data_root": str(tmp_path)})
            assert (P["corpus"], P["protocol"]) == ("mine", "loso_speaker"), (paper, profile)
            assert P["label_map"] == ("ser4" if paper == "mdat" else "mine")
    assert runs.resolve("ca_ser", "mine", "smoke", {"data_root": str(tmp_path)})["protocols"] is None
    with pytest.raises(ParamsError) as e:
        runs.resolve("ctmam", "nothere", "smoke", {"data_root": str(tmp_path)})
    assert "no manifest corpus" in str(e.value) and "datasets with parameters for ctmam: emodb" in str(e.value)
    (tmp_path / "mine" / mc.MANIFEST).write_text("path,label\nx.wav,grumpy\n")
    tone(tmp_path / "mine" / "x.wav")
    with pytest.raises(ParamsError, match=r"manifest.csv: line 2, column 'label': unknown label 'grumpy'"):
        runs.resolve("ctmam", "mine", "smoke", {"data_root": str(tmp_path)})


def test_data_list_shows_manifest_corpora_and_their_protocol(tmp_path, capsys):
    corpus(tmp_path / "mine", balanced())
    corpus(tmp_path / "Bad-Name", balanced())
    assert cli.main(["data", "list", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("mine"))
    assert line.split()[:4] == ["mine", "yes", "18", "3"] and "protocol loso_speaker" in line
    assert "Bad-Name" in out and "rename the folder" in out


# ----------------------------------------------------------------------------- sercore data manifest

LAYOUTS = {    # preset -> (files, expected (label, speaker) of the first file, labels in all)
    "ravdess": (["Actor_01/03-01-05-01-02-01-01.wav", "Actor_01/03-01-02-01-01-01-01.wav",
                 "Actor_02/03-01-08-02-02-02-02.wav", "Actor_02/03-01-01-01-01-01-02.wav"],
                ("angry", "01"), {"angry", "calm", "surprise", "neutral"}),
    "crema_d": (["1001_DFA_ANG_XX.wav", "1001_IEO_HAP_HI.wav", "1002_TIE_NEU_XX.wav", "1002_MTI_FEA_LO.wav"],
                ("angry", "1001"), {"angry", "happy", "neutral", "fear"}),
    "tess": (["OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_bath_ps.wav", "OAF_Sad/OAF_back_sad.wav",
              "YAF_fear/YAF_bite_fear.wav"], ("angry", "OAF"), {"angry", "surprise", "sad", "fear"}),
    "savee": (["AudioData/DC/a01.wav", "AudioData/DC/sa02.wav", "AudioData/JE/su01.wav", "KL_n03.wav"],
              ("angry", "DC"), {"angry", "sad", "surprise", "neutral"}),
    "shemo": (["female/F01A01.wav", "female/F01W02.wav", "male/M05N03.wav", "male/M05F01.wav"],
              ("angry", "F01"), {"angry", "surprise", "neutral", "fear"}),
}


@pytest.mark.parametrize("preset", list(LAYOUTS))
def test_presets_read_public_layouts(tmp_path, preset):
    files, first, labels = LAYOUTS[preset]
    for f in files:
        tone(tmp_path / preset / f)
    out = ms.scan(tmp_path / preset, ms.PRESETS[preset].pattern)
    assert len(out.rows) == len(files) and not out.unmatched
    mapping = ms.PRESETS[preset].labels
    row = next(r for r in out.rows if r["path"] == files[0])
    assert (mc.canonical(row["label"], mapping), row["speaker"]) == first
    assert {mc.canonical(r["label"], mapping) for r in out.rows} == labels


def test_data_manifest_writes_a_manifest_and_corpus_yaml(tmp_path, capsys):
    folder = tmp_path / "rav"
    for actor in ("01", "02", "03"):
        for code in ("01", "02", "05", "08"):
            for rep in ("01", "02"):
                tone(folder / f"Actor_{actor}" / f"03-01-{code}-01-01-{rep}-{actor}.wav")
    tone(folder / "README.wav")                    # does not fit the pattern: left out, said
    assert cli.main(["data", "manifest", str(folder), "--preset", "ravdess", "--map", "02=neutral",
                     "--map", "08=drop"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "left out 1 audio file" in out and "protocol: loso_speaker" in out
    m = mc.index(folder)
    assert sorted(set(m["label"])) == ["angry", "neutral"] and (m["language"] == "en").all()
    assert m.attrs["dropped_by_mapping"] == {"08": 6} and len(m) == 18
    assert cli.main(["data", "manifest", str(folder), "--preset", "ravdess"]) == 2          # exists: not again
    assert "--force" in capsys.readouterr().err


def test_data_manifest_folder_per_emotion_and_patterns(tmp_path, capsys):
    for lab in ("angry", "Happy", "sadness"):
        for i in range(6):
            tone(tmp_path / "moods" / lab / f"take{i}.wav")
    s = ms.write_manifest(tmp_path / "moods")
    assert s["rows"] == 18 and s["labels"] == {"angry": 6, "happy": 6, "sad": 6}
    assert (s["protocol"], s["options"]) == ("kfold_val", {"k": 3, "val": "fold"})
    for split in ("train", "test"):
        for lab in ("ang", "neu"):
            for spk in ("x", "y"):
                tone(tmp_path / "byname" / split / f"{spk}_{lab}_1.wav")
    s = ms.write_manifest(tmp_path / "byname", pattern=r"(?P<split>train|test)/(?P<speaker>[a-z])_(?P<label>[a-z]+)_")
    assert s["protocol"] == "official" and s["speakers"] == 2
    assert (tmp_path / "byname" / "manifest.csv").read_text().splitlines()[0] == "path,label,speaker,split"
    for lab in ("joyish", "sad"):
        tone(tmp_path / "odd" / lab / "a.wav")
    with pytest.raises(ValueError, match=r"label\(s\) \['joyish'\] are not the book's emotions.*--map"):
        ms.write_manifest(tmp_path / "odd")
    with pytest.raises(ValueError, match="named group"):
        ms.write_manifest(tmp_path / "odd", pattern=r"(?P<speaker>\w+)")
    assert cli.main(["data", "manifest", str(tmp_path / "odd"), "--map", "joyish=happyish"]) == 2
    assert "not one of the book's emotions" in capsys.readouterr().err


# ----------------------------------------------------------------------------- EmoBox's fold lists

def emobox(folder: Path, folds: dict, label_map: dict | None = None, stm: bool = True) -> Path:
    """EmoBox metadata under ``folder``: ``folds`` = {k: {"train": [(key, emo, spk)], "test": [...]}};
    audio at ``downloads/toy/<key>.wav`` as EmoBox writes the paths."""
    speakers = {}
    for k, parts in folds.items():
        d = folder / f"fold_{k}"
        d.mkdir(parents=True, exist_ok=True)
        for part, items in parts.items():
            lines = []
            for key, emo, spk in items:
                wav = f"downloads/toy/audio/{key}.wav"
                tone(folder / "audio" / f"{key}.wav")      # the corpus itself, without EmoBox's downloads/toy/
                lines.append(json.dumps({"key": key, "dataset": "toy", "wav": wav, "type": "raw",
                                         "sample_rate": 16000, "length": 0.1, "task": "category", "emo": emo,
                                         "channel": 1}))
                speakers[key] = spk
            (d / f"toy_{part}_fold_{k}.jsonl").write_text("\n".join(lines) + "\n")
    if label_map is not None:
        (folder / "label_map.json").write_text(json.dumps(label_map))
    if stm:
        (folder / "data.seg.wrd.stm").write_text("".join(
            f"{k} 1 {s} 0 0.1 <id={k},spk={s}> x\n" for k, s in speakers.items()))
    return folder


def _utts(spk: str, codes=("a", "h", "s", "f")) -> list[tuple]:
    return [(f"{spk}-{c}-{i}", c, spk) for c in codes for i in range(2)]


def test_emobox_folds_are_read_as_given_folds(tmp_path):
    a, b, c = _utts("01"), _utts("02"), _utts("03")
    folds = {1: {"train": b + c, "test": a}, 2: {"train": a + c, "test": b}, 3: {"train": a + b, "test": c}}
    folder = emobox(tmp_path / "toybox", folds, {"a": "Angry", "h": "Happy", "s": "Sad"})   # f: left out
    assert mc.find(tmp_path) == {"toybox": folder}
    m = data.load("toybox", tmp_path)
    assert len(m) == 18 and sorted(set(m["label"])) == ["angry", "happy", "sad"]
    assert set(m["session"]) == {"fold_1", "fold_2", "fold_3"} and set(m["speaker"]) == {"01", "02", "03"}
    assert m.attrs["dropped_by_mapping"] == {"f": 6} and m.attrs["protocol"]["name"] == "loso"
    from sercore import protocols
    fl = protocols.make_folds(data.label_map("toybox", tmp_path).apply(m), "loso", seed=0)
    assert [sorted(set(m["speaker"].iloc[f.test])) for f in fl] == [["01"], ["02"], ["03"]]


def test_emobox_one_fold_is_its_splits_and_bad_folds_are_refused(tmp_path):
    a, b, c = _utts("01"), _utts("02"), _utts("03")
    codes = {"a": "Angry", "h": "Happy", "s": "Sad", "f": "Fear"}
    one = emobox(tmp_path / "onebox", {1: {"train": a + b, "valid": c[:4], "test": c[4:]}}, codes)
    m = mc.index(one)
    assert m["split"].value_counts().to_dict() == {"train": 16, "dev": 4, "test": 4}
    assert mc.choose_protocol(m)[0] == "official"
    bad = emobox(tmp_path / "badbox", {1: {"train": b, "test": a}, 2: {"train": b, "test": a + b}}, codes, stm=False)
    with pytest.raises(CorruptFileError, match="is in the test lists of fold_1, fold_2"):
        mc.index(bad)
    (tmp_path / "badbox" / "fold_2" / "toy_test_fold_2.jsonl").write_text('{"key": "x", "wav": "", "emo": "a"}\n')
    with pytest.raises(CorruptFileError, match=r"toy_test_fold_2.jsonl: line 1, column 'wav': missing or empty"):
        mc.index(bad)


def test_data_list_does_not_generate_the_synthetic_corpus(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SERCORE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    assert cli.main(["data", "list", "--data-root", str(tmp_path / "data")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("synthetic"))
    assert "generated on first use" in line
    assert not (tmp_path / "cache" / "synthetic").exists()
