"""CTMAM chapter: feature pipeline, paper recipe, parameter table, comparison rows, Eq. 25, run(), method()."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sercore import runs
from sercore.chapters import Method
from sercore.chapters import ctmam as chapter
from sercore.protocols import Fold


def test_train_config_is_the_papers_recipe_with_the_runs_numbers():
    cfg = chapter.train_config(runs.resolve("ctmam", "emodb", "paper"))
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.optimizer) == (150, 128, 1e-3, 1e-6, "adam")
    assert (cfg.scheduler, cfg.gamma, cfg.lr_min, cfg.mixup_alpha, cfg.seed) == ("exp", 0.95, 1e-6, 0.2, 0)
    assert cfg.inputs == ("x",)
    P = runs.resolve("ctmam", "synthetic", "quick", {"epochs": 3, "seed": 4, "lr_gamma": 0.9, "mixup_alpha": 0.0})
    cfg = chapter.train_config(P)
    assert (cfg.epochs, cfg.batch_size, cfg.seed, cfg.gamma, cfg.mixup_alpha) == (3, 32, 4, 0.9, 0.0)


def test_segment_features_loop_short_and_window_long(tmp_path):
    sr = 16000
    rng = np.random.default_rng(0)
    rows = []
    for name, seconds in (("short", 0.7), ("long", 2.4)):
        p = tmp_path / f"{name}.wav"
        sf.write(p, (0.1 * rng.standard_normal(int(seconds * sr))).astype(np.float32), sr)
        rows.append({"utt_id": name, "path": str(p)})
    feats = chapter.segment_features(pd.DataFrame(rows), progress=False)
    assert feats[0].shape == (1, 26, 57)              # looped to one 1.8 s segment
    # 2.4 s: windows at 0, 0.2, 0.4, 0.6 s (the last ends exactly at 2.4 s)
    assert feats[1].shape == (4, 26, 57)
    capped = chapter.cap_segments(feats, 2)
    assert [len(f) for f in capped] == [1, 2]
    assert np.array_equal(capped[1][1], feats[1][-1])


def test_parameter_table_pins_the_papers_counts():
    t = chapter.parameter_table("ctmam", 4)
    assert t.loc["proposed", "params (ours)"] == 1_031_674 == t.loc["proposed", "params (paper)"]
    assert t.loc["conv_lct", "difference"] == 0 and t.loc["convffn_l", "difference"] == 0
    assert t.loc["no_lct", "table"] == "Table V" and pd.isna(t.loc["no_lct", "params (paper)"])
    assert len(t) == 1 + 6 + 9          # proposed, 6 ablations, 10 efficiency variants (conv_lct shared)


def test_paper_eq25_is_precision_based():
    conf = {"labels": ["a", "b"], "matrix": [[8, 2], [0, 10]]}   # recalls .8, 1; precisions 1, 10/12
    got = chapter.paper_eq25(conf)
    assert got["ua"] == pytest.approx(100 * (1 + 10 / 12) / 2)
    assert got["wa"] == pytest.approx(100 * (10 * 1 + 10 * 10 / 12) / 20)


def test_headline_and_variant_comparisons_carry_reported_numbers():
    per_class = {lab: {"precision": 50.0, "recall": 60.0, "f1": 55.0, "support": 3}
                 for lab in ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom")}
    rows = chapter.headline_comparisons("emodb", {"wa": 70.0, "ua": 65.0}, per_class)
    by = {(r["table"], r["row"], r["metric"]): r for r in rows}
    assert by[("Table II", "Proposed", "wa")]["reported"] == 90.65
    assert by[("Table IV", "Happy", "precision")]["reported"] == 83.33
    assert by[("Table IV", "UA", "ua")]["measured"] == 65.0
    assert len(rows) == 2 + 7 * 3 + 2
    trained = {"": {"metrics": {"wa": 1.0, "ua": 2.0}, "epochs": 1, "seconds": 0.1},
               "no_lct": {"metrics": {"wa": 3.0, "ua": 4.0}, "epochs": 1, "seconds": 0.1}}
    params = chapter.parameter_table("ctmam", 4)
    vrows = chapter.variant_comparisons(trained, params)
    vby = {(r["table"], r["row"], r["metric"]): r for r in vrows}
    assert vby[("Table V", "W/o LCT", "wa")]["reported"] == 67.12 and vby[("Table V", "W/o LCT", "wa")]["measured"] == 3.0
    assert vby[("Table VI", "Proposed", "params")]["measured"] == 1_031_674
    assert ("Table V", "W/o CA", "wa") not in vby                       # not trained -> no row
    assert sum(r["metric"] == "params" for r in vrows) == 11
    frame = chapter.variant_frame(trained, params, "Table V")
    assert frame.loc["no_lct", "WA measured"] == 3.0 and pd.isna(frame.loc["no_ca", "WA measured"])


def test_train_variants_on_tiny_data():
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((2, 26, 57)).astype(np.float32) + (i % 2) for i in range(8)]
    y = np.arange(8) % 2
    fold = Fold("random", np.arange(6), np.array([], dtype=np.int64), np.arange(6, 8), {})
    cfg = replace(chapter.train_config(runs.resolve("ctmam", "synthetic", "smoke")), batch_size=4, progress=False)
    out = chapter.train_variants(["", "no_lct"], "ctmam_emodb", feats, y, [fold], cfg, ["a", "b"], progress=False)
    assert set(out) == {"", "no_lct"}
    assert out[""]["batch_size"] == 4 and out[""]["epochs"] == 1
    odd = chapter.train_variants(["no_lct"], "ctmam_emodb", feats, y, [fold], replace(cfg, batch_size=11),
                                 ["a", "b"], progress=False)
    assert odd["no_lct"]["batch_size"] == 12                            # 12 % 11 == 1 would leave a batch of one
    assert out[""]["n_params"] == 544_361 - 8967 + (1280 * 2 + 2)       # 2-class head
    assert sum(out["no_lct"]["confusion"]["matrix"][0]) + sum(out["no_lct"]["confusion"]["matrix"][1]) == 2


@pytest.mark.parametrize("dataset", ["synthetic", "emodb"])
def test_method_takes_everything_from_the_params(dataset):
    import torch

    P = runs.resolve("ctmam", dataset, "quick")
    m = chapter.method(P, have=("audio", "text"))
    assert isinstance(m, Method) and m.segmented and m.modalities == ("audio",)
    assert (m.train.epochs, m.train.batch_size, m.train.mixup_alpha, m.train.gamma) == (
        P.epochs, P.batch_size, P.mixup_alpha, P.lr_gamma)
    assert m.build(5).eval()(torch.zeros(1, 26, 57)).shape == (1, 5)
    assert m.build(4).cfg.depth == (3 if P.model == "ctmam" else 1)
    shown = f"at most {P.max_segments} evenly spaced segments"
    assert P.model in m.note and ((shown in m.note) == (P.max_segments is not None))
    m6 = chapter.method(runs.resolve("ctmam", dataset, "quick", {"epochs": 6, "max_segments": 1}))
    assert m6.train.epochs == 6 and "at most 1 evenly spaced" in m6.note


def test_profile_note_says_what_the_run_trained():
    P = runs.resolve("ctmam", "synthetic", "quick")
    note = chapter.profile_note(P)
    assert (f"`quick`-profile run: {P.epochs} epoch(s), batch {P.batch_size}, at most {P.max_segments} segments "
            "per utterance") in note
    assert f"variants trained beside the proposed model: {', '.join(P.ablations + P.efficiency)}" in note
    assert "trends at best" in note
    assert "trends at best" not in chapter.profile_note(runs.resolve("ctmam", "emodb", "paper"))
    assert "every segment;" in chapter.profile_note(runs.resolve("ctmam", "emodb", "paper"))


def test_run_on_a_tiny_synthetic_corpus(monkeypatch):
    """run() does every stage: the result carries the headline, comparisons, extra and the figures' data."""
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    n = 40                  # the 20% test set holds 2 of each class: a fold fit to measure (protocols.check_folds)
    manifest = pd.DataFrame({"utt_id": [f"u{i}" for i in range(n)], "y": np.arange(n) % 4,
                             "label": [("neutral", "happy", "sad", "angry")[i % 4] for i in range(n)],
                             "speaker": [f"s{i % 4}" for i in range(n)], "session": 1 + np.arange(n) % 5})
    feats = [rng.standard_normal((2 + i % 2, 26, 57)).astype(np.float32) for i in range(n)]
    monkeypatch.setattr(chapter, "segment_features", lambda m: feats)
    corpus = SimpleNamespace(manifest=manifest, labels=["neutral", "happy", "sad", "angry"], synthetic=True,
                             note=None, dropped={})
    P = runs.resolve("ctmam", "synthetic", "smoke", {"ablations": ["no_lct"], "max_segments": 2})
    res = chapter.run(P, corpus)
    assert set(res.metrics) >= {"wa", "ua"} and set(res.per_class) == set(corpus.labels)
    assert res.extra["model"] == "ctmam" and res.extra["n_params"] == 1_031_674
    assert set(res.extra["variants"]) == {"proposed", "no_lct"} and res.extra["train_config"]["epochs"] == "1"
    assert res.extra["paper_eq25"].keys() == {"wa", "ua"} and res.extra["dropped_labels"] == {}
    split = res.figures["split"].iloc[0]                  # every utterance capped to 2 segments
    assert split["train"] + split["test"] == n and split["train segments"] == 2 * split["train"]
    assert list(res.figures["trained"].index) == ["proposed", "no_lct"]
    assert res.figures["table_v"].loc["no_lct", "WA measured"] == res.extra["variants"]["no_lct"]["metrics"]["wa"]
    assert res.figures["params_iemocap"].loc["proposed", "params (paper)"] == 1_031_674
    assert len(res.figures["history"]) == 1
    rows = {(r["table"], r["row"], r["metric"]) for r in res.comparisons}
    assert ("Table I", "Proposed", "ua") in rows and ("Table V", "W/o LCT", "wa") in rows
    assert all("synthetic corpus" in r["note"] for r in res.comparisons if r["table"] == "Table I")
