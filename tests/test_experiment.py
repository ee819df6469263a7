"""Corpus fingerprints and the provenance panel."""
import pytest
import yaml

from sercore import experiment, results


@pytest.fixture(scope="module")
def corpus():
    return experiment.prepare("synthetic", label_map="ser4", languages=["en"], n_per_class=5)


def test_version_is_stable_and_sees_changes(corpus):
    v = corpus.version()
    assert len(v) == 12 and v == corpus.version()
    other = experiment.prepare("synthetic", label_map="ser4", languages=["en"], n_per_class=6)
    assert other.version() != v
    relabelled = experiment.Corpus(corpus.name, corpus.manifest.assign(
        label=corpus.manifest["label"].iloc[::-1].to_numpy()), corpus.labels, True, None)
    assert relabelled.version() != v


def test_provenance_panel_carries_corpus_and_environment(corpus, tmp_path):
    run = results.Run({"paper": "ctmam", "dataset": "synthetic", "profile": "smoke", "seed": 3,
                       "results_dir": str(tmp_path), "epochs": 2, "patience": None, "mixup": False,
                       "ablations": ["no_lct", "no_tsa"], "lr": 4e-05, "model": "ctmam"})
    cm = {"labels": corpus.labels, "matrix": [[0] * 4 for _ in range(4)]}
    out = run.write(results.ChapterResult(protocol={"name": "random"}, metrics={"wa": 1.0, "ua": 1.0},
                                          per_class={}, confusion=cm), corpus=corpus)
    assert out["synthetic"] is True and out["corpus_note"] == corpus.note
    assert results.read_metrics(tmp_path / "metrics.json")["extra"]["corpus"]["version"] == corpus.version()
    panel = experiment.provenance(out)["value"]
    assert panel["corpus version (sha1 of rows used)"] == corpus.version()
    assert panel["utterances used"] == str(len(corpus.manifest))
    assert panel["seed"] == "3" and panel["param: epochs"] == "2"
    # parameters spelt as a params file or --set takes them, so a value copied from the panel runs
    assert [panel[f"param: {k}"] for k in ("patience", "mixup", "ablations", "lr", "model")] == [
        "null", "false", "[no_lct, no_tsa]", "4.0e-05", "ctmam"]
    assert yaml.safe_load(panel["param: lr"]) == 4e-05
    assert panel["version: torch"].startswith("2.9")
    # no path of the machine that ran it, no Python repr: an absent value is a dash, a mapping is words
    assert "param: results_dir" not in panel and "results_dir" in panel["machine paths"]
    assert str(tmp_path) not in " ".join(panel)
    dropped = experiment.provenance({**out, "extra": {**out["extra"], "environment": {"cuda": None},
                                                      "corpus": {**out["extra"]["corpus"],
                                                                 "dropped_labels": {"fear": 69, "disgust": 46}}}})["value"]
    assert dropped["version: cuda"] == "\u2013" and dropped["labels dropped by the label map"] == "fear 69, disgust 46"


def test_clipping_states_the_audio_max_s_drops(tmp_path):
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from sercore import experiment

    paths = []
    for i, secs in enumerate((1.2, 3.0, 9.0)):
        p = tmp_path / f"u{i}.wav"
        sf.write(p, np.zeros(int(16000 * secs), dtype="float32"), 16000)
        paths.append(str(p))
    m = pd.DataFrame({"path": paths})
    c = experiment.clipping(m, 8.0)
    assert c == {"utterances": 3, "longest (s)": 9.0, "kept per utterance (s)": 8.0, "utterances clipped": 1,
                 "audio dropped (s)": 1.0, "audio dropped (%)": round(100 / 13.2, 2)}
    assert experiment.clipping(m, None)["utterances clipped"] == 0
    # a row that is a part of a file counts its own seconds
    part = pd.DataFrame({"path": [paths[2]], "start": [1.0], "end": [3.5]})
    assert experiment.audio_seconds(part).tolist() == [2.5]


def _iemocap_like():
    from sercore.data import get_label_map, make_manifest

    labels = ["neutral"] * 3 + ["happy"] * 2 + ["excited"] * 4 + ["sad"] * 2 + ["angry"] * 2 + ["frustrated"] * 5
    rows = [{"utt_id": f"u{i}", "path": f"{i}.wav", "label": lab, "speaker": f"s{i % 2}", "session": 1 + i % 2,
             "corpus": "iemocap", "language": "en"} for i, lab in enumerate(labels)]
    raw = make_manifest(rows)
    return raw, get_label_map("iemocap4").apply(raw).reset_index(drop=True)


def test_summary_counts_the_classes_after_the_label_maps_merge():
    """IEMOCAP's excited is merged into happy: the table's happy row holds both, and the rows sum to the total."""
    _, mapped = _iemocap_like()
    c = experiment.Corpus("iemocap", mapped, ["neutral", "happy", "sad", "angry"], False, None)
    t = c.summary()
    assert list(t.index) == ["neutral", "happy", "sad", "angry", "total"]
    assert t.loc["happy", "total"] == 6 and t.loc["total", "total"] == 13 == t.drop("total")["total"].sum()


def test_label_map_counts_show_what_a_merged_class_holds_and_what_is_dropped():
    raw, _ = _iemocap_like()
    t = experiment.label_map_counts({"iemocap": raw})
    row = t.loc[("iemocap", "iemocap4")]
    assert "happy 6 (excited 4 + happy 2)" in row["classes"] and row["dropped"] == "frustrated 5"
    assert row["utterances kept"] == "13 of 18" and "leaderboard/iemocap" in row["used by"]


def test_inventory_shows_no_path_of_this_machine_and_no_missing_marker(tmp_path):
    inv = experiment.inventory(str(tmp_path))           # an empty data root: only the synthetic corpus
    text = inv.to_string()
    assert str(tmp_path) not in text and "<NA>" not in text and "nan" not in text.lower()
    assert inv.loc["emodb", "found"] == "no" and inv.loc["emodb", "folder"] == "<data root>/emodb"
    assert inv.loc["emodb", "utterances"] == "\u2013" and inv.loc["synthetic", "found"] == "yes"


def test_summary_counts_speakers_when_there_are_too_many_to_show_side_by_side():
    _, mapped = _iemocap_like()
    many = mapped.assign(session=None, speaker=[f"s{i}" for i in range(len(mapped))])
    c = experiment.Corpus("x", many, ["neutral", "happy", "sad", "angry"], False, None)
    t = c.summary()
    assert list(t.columns) == ["speakers", "utterances"] and t.loc["happy", "utterances"] == 6
    assert t.loc["total", "speakers"] == len(many) and t.loc["happy", "speakers"] == 6


def test_a_trimmed_corpus_shares_its_fold_plan_instead_of_copying_it_into_every_row():
    """pandas deep-copies ``attrs`` into every row of ``iterrows`` and every slice: the plan (every fold's
    utterance ids) is shared by reference, so reading the manifest row by row does not copy it per row."""
    import copy

    from sercore import runs
    P = runs.resolve("mdat", "synthetic", "smoke")
    c = experiment.load_corpus(P)
    plan = c.manifest.attrs["fold_plan"]
    assert plan and all(p["folds"] and p["folds"][0]["test"] for p in plan.values())
    _, row = next(c.manifest.iterrows())
    assert row.attrs["fold_plan"] is plan and c.manifest.iloc[:3].attrs["fold_plan"] is plan
    assert copy.deepcopy(c.manifest).attrs["fold_plan"] is plan
    # the folds a run builds are still the plan's
    assert [f.name for f in experiment.folds(c.manifest, P)] == [f["name"] for f in plan[next(iter(plan))]["folds"]][
        :len(experiment.folds(c.manifest, P))]


def test_a_cap_that_changes_the_class_balance_of_training_says_so():
    import pandas as pd
    m = pd.DataFrame({"label": ["neutral"] * 60 + ["happy"] * 20 + ["sad"] * 20})
    full = list(range(100))
    kept = list(range(20)) + list(range(60, 80)) + list(range(80, 100))      # 20 per class
    note = experiment.balance_note(m, full, kept)
    assert "neutral is 60% of the full training rows and 33% of the trimmed ones" in note
    assert experiment.balance_note(m, full, list(range(0, 100, 2))) == ""     # every other row: same balance
