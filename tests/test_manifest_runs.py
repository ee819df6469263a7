"""A corpus the book does not name runs end to end: `sercore data manifest`, `data list`, `run ctmam` and
`run leaderboard`, on a folder-per-emotion corpus and on a CSV-manifest corpus with a name pattern, given
splits and a text column (smoke profile, a few seconds of training each).

The audio is the Emo-DB fixture's speech (:mod:`sercore.data.fixtures`), laid out anew.
"""
from __future__ import annotations

import csv
import json
import shutil

import pytest

from sercore import cli
from sercore.data import fixtures

CODES = {"W": "angry", "F": "happy", "T": "sad", "N": "neutral"}
PATTERN = r"(?P<split>train|dev|test)/(?P<speaker>\d\d)_(?P<label>[a-z]+)_"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data root with two manifest corpora made of the Emo-DB fixture's four-class utterances:
    ``moods/<emotion>/<file>.wav`` and ``scripted/<split>/<speaker>_<emotion>_<n>.wav``."""
    from sercore.data import emodb

    wavs = fixtures.write_fixtures(fixtures.default_root(), ["emodb"])["emodb"] / "wav"
    out = tmp_path_factory.mktemp("manifest-data")
    split = {"15": "test", "16": "test", "13": "dev", "14": "dev"}
    for f in sorted(wavs.glob("*.wav")):
        spk, text, emo = f.stem[:2], f.stem[2:5], CODES.get(f.stem[5])
        if emo is None:
            continue
        (out / "moods" / emo).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, out / "moods" / emo / f.name)
        dest = out / "scripted" / split.get(spk, "train") / f"{spk}_{emo}_{text}.wav"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    # the manifests, as a person writes them: folder per emotion; a name pattern with splits and speakers
    assert cli.main(["data", "manifest", str(out / "moods")]) == 0
    assert cli.main(["data", "manifest", str(out / "scripted"), "--pattern", PATTERN, "--language", "de"]) == 0
    # the transcripts: a text column added to the written manifest (a CSV manifest with text)
    path = out / "scripted" / "manifest.csv"
    rows = list(csv.DictReader(path.open()))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*rows[0], "text"])
        w.writeheader()
        w.writerows({**r, "text": emodb.SENTENCES[r["path"].rsplit("_", 1)[1][:3]]} for r in rows)
    return out


def _metrics(results, paper, dataset):
    return json.loads((results / paper / dataset / "smoke" / "metrics.json").read_text())


def test_data_manifest_says_the_protocol_and_data_list_finds_both(root, capsys):
    assert cli.main(["data", "manifest", str(root / "moods"), "--force"]) == 0
    assert "protocol: kfold_val" in capsys.readouterr().out
    assert cli.main(["data", "list", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines()[2:] if ln.strip()}
    assert lines["moods"].split()[:3] == ["moods", "yes", "80"] and "protocol kfold_val" in lines["moods"]
    assert lines["scripted"].split()[:4] == ["scripted", "yes", "80", "10"] and "protocol official" in lines["scripted"]


@pytest.mark.parametrize("dataset, protocol", [("moods", "kfold_val"), ("scripted", "official")])
def test_run_ctmam_and_the_leaderboard(root, tmp_path, monkeypatch, dataset, protocol):
    monkeypatch.setenv("SERCORE_DATA", str(root))
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path))
    # in this process (sercore run --in-process): the kernel's start-up is the run matrix's to test
    assert cli.main(["run", "ctmam", "--dataset", dataset, "--set", "ablations=[]", "--in-process"]) == 0
    out = _metrics(tmp_path, "ctmam", dataset)
    assert out["protocol"]["name"] == protocol and out["synthetic"] is False
    assert out["comparisons"] and {c["verdict"] for c in out["comparisons"]} == {
        "not comparable: the paper reports no number on this corpus"}
    assert out["extra"]["params"]["label_map"] == dataset and "Its runs take protocol" in out["corpus_note"]
    assert cli.main(["run", "leaderboard", "--dataset", dataset, "--set", "methods=[baselines, ctmam]",
                     "--in-process"]) == 0
    board = _metrics(tmp_path, "leaderboard", dataset)
    rows = {r["method"]: r for r in board["extra"]["leaderboard"]}
    assert "CTMAM" in rows and rows["MFCC stats + MLP"]["skipped"] is None
    text_ran = rows["MiniLM tokens + MLP"]["skipped"] is None
    assert text_ran == (dataset == "scripted")          # the text column gives the text baseline its input
