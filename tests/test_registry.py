"""Corpora and papers are declared once, by their own modules; every list of them is derived.

The main test adds a corpus and a paper in a temporary package folder (a plug-in folder on
``sercore.data.__path__`` and ``sercore.schemas.__path__``), through their declarations alone, and
finds them everywhere: the registries, ``sercore data list``, the fixtures, the label maps, the
parameters and the comparisons with the papers.
"""
from __future__ import annotations

import sys

import pytest

import sercore
from sercore import cli, data, reference, registry, results, runs, schemas
from sercore.data import fixtures
from sercore.paths import project_root

CORPUS_MODULE = '''
"""A corpus written by a test: this module is all a corpus needs (loader, fixture writer, declaration)."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from sercore.data._io import check_audio, require_root
from sercore.data.labels import LabelMap
from sercore.data.manifest import make_manifest
from sercore.registry import Corpus

NAME, DIRNAME = "toycorp", "toy-corp"
LAYOUT = "toy-corp/\\n  <speaker>_<emotion>_<n>.wav\\n  ..."
TOY3 = LabelMap("toy3", ("neutral", "happy", "sad"), {}, "Toy corpus, 3 classes.")


def load(root, on_error="raise"):
    root = require_root(NAME, root, LAYOUT)
    records = []
    for p in sorted(root.glob("*.wav")):
        speaker, emotion, _ = p.stem.split("_")
        check_audio(p)
        records.append({"utt_id": p.stem, "path": str(p.resolve()), "label": emotion, "label_raw": emotion,
                        "speaker": speaker, "language": "en", "corpus": NAME})
    return make_manifest(records, root=root)


def write_fixture(root, speech):
    t = np.arange(4000) / 16000
    for speaker in "abc":
        for emotion in ("neutral", "happy", "sad"):
            for n in range(2):
                wave = (0.1 * np.sin(2 * np.pi * (200 + 40 * n) * t)).astype("float32")
                sf.write(root / f"{speaker}_{emotion}_{n}.wav", wave, 16000)
    return {"utterances": 18}


CORPUS = Corpus(name=NAME, dirname=DIRNAME, title="Toy corpus", layout=LAYOUT, load=load, label_map="toy3",
                label_maps=(TOY3,), modalities=("audio",), protocol="loso_speaker", write_fixture=write_fixture,
                fixture={"utterances": 18, "speakers": 3, "labels": {"happy": 6, "neutral": 6, "sad": 6}})
'''

PAPER_MODULE = '''
"""A paper written by a test: its declaration and its parameters' schema."""
from __future__ import annotations

from dataclasses import dataclass

from sercore.registry import Paper
from sercore.schemas.common import TrainingParams, param

PAPER = Paper(key="toypaper", chapter="sercore.chapters.ctmam", title="A toy paper", order=50,
              corpora=("toycorp",), modalities=("audio",), numbers={numbers!r})


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    hidden: int = param("width of the toy model", 8, ge=1)
'''

NUMBERS = """paper,table,row,column,dataset,metric,value,note
toypaper,Table 1,Proposed,,toycorp,wa,50.0,
"""

PARAMS = """corpus: toycorp
languages: null
label_map: toy3
protocol: loso_speaker
epochs: 5
batch_size: 4
lr: 0.01
smoke: {epochs: 1, max_folds: 1}
quick: {}
paper: {epochs: 50}
"""


@pytest.fixture
def plugged(tmp_path, monkeypatch):
    """A corpus module and a paper module in folders of their own, added to the two packages."""
    (tmp_path / "data_ext").mkdir()
    (tmp_path / "data_ext" / "toycorp.py").write_text(CORPUS_MODULE)
    (tmp_path / "schemas_ext").mkdir()
    (tmp_path / "numbers.csv").write_text(NUMBERS)
    (tmp_path / "schemas_ext" / "toypaper.py").write_text(PAPER_MODULE.format(numbers=str(tmp_path / "numbers.csv")))
    monkeypatch.setattr(data, "__path__", [*data.__path__, str(tmp_path / "data_ext")])
    monkeypatch.setattr(schemas, "__path__", [*schemas.__path__, str(tmp_path / "schemas_ext")])
    registry.refresh()
    yield tmp_path
    monkeypatch.undo()
    for mod in ("sercore.data.toycorp", "sercore.schemas.toypaper"):
        sys.modules.pop(mod, None)
    registry.refresh()


def test_a_corpus_and_a_paper_added_by_their_declarations_alone(plugged, capsys):
    from sercore.data.labels import LABEL_MAPS
    from sercore.schemas.leaderboard import methods

    # the registries
    assert "toycorp" in data.CORPORA and data.CORPORA["toycorp"].dirname == "toy-corp"
    assert "toy3" in LABEL_MAPS and data.label_map("toy3").classes == ("neutral", "happy", "sad")
    assert "toypaper" in sercore.PAPERS and "toypaper" in runs.RUNNABLE and "toypaper" in methods()
    assert schemas.schema("toypaper").__module__ == "sercore.schemas.toypaper"
    assert "toycorp" in reference.DATASETS and float(reference.get("toypaper", "Table 1", "Proposed", "wa")) == 50.0

    # the fixtures: written by the corpus's own writer, read back by its loader as it declares
    root = plugged / "root"
    root.mkdir(exist_ok=True)
    assert "toycorp" in fixtures.FIXTURE_CORPORA and fixtures.EXPECTED["toycorp"]["utterances"] == 18
    cli.main(["data", "list", "--data-root", str(root)])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("toycorp"))
    assert line.split()[1] == "no" and str(root / "toy-corp") in line
    assert fixtures.write_fixtures(root, ["toycorp"]) == {"toycorp": root / "toy-corp"}
    s = data.summary(data.load("toycorp", root))
    assert (s["utterances"], s["speakers"], s["labels"]) == (18, 3, fixtures.EXPECTED["toycorp"]["labels"])

    # sercore data list
    assert cli.main(["data", "list", "--data-root", str(root)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("toycorp"))
    assert line.split()[:4] == ["toycorp", "yes", "18", "3"]

    # its parameters: one params file beside the paper's schema
    proj = plugged / "proj"
    (proj / "params" / "toypaper").mkdir(parents=True)
    (proj / "params" / "toypaper" / "toycorp.yaml").write_text(PARAMS)
    assert runs.datasets_with_params("toypaper", proj) == ["toycorp"]
    P = runs.resolve("toypaper", "toycorp", "smoke", root=proj)
    assert (P.hidden, P.epochs, P.corpus) == (8, 1, "toycorp") and P["label_map"] == "toy3"

    # comparisons: judged against the paper that reports on the corpus, never against another's
    assert results.run_corpora("toycorp") == {"toycorp"}
    assert results.run_corpora("toycorp_emodb") == {"toycorp", "emodb"}
    row = results.comparison("Table 1", "Proposed", "wa", 50.0, 52.0, "")
    iv = {"wa": {"low": 45.0, "high": 60.0}}

    def verdict(paper, dataset):
        return results.attach_intervals([row], {"wa": 52.0}, iv, False, paper, dataset)[0]["verdict"]

    assert verdict("toypaper", "toycorp") == "inside"
    assert verdict("ctmam", "toycorp") == "not comparable: the paper reports no number on this corpus"
    assert verdict("toypaper", "emodb") == "not comparable: the paper's number is on toycorp, this run on emodb"


def test_the_plugged_corpus_and_paper_are_gone_again():
    assert "toycorp" not in data.CORPORA and "toypaper" not in sercore.PAPERS


def test_a_run_on_a_corpus_no_paper_reports_on_is_never_judged():
    """The correctness trap of a hand-written corpus list: a run on a corpus the paper does not report on
    (a manifest corpus, or a name that merely contains a corpus's) gets no inside/below/above verdict."""
    row = results.comparison("Table II", "Proposed", "wa", 90.0, 90.0, "")
    iv = {"wa": {"low": 85.0, "high": 95.0}}
    for dataset in ("ravdess", "my_emodb_copy", "emodb2"):
        out = results.attach_intervals([row], {"wa": 90.0}, iv, False, "ctmam", dataset)[0]
        assert out["verdict"] == "not comparable: the paper reports no number on this corpus", dataset
    assert results.attach_intervals([row], {"wa": 90.0}, iv, False, "ctmam", "emodb")[0]["verdict"] == "inside"
    assert results.attach_intervals([row], {"wa": 90.0}, iv, True, "ctmam", "ravdess")[0]["verdict"] == \
        "not comparable: synthetic corpus"


def test_each_paper_declares_the_corpora_its_numbers_are_on():
    for key, paper in registry.papers().items():
        if paper.study:
            continue
        assert set(reference.load(key)["dataset"]) <= set(paper.corpora), key
        assert (project_root() / "params" / key).is_dir() and (project_root() / "book" / f"{key}.ipynb").is_file()
        assert paper.chapter == f"sercore.chapters.{key}"


def test_each_corpus_declares_what_the_book_needs():
    from sercore import protocols
    from sercore.data.labels import LABEL_MAPS
    from sercore.schemas.common import PROTOCOLS

    assert tuple(protocols.PROTOCOLS) == PROTOCOLS          # the schemas' copy (no torch there) stays the same
    for name, c in data.CORPORA.items():
        assert c.label_map in LABEL_MAPS and c.protocol in PROTOCOLS, name
        assert set(c.modalities) <= set(registry.MODALITIES)
        assert c.reference_name is None or c.reference_name in data.CORPORA, name
        assert c.generated or c.write_fixture is not None, f"{name}: a corpus read from disk writes its fixture"
        assert (project_root() / "params" / "leaderboard" / f"{name}.yaml").is_file(), name


def test_dataset_names_are_split_into_whole_corpus_names():
    assert registry.dataset_corpora("iemocap_emodb_emovo_urdu") == ("iemocap", "emodb", "emovo", "urdu")
    assert registry.dataset_corpora("iemocap_text") == ("iemocap_text",)
    assert registry.dataset_corpora("msp_improv") == ("msp_improv",)
    assert registry.dataset_corpora("my_emodb_copy") is None and registry.dataset_corpora("emodbx") is None
