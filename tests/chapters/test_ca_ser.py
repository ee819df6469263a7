"""CA-SER chapter: feature settings, method() from resolved params, both protocols, tables beside the
paper, run() end to end with the demo checkpoint."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sercore import experiment, runs
from sercore.chapters import Method
from sercore.chapters import ca_ser
from sercore.models.ca_ser import CASER
from sercore.predict import load_checkpoint, predict
from sercore.results import ChapterResult
from sercore.schemas import ParamsError

LABELS = ["neutral", "happy", "sad", "angry"]
TINY = dict(lstm_hidden=8, lstm_layers=1, d_model=16, sa_layers=1, sa_heads=2, sa_ff=32, ca_heads=2,
            ca_dim=16, ffn_dim=32, dropout=0.0, epochs=1, batch_size=8, lr=1e-3, grad_accum=1,
            max_s=2.0, min_s=1.0, max_folds=1, min_test=4)   # the tiny corpus tests 4 utterances a speaker


def tiny_params(**over):
    return runs.resolve("ca_ser", "synthetic", "smoke", {**TINY, **over})


def test_feature_config_names_the_encoder():
    fc = ca_ser.feature_config(runs.resolve("ca_ser", "synthetic", "smoke"))
    assert fc["mode"] == "frozen" and fc["stand_in"] and fc["ssl"]["name"] == "ge2e"
    assert fc["ssl"]["config"] == {"sr": 16000, "max_s": 4.0, "min_s": 3.0, "pad": "loop", "layer": 2}
    assert fc["mfcc"]["n_mfcc"] == 40 and fc["mfcc"]["hop_length"] == 160      # 40 MFCC every 10 ms
    assert "stand-in" in fc["encoder"] and "GE2E" in fc["encoder"] and "layer 9" in fc["encoder"]
    # a partial dict takes the schema's defaults (ssl_layer 9, n_mfcc 40): what the demo tool's tests pass
    fc = ca_ser.feature_config({"mode": "frozen", "encoder": "facebook/wav2vec2-base", "max_s": 8.0, "min_s": 3.0})
    assert fc["ssl"] == {"name": "ssl", "config": {"sr": 16000, "max_s": 8.0, "min_s": 3.0, "pad": "loop",
                                                   "model": "facebook/wav2vec2-base", "layer": 9}}
    assert not fc["stand_in"] and "hidden_states[9]" in fc["encoder"]
    fc = ca_ser.feature_config({"mode": "finetune", "encoder": "facebook/wav2vec2-base", "max_s": 8.0, "min_s": 3.0})
    assert fc["ssl"] is None and "fine-tuned" in fc["encoder"]
    with pytest.raises(ValueError, match="finetune.*needs encoder"):
        ca_ser.feature_config({"mode": "finetune", "encoder": None, "max_s": 8.0, "min_s": 3.0})


def test_schema_checks_protocol_encoder_and_lengths():
    with pytest.raises(ParamsError, match="protocol"):
        runs.resolve("ca_ser", "synthetic", "smoke", {"protocols": ["loso_speaker"]})
    with pytest.raises(ParamsError, match="encoder"):
        runs.resolve("ca_ser", "synthetic", "smoke", {"mode": "finetune"})
    with pytest.raises(ParamsError, match="min_s"):
        runs.resolve("ca_ser", "synthetic", "smoke", {"min_s": 5.0})
    with pytest.raises(ParamsError, match="protocols"):
        runs.resolve("ca_ser", "synthetic", "smoke", {"protocols": ["loso", "random"]})


def test_method_builds_from_the_resolved_params():
    P = runs.resolve("ca_ser", "synthetic", "quick")
    m = ca_ser.method(P, have=("audio", "text"))
    assert isinstance(m, Method) and m.paper == "ca_ser" and m.modalities == ("audio",)
    assert m.train.inputs == ("ssl", "ssl_lengths", "mfcc", "mfcc_lengths")
    assert m.train.optimizer == "adamw" and m.train.early_stop_metric == "wa"
    assert (m.train.epochs, m.train.batch_size, m.train.lr, m.train.weight_decay) == (6, 16, 1e-3, 0.01)
    model = m.build(7)
    assert isinstance(model, CASER) and model.cfg.ssl_dim == 256 and model.cfg.n_classes == 7
    assert (model.cfg.lstm_hidden, model.cfg.d_model, model.cfg.ca_heads) == (P["lstm_hidden"], P["d_model"], 2)
    assert "GE2E" in m.note and "frozen" in m.note
    assert ca_ser.method(runs.resolve("ca_ser", "emodb", "quick"), have=("audio",)).train.epochs == 8
    assert ca_ser.method({**P, "seed": 3, "epochs": 1}, have=("audio",)).train.seed == 3
    # the paper profile is the paper's: fine-tuned wav2vec 2.0 from waveforms, AdamW 4e-5, batch 2 x 4
    paper = ca_ser.method(runs.resolve("ca_ser", "synthetic", "paper"), have=("audio",))
    assert paper.train.inputs[0] == "wave" and (paper.train.lr, paper.train.grad_accum, paper.train.epochs) == (4e-5, 4, 20)
    assert "wav2vec2-base" in paper.note


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """24 short tone files: 3 sessions x 2 speakers x 4 labels (pitch and loudness differ by label)."""
    root = tmp_path_factory.mktemp("ca_ser_corpus")
    rows = []
    for sess in (1, 2, 3):
        for spk in range(2):
            for k, lab in enumerate(LABELS):
                sr = (16000, 22050)[spk]
                t = np.arange(int(sr * (0.8 + 0.1 * k))) / sr
                x = (0.1 + 0.1 * k) * np.sin(2 * np.pi * (150 + 80 * k + 20 * spk) * t)
                p = root / f"s{sess}_{spk}_{lab}.wav"
                sf.write(p, x.astype(np.float32), sr)
                rows.append({"utt_id": p.stem, "path": str(p), "label": lab, "speaker": f"S{sess}{spk}",
                             "session": str(sess), "corpus": "tiny", "y": k, "text": None})
    m = pd.DataFrame(rows)
    return experiment.Corpus("tiny", m, LABELS, synthetic=True, note=None)


def test_protocols_tables_and_demo_checkpoint(tiny_corpus, tmp_path):
    P = tiny_params()
    fc = ca_ser.feature_config(P)
    feats = ca_ser.features(tiny_corpus.manifest, fc, progress=False)
    assert feats[0]["ssl"].shape == (101, 256) and feats[0]["mfcc"].shape == (101, 40)   # 1 s (min_s) at 10 ms
    summary = ca_ser.feature_summary(feats, fc)
    assert list(summary.index) == ["ssl", "mfcc"]

    res = ca_ser.run_protocols(tiny_corpus, feats, fc, P, checkpoint_dir=tmp_path / "ck")
    assert set(res) == {"loso", "loso_speaker"}
    assert res["loso"]["n_total"] == 3 and res["loso_speaker"]["n_total"] == 6
    assert len(res["loso"]["folds"]) == 1 and res["loso"]["description"]["name"] == "loso"

    tables = ca_ser.paper_tables(res, tiny_corpus)
    t1, t2 = tables["Table 1"], tables["Table 2"]
    assert t1.loc["CA-SER [OURS]", "WA"] == 72.34 and t1.loc["CA-SER [OURS]", "UA"] == 71.53
    assert t2.loc["CA-SER [OURS]", "WA"] == 74.60 and t2.loc["CA-SER [OURS]", "UA"] == 73.50
    assert t1.loc["CA-SER (this book)", "WA"] == round(res["loso"]["cv"].summary["mean"]["wa"], 2)
    assert t2.loc["CA-SER (this book)", "UA"] == round(res["loso_speaker"]["cv"].summary["mean"]["ua"], 2)
    assert "measured: tiny (synthetic)" in t1.loc["CA-SER (this book)", "source"]
    comps = ca_ser.comparisons(res, "note")
    assert [(c["table"], c["metric"], c["reported"]) for c in comps] == [
        ("Table 1", "wa", 72.34), ("Table 1", "ua", 71.53), ("Table 2", "wa", 74.6), ("Table 2", "ua", 73.5)]
    assert all(c["measured"] is not None for c in comps)
    assert "1 of 3 folds" in comps[0]["note"]
    counts = pd.DataFrame({"parameters": [1, 105_103_492]},
                          index=["this run", "paper-size CA-SER incl. wav2vec 2.0 base (random init)"])
    extra = ca_ser.comparisons(res, "note", counts)[-1]
    assert (extra["table"], extra["metric"], extra["reported"], extra["measured"]) == \
        ("Section 3", "params", 108_000_000, 105_103_492)
    assert len(ca_ser.weighted_f1_table(res)) == 2
    dev = ca_ser.deviations(P, fc, tiny_corpus, res)
    assert dev.loc["protocol loso", "this run"] == "1 of 3 fold(s) ran"
    assert dev.loc["optimiser", "this run"] == "AdamW lr 0.001, batch 8 × accumulation 1, 1 epochs"

    # the demo checkpoint is the first loso fold's model; its held-out files are that fold's test part
    ck = load_checkpoint(tmp_path / "ck")
    fold = res["loso"]["folds"][0]
    assert ck.meta["extra"]["held_out_rows"] == [int(i) for i in fold.test]
    files = ca_ser.demo_files(tiny_corpus, tmp_path / "ck", n=8)
    held_out = set(tiny_corpus.manifest["path"].iloc[fold.test])
    assert files and set(files) <= held_out
    preds = predict(files, tmp_path / "ck")
    # the tool recomputes features from the files and agrees with the CV evaluation of the same model
    rep = res["loso"]["cv"].folds[0]["report"]
    cv_probs = {tiny_corpus.manifest["path"].iloc[r]: p for r, p in zip(rep["rows"], rep["probs"])}
    for p in preds:
        assert np.allclose(list(p["probabilities"].values()), cv_probs[p["path"]], atol=1e-4)
    frame = ca_ser.demo_frame(preds, tiny_corpus)
    assert list(frame.columns[:2]) == ["true", "label"] and len(frame) == len(files)


def test_run_returns_the_chapter_result(tiny_corpus, tmp_path):
    P = tiny_params(protocol="loso_speaker", demo_files=3, results_dir=str(tmp_path / "out"))
    result = ca_ser.run(P, tiny_corpus)
    assert isinstance(result, ChapterResult)
    assert result.protocol["name"] == "loso_speaker"                     # the headline is P["protocol"]
    cv = result.extra["protocols"]["loso_speaker"]["summary"]["mean"]
    assert result.metrics == cv and result.extra["cv"]["summary"]["mean"] == cv
    assert set(result.per_class) == set(LABELS) and result.confusion["labels"] == LABELS
    assert [c["table"] for c in result.comparisons] == ["Table 1"] * 2 + ["Table 2"] * 2 + ["Section 3"]
    assert result.comparisons[-1]["measured"] == result.extra["param_counts"][
        "paper-size CA-SER incl. wav2vec 2.0 base (random init, from config)"]
    f = result.figures
    assert set(f["tables"]) == {"Table 1", "Table 2"} and list(f["protocols"].index) == ["loso", "loso_speaker"]
    assert f["history"] and f["history_fold"] == result.extra["cv"]["folds"][0]["name"]
    # the demo checkpoint sits in the results folder's checkpoint/ and classifies 3 held-out files
    assert f["checkpoint_dir"] == tmp_path / "out" / "checkpoint" and "config.json" in f["checkpoint_files"]
    assert len(f["demo"]) == 3 and f["embedding_size"] == TINY["d_model"]
    held = load_checkpoint(f["checkpoint_dir"]).meta["extra"]["held_out_rows"]
    assert set(f["demo"].index) <= {Path(p).name for p in tiny_corpus.manifest["path"].iloc[held]}
    # what the page holds is said from P, not from the build
    assert "smoke-profile" in f["about"] and "1 epochs" in f["about"] and "the first 1 fold(s)" in f["about"]
    assert "GE2E" in f["about"]


def test_corpus_without_sessions_skips_cv5(tiny_corpus, tmp_path):
    m = tiny_corpus.manifest.assign(session=None)
    corpus = experiment.Corpus("nosess", m, LABELS, synthetic=False, note=None)
    feats = [{"ssl": np.zeros((5, 256), np.float32), "mfcc": np.zeros((5, 40), np.float32)}] * len(m)
    P = tiny_params(protocol="loso_speaker")
    res = ca_ser.run_protocols(corpus, feats, ca_ser.feature_config(P), {**P, "protocols": ["loso"]})
    assert "no sessions" in res["loso"]["skipped"]
    t1 = ca_ser.paper_tables(res, corpus)["Table 1"]
    assert np.isnan(t1.loc["CA-SER (this book)", "WA"])
    assert "not measured" in t1.loc["CA-SER (this book)", "source"]
    comps = ca_ser.comparisons(res, "x")
    assert comps[0]["measured"] is None and "not measured" in comps[0]["note"]
    # run() refuses a headline protocol the corpus cannot run, naming the one that can
    with pytest.raises(ValueError, match="primary protocol 'loso'.*no sessions.*'loso_speaker'"):
        ca_ser.run(tiny_params(results_dir=str(tmp_path)), corpus)


def test_checkpoint_true_keeps_every_fold_epoch_and_a_second_run_resumes_with_the_same_result(
        tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    P = tiny_params(epochs=2, checkpoint=True, protocols=["loso_speaker"], protocol="loso_speaker")
    fc = ca_ser.feature_config(P)
    feats = ca_ser.features(tiny_corpus.manifest, fc, progress=False)
    first = ca_ser.run_protocols(tiny_corpus, feats, fc, P)["loso_speaker"]
    root = experiment.checkpoint_root(P) / "loso_speaker"
    fold = first["folds"][0].name
    assert (root / fold / "last.pt").is_file()
    again = ca_ser.run_protocols(tiny_corpus, feats, fc, P)["loso_speaker"]
    # nothing left to train: the resumed fold tests the same model
    assert again["cv"].folds[0]["report"]["y_pred"] == first["cv"].folds[0]["report"]["y_pred"]
    assert again["cv"].summary["mean"]["wa"] == first["cv"].summary["mean"]["wa"]
