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
