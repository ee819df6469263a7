"""Fixture corpora (sercore.data.fixtures): every corpus in its official layout, read by its own loader."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sercore import data, runs
from sercore.cli import main
from sercore.data import fixtures, get_label_map, summary


@pytest.fixture(scope="session")
def fixture_root() -> Path:
    """The fixture corpora of seed 0 in the user cache (written once, then reused)."""
    fixtures.write_fixtures(fixtures.default_root())
    return fixtures.default_root()


def _label_maps() -> dict[str, set[str]]:
    """corpus -> the label maps the params files use on it (cross-corpus files: the shared ser4)."""
    out: dict[str, set[str]] = {}
    for paper, ds in [(p, d) for p in runs.RUNNABLE for d in runs.datasets_with_params(p)]:
        P = runs.resolve(paper, ds, "smoke")
        out.setdefault(P["corpus"], set()).add(P["label_map"])
        for c in P.get("corpora") or []:
            if c != P["corpus"]:
                out.setdefault(c, set()).add("ser4")
    return out


@pytest.mark.parametrize("name", list(fixtures.FIXTURE_CORPORA))
def test_every_fixture_corpus_loads_with_its_loader(fixture_root, name):
    df = data.load(name, root=fixture_root, on_error="raise")
    s, want = summary(df), fixtures.EXPECTED[name]
    assert s["utterances"] == want["utterances"] and s["speakers"] == want["speakers"]
    assert s["labels"] == dict(sorted(want["labels"].items()))
    assert s["skipped"] == 0 and not df.attrs["skipped"]
    assert (fixture_root / fixtures.FIXTURE_CORPORA[name]) == Path(df.attrs["root"])
    maps = _label_maps().get(name, set())
    assert maps or name == "iemocap_text", f"no params file uses {name}"
    for m in maps:
        lm = get_label_map(m)
        kept = lm.apply(df)
        assert sorted(set(lm.classes)) == sorted(set(kept.label.map(lambda l: lm.merge.get(l, l)))), m
        if df["split"].notna().all():                   # official splits: every class in every split
            for split, part in kept.groupby("split"):
                assert part.y.nunique() == len(lm.classes), (m, split)
    # every modality the corpus declares is complete
    declared = data.CORPORA[name].modalities
    assert set(declared) <= set(data.modalities(df)), (declared, data.modalities(df))
    if "audio" in declared:
        assert s["with_audio"] == s["utterances"]
        assert all(Path(p.split("#")[0]).is_file() for p in df.path)
    if "text" in declared:
        assert s["with_text"] == s["utterances"]
    if name in ("iemocap", "meld", "msp_improv"):
        assert s["with_video"] == s["utterances"]


def test_protocols_stay_meaningful(fixture_root):
    emodb = data.load("emodb", root=fixture_root)
    assert (emodb.groupby("speaker").label.nunique() == 7).all()          # LOSO: 10 folds, 7 classes each
    iem = get_label_map("iemocap4").apply(data.load("iemocap", root=fixture_root))
    assert iem.session.nunique() == 5 and (iem.groupby("session").y.nunique() == 4).all()
    assert (iem.groupby("speaker").y.nunique() == 4).all()               # leave-one-speaker-out
    assert set(data.load("iemocap", root=fixture_root).label_raw) == {
        "neu", "hap", "exc", "sad", "ang", "fru", "xxx"}
    msp = get_label_map("ser4").apply(data.load("msp_improv", root=fixture_root))
    assert msp.session.nunique() == 6 and (msp.groupby("speaker").y.nunique() == 4).all()
    emovo = data.load("emovo", root=fixture_root)
    assert (emovo.groupby("speaker").label.nunique() == 7).all() and emovo.speaker.nunique() == 6
    # URDU's quirk: most speaker ids under one emotion folder, a few under several
    urdu = data.load("urdu", root=fixture_root)
    per = urdu.groupby("speaker").label.nunique()
    assert (per == 1).sum() == 7 and (per == 4).sum() == 3


def test_layouts_and_rates_are_the_releases(fixture_root):
    r = fixture_root
    assert sf.info(str(next((r / "emodb" / "wav").glob("*.wav")))).samplerate == 16000
    assert sf.info(str(next((r / "emovo" / "f1").glob("*.wav")))).samplerate == 48000
    s1 = r / "iemocap" / "Session1"
    for sub in ("dialog/EmoEvaluation/Ses01F_impro01.txt", "dialog/transcriptions/Ses01F_impro01.txt",
                "dialog/wav/Ses01F_impro01.wav", "dialog/avi/DivX/Ses01F_impro01.avi",
                "sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"):
        assert (s1 / sub).is_file(), sub
    assert sf.info(str(s1 / "sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")).samplerate == 16000
    emo = (s1 / "dialog/EmoEvaluation/Ses01F_impro01.txt").read_text()
    assert emo.startswith("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]") and "C-E2:\t" in emo
    for folder in ("train_splits", "dev_splits_complete", "output_repeated_splits_test"):
        assert (r / "meld" / folder / "dia0_utt0.mp4").is_file()
    for f in ("CMU_MOSEI_Labels.csd", "CMU_MOSEI_TimestampedWords.csd", "cmu_mosei_std_folds.py"):
        assert (r / "mosei" / f).is_file()
    assert len(list((r / "mosei" / "Raw/Audio/Full/WAV_16000").glob("*.wav"))) == 12
    msp_audio = sorted(p.relative_to(r / "msp-improv" / "Audio").with_suffix("")
                       for p in (r / "msp-improv" / "Audio").rglob("*.wav"))
    msp_video = sorted(p.relative_to(r / "msp-improv" / "Video").with_suffix("")
                       for p in (r / "msp-improv" / "Video").rglob("*.avi"))
    assert msp_audio == msp_video and len(msp_audio) == 108
    ev = (r / "msp-improv" / "Evaluation.txt").read_text().splitlines()
    assert ev[0].startswith("UTD-IMPROV-S") and ev[1].startswith("rater_")
    assert sorted(p.name for p in (r / "urdu").iterdir() if p.is_dir()) == ["Angry", "Happy", "Neutral", "Sad"]


def test_meld_csvs_have_the_official_columns_and_quirks(fixture_root):
    root = fixture_root / "meld"
    header = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
              "Season", "Episode", "StartTime", "EndTime"]
    train = (root / "train_sent_emo.csv").read_bytes().decode("utf-8")
    assert next(csv.reader(io.StringIO(train))) == header
    assert "\u00e2\u20ac\u2122" in train                                   # UTF-8 read as cp1252 ("â€™")
    dev = (root / "dev_sent_emo.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        dev.decode("utf-8")                                                # a cp1252 file
    df = data.load("meld", root=fixture_root)
    assert df.text.str.contains("it\u2019s").sum() == 3                    # repaired / decoded: one per split
    assert "repaired" in df.attrs["note"]
    assert df.speaker.isin(["Rachel", "Ross", "Monica", "Chandler", "Phoebe", "Joey"]).all()


def test_mosei_words_and_folds_come_from_the_sdk_files(fixture_root):
    from sercore.data import mosei

    df = data.load("mosei", root=fixture_root)
    assert df.split.value_counts().to_dict() == {"train": 20, "test": 13, "dev": 7}
    split_of, source = mosei.read_splits(fixture_root / "mosei")
    assert source == "cmu_mosei_std_folds.py" and len(split_of) == 12
    assert df.text.str.len().gt(0).all() and not df.text.str.contains("[.,]").any()
    assert "1 segment(s)" in df.attrs["note"]                              # the intensity tie
    # the segment times match the audio: each segment is speech, the gap before it silence
    for r in df.iloc[::9].itertuples():
        w, sr = sf.read(r.path, dtype="float32")
        seg = w[int(r.start * sr):int(r.end * sr)]
        before = w[max(0, int(r.start * sr) - 2000):int(r.start * sr)]
        assert np.sqrt(np.mean(seg ** 2)) > 10 * (np.sqrt(np.mean(before ** 2)) + 1e-6)


def test_cli_writes_idempotently_and_reports(tmp_path, capsys):
    root = tmp_path / "data"
    assert main(["data", "fixtures", str(root), "--corpora", "urdu", "iemocap_text"]) == 0
    out = capsys.readouterr().out
    assert "urdu" in out and " 42 " in out and "iemocap_text" in out and " 100 " in out
    assert sorted(p.name for p in root.iterdir()) == ["iemocap-text", "urdu"]     # nothing half-written
    stamp = fixtures.stamp(root / "urdu")
    assert stamp["utterances"] == 42 and stamp["seed"] == 0
    files = {p: p.stat().st_mtime_ns for p in (root / "urdu").rglob("*")}
    t0 = time.perf_counter()
    paths = fixtures.write_fixtures(root, ["urdu", "iemocap_text"])
    assert time.perf_counter() - t0 < 0.5
    assert paths == {"iemocap_text": root / "iemocap-text", "urdu": root / "urdu"}
    assert {p: p.stat().st_mtime_ns for p in (root / "urdu").rglob("*")} == files
    assert main(["data", "fixtures", str(root), "--corpora", "voxceleb"]) == 2
    assert "unknown fixture corpus" in capsys.readouterr().err


def test_generation_is_deterministic_from_fresh_speech(tmp_path, monkeypatch, fixture_root):
    """URDU written from a fresh speech cache is byte-identical to the shared fixture copy."""
    monkeypatch.setenv("SERCORE_CACHE", str(tmp_path / "cache"))
    out = fixtures.write_fixtures(tmp_path / "data", ["urdu"])["urdu"]
    mine = sorted(p.relative_to(out) for p in out.rglob("*.wav"))
    theirs = sorted(p.relative_to(fixture_root / "urdu") for p in (fixture_root / "urdu").rglob("*.wav"))
    assert mine == theirs and len(mine) == 42
    assert all((out / p).read_bytes() == (fixture_root / "urdu" / p).read_bytes() for p in mine)
    with pytest.raises(ValueError, match="unknown fixture corpus"):
        fixtures.write_fixtures(tmp_path / "data", ["timit"])
