"""MCWSA-CMHA chapter: LTPP inputs, two-stage CV, the run plan, tables, figures' data, run(), method()."""
import numpy as np
import pandas as pd
import pytest

from sercore import experiment, protocols, runs
from sercore.chapters import mcwsa_cmha as ch

TINY = dict(latent_dim=8, heads=2, audio_channels=2, video_hidden=8, text_layers=1, text_ff=16, head_hidden=8,
            tfn_rank=2, dropout=0.0)


def params(dataset="synthetic", **overrides):
    """The chapter's resolved smoke parameters at tiny widths (what run() and method() receive)."""
    return runs.resolve("mcwsa_cmha", dataset, "smoke", overrides={**TINY, **overrides})


def test_video_inputs_are_ltpp_32x2048_standardised_per_utterance(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, T in enumerate((7, 40)):               # 7 frames: fewer than the 16 finest regions (zero padding)
        p = tmp_path / f"v{i}.npy"
        np.save(p, rng.integers(0, 255, (T, 48, 48), dtype=np.uint8))
        paths.append(str(p))
    man = pd.DataFrame({"video": paths})
    a = ch.video_features(man, "randproj", progress=False)
    b = ch.video_features(man, "gradproj", progress=False)
    assert [x.shape for x in a] == [(32, 2048)] * 2 and [x.shape for x in b] == [(32, 2048)] * 2
    assert all(x.dtype == np.float32 for x in a + b)
    assert not np.allclose(a[1], b[1])
    assert abs(float(a[1].mean())) < 1e-4 and float(a[1].std()) == pytest.approx(1.0, abs=1e-3)


def test_modality_features_refuse_what_the_manifest_lacks():
    man = pd.DataFrame({"path": ["a.wav"], "text": ["hi"], "video": [None]})
    with pytest.raises(ValueError, match=r"no \['video'\]"):
        ch.modality_features(man, ("text", "video"))


def _toy(n=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    feats = [{"audio": (rng.standard_normal((3, 16, 64)) + y[i]).astype(np.float32),
              "text": (rng.standard_normal((32, 12)) - y[i]).astype(np.float32),
              "video": rng.standard_normal((32, 20)).astype(np.float32)} for i in range(n)]
    man = pd.DataFrame({"y": y, "label": np.array(["a", "b", "c"])[y], "speaker": "s"})
    return feats, y, man


def test_run_cv_pretrains_every_fold_then_fine_tunes():
    feats, y, man = _toy()
    folds = protocols.make_folds(man, "kfold_val", k=5, seed=0, max_folds=2)
    build = ch.builder(feats, ("audio", "text", "video"), "cmha", 3, TINY)
    cfg = ch.train_config(params(epochs=2, batch_size=8))
    assert cfg.inputs == ("audio", "text", "video") and cfg.epochs == 2 and cfg.early_stop_metric == "ua"
    log, seen = [], []
    cv = ch.run_cv(build, feats, y, folds, cfg, ["a", "b", "c"], pretrain_epochs=2, log=log,
                   after_pretrain=lambda fold, model: seen.append(fold.name))
    assert len(cv.folds) == 2 and seen == [f.name for f in folds]
    assert [len(entry["history"]) for entry in log] == [2, 2]
    assert all("val_rec_loss" in h for entry in log for h in entry["history"])
    assert 0 <= cv.summary["mean"]["ua"] <= 100
    # NP: no stage 1
    log2 = []
    ch.run_cv(build, feats, y, folds[:1], cfg, ["a", "b", "c"], pretrain_epochs=0, log=log2)
    assert log2[0]["history"] == []


def test_sizes_come_from_the_parameters():
    assert ch.sizes_from_params(params()) == TINY
    paper = runs.resolve("mcwsa_cmha", "synthetic", "paper")
    assert ch.sizes_from_params(paper) == {}                       # None everywhere: the paper preset
    assert "paper's widths" in ch._widths(paper) and "latent_dim 8" in ch._widths(params())


def test_run_setting_captures_representations_and_tables():
    feats, y, man = _toy()
    folds = protocols.make_folds(man, "kfold_val", k=5, seed=0, max_folds=1)
    P = params(batch_size=8)
    res = ch.run_setting(feats, y, folds, ["a", "b", "c"], ch.ALL, "cmha", True, P, capture=True)
    assert res["unsup"].shape == (30, 8) and res["sup"].shape == (30, 8)
    assert set(res["encoded"]) == {"audio", "text", "video"} and res["encoded"]["text"].shape == (30, 32 * 8)
    assert not np.allclose(res["unsup"], res["sup"])
    assert len(res["pretrain"]) == 1 and len(res["pretrain"][0]["history"]) == P["pretrain_epochs"]
    grid = {("cmha", "A+V+T"): res}
    t2 = ch.table_two(grid, "iemocap")
    assert t2.loc["The proposed CMHA", ("A+V+T", "UA", "reported")] == 86.3
    assert t2.loc["The proposed CMHA", ("A+V+T", "UA", "measured")] == round(res["ua"], 2)
    assert pd.isna(t2.loc["Concat [8]", ("A+V+T", "UA", "measured")])
    assert pd.isna(t2.loc["TFN [10]", ("A+V", "UA", "reported")])             # the paper leaves it empty
    t1 = ch.table_one(res["ua"], "iemocap", "synthetic")
    assert t1.loc["MCWSA-CMHA (Proposed)", "reported UA (%)"] == 86.3
    comps = ch.comparisons(grid, {"randproj": {"A+V+T": res}}, res, "iemocap", "synthetic")
    assert {(c["table"], c["metric"]) for c in comps} == {("Table I", "ua"), ("Table II", "ua"), ("Table II", "f1"),
                                                          ("Table III", "ua")}
    assert all(c["reported"] is not None for c in comps)
    t3 = ch.table_three({"randproj": {"A+V+T": res}}, "iemocap")
    assert t3.iloc[0][("A+V+T", "reported")] == 86.3 and t3.iloc[1][("A+V+T", "reported")] == 84.5


def test_plan_follows_parameters_and_modalities():
    P = params(table2_fusions=["cmha", "mult", "concat"], table2_columns=["A+V", "A+V+T (NP)", "A+V+T"],
               table3_extractors=["gradproj"], table3_columns=["A+V+T", "A+T"])
    p = ch.plan(P, ch.ALL)
    assert p["full"] == "A+V+T" and len(p["table2"]) == 9 and ("concat", "A+V+T (NP)") in p["table2"]
    assert p["table3"] == [("gradproj", "A+V+T")]                 # A+T has no video
    p2 = ch.plan(P, ("audio", "text"))
    assert p2["full"] == "A+T" and {("cmha", "A+T"), ("mult", "A+T"), ("cmha", "A+T (NP)")} <= set(p2["table2"])
    assert all(c != "A+V" for _, c in p2["table2"]) and p2["table3"] == [] and p2["notes"]
    p3 = ch.plan(P, ("text",))
    assert p3["table2"] == [("cmha", "T"), ("cmha", "T (NP)")] and "one modality" in p3["notes"][0]
    assert ch.parse_column("A+V+T (NP)") == (ch.ALL, False)
    assert ch.subset_name(("video", "audio"), True) == "A+V"
    with pytest.raises(ValueError, match="unknown column"):
        ch.parse_column("A+X")
    with pytest.raises(ValueError, match="at least one"):
        ch.plan(P, ())


def test_digits_check_reconstructs_three_channels():
    out = ch.digits_check(epochs=3, n_train=128, n_show=4, sizes=TINY)
    assert set(out["inputs"]) == {"ch1", "ch2", "ch3"} and out["outputs"]["ch2"].shape == (4, 8, 8)
    assert out["history"][-1]["rec_loss"] < out["history"][0]["rec_loss"]
    assert out["groups"] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]


def test_digits_check_flags_reconstructions_no_better_than_the_mean_image():
    """3 epochs of a tiny model cannot learn digits: its test MSE stays near that of predicting each
    channel's mean training image, and the result says so with both numbers; the ratio is computed on the
    held-out triples, and the baseline from the training images alone."""
    out = ch.digits_check(epochs=3, n_train=128, n_show=4, sizes=TINY, n_eval=50)
    assert out["n_eval"] == 50 and out["outputs"]["ch1"].shape == (4, 8, 8)
    assert out["mse_ratio"] == pytest.approx(out["test_mse"] / out["baseline_mse"])
    assert out["mse_ratio"] > ch.DIGITS_FAIL_RATIO and out["failed"] is True
    assert out["flag"].startswith("**Failed check.**") and f"{out['test_mse']:.4f}" in out["flag"]
    assert f"{out['baseline_mse']:.4f}" in out["flag"] and "3 epochs on 128 images" in out["flag"]
    # the baseline is the floor: a perfect reconstruction would score 0, the mean image about the
    # pixel variance of the held-out digits (scaled to [0, 1])
    assert 0.03 < out["baseline_mse"] < 0.12


def test_method_uses_the_modalities_asked_for_and_offered():
    m = ch.method(params(), have=("audio", "text"))
    assert m.modalities == ("audio", "text") and m.run_cv is not None and m.train.inputs == ("audio", "text")
    assert m.train.epochs == 1 and m.train.batch_size == 16 and "1 reconstruction + 1 fine-tuning" in m.note
    assert "text: stand-in" in m.note and "video:" not in m.note
    assert ch.method(params(), have=("text",)).modalities == ("text",)
    assert ch.method(params(modalities=["audio"]), have=ch.ALL).modalities == ("audio",)
    with pytest.raises(RuntimeError, match="features"):
        m.build(4)
    with pytest.raises(ValueError, match="needs one of"):
        ch.method(params(modalities=["video"]), have=("audio", "text"))


def test_method_run_cv_pretrains_then_fine_tunes_on_its_modalities(monkeypatch):
    feats, y, man = _toy()
    text = [{"text": f["text"]} for f in feats]
    m = ch.method(params(batch_size=8, pretrain_epochs=2), have=("text",))
    stage1, real = [], ch.pretrain

    def spy(model, features, indices, cfg, epochs, val_indices=None):
        stage1.append((epochs, cfg.inputs))
        return real(model, features, indices, cfg, epochs, val_indices)

    monkeypatch.setattr(ch, "pretrain", spy)
    folds = protocols.make_folds(man, "kfold_val", k=5, seed=0, max_folds=1)
    cv = m.run_cv(ch.builder(text, ("text",), "cmha", 3, TINY), text, y, folds, m.train, ["a", "b", "c"])
    assert stage1 == [(2, ("text",))] and len(cv.folds) == 1 and 0 <= cv.summary["mean"]["ua"] <= 100


def test_mine_and_dcca_curves_cover_every_pair_and_fusion():
    rng = np.random.default_rng(0)
    orig = {m: rng.standard_normal((40, 50)).astype(np.float32) for m in ("audio", "text", "video")}
    enc = {m: rng.standard_normal((40, 30)).astype(np.float32) for m in ("audio", "text")}
    mi = ch.mine_curves(orig, enc, steps=5, dim=4)
    assert set(mi) == {"A-T"} and len(mi["A-T"]["encoded"].curve) == 5      # video not encoded: no V-T, A-V
    dc = ch.dcca_curves({"CMHA": enc["audio"], "MulT": enc["text"]}, orig["audio"], steps=5, dim=6, out_dim=2)
    assert set(dc) == {"CMHA", "MulT"}
    assert all(len(r.curve) == 5 and r.val_corr is not None and 0 <= r.corr <= 1 for r in dc.values())


def test_run_on_the_synthetic_corpus_returns_every_table_and_figure(tmp_path, monkeypatch):
    P = params(n_per_class=5, mine_steps=3, dcca_steps=3, digits_epochs=1, digits_train=64)
    corpus = experiment.load_corpus(P)
    monkeypatch.setenv("SERCORE_RUN_LOG", str(tmp_path / "run.log"))
    res = ch.run(P, corpus)
    f = res.figures
    # every progress line names the run and its stage: no silent figure (t-SNE, the digits check)
    lines = [ln.split(" ", 2)[2] for ln in (tmp_path / "run.log").read_text().splitlines()]
    head = f"mcwsa_cmha/{P['dataset']}/{P['profile']} seed {P['seed']} | "
    assert lines and all(ln.startswith(head) for ln in lines), lines[:3]
    for stage in ("| Table II cmha A+V+T", "| Fig. 5 | t-SNE 1/", "| Fig. 6 digits check | stage 1", "| Fig. 7 | t-SNE"):
        assert any(stage in ln for ln in lines), stage
    assert res.extra["modalities"] == ["audio", "text", "video"] and f["full"] == "A+V+T"
    assert 0 <= res.metrics["ua"] <= 100 and set(res.per_class) == set(corpus.labels)
    assert set(f["confusions"]) == {"CMHA", "MulT"}
    assert set(f["tsne5"]) == set(ch.FUSION_ROWS.values())
    assert all(p["embedding"].shape == (len(corpus.manifest), 2) for p in {**f["tsne5"], **f["tsne7"]}.values())
    assert set(f["mine"]) == {"V-T", "A-T", "A-V"} and set(f["dcca"]) == set(ch.FUSION_ROWS.values())
    assert f["table3"] is not None and f["table2"].loc["MulT [15]", ("A+V+T", "UA", "measured")] is not None
    assert "**smoke**-profile run on `synthetic`" in f["summary"] and "1 reconstruction + 1 fine-tuning" in f["summary"]
    assert {c["table"] for c in res.comparisons} == {"Table I", "Table II", "Table III"}
    assert res.protocol == experiment.describe_folds(experiment.folds(corpus.manifest, P), P)


def test_run_with_one_modality_skips_the_cross_modal_figures():
    P = params(modalities=["text"], n_per_class=5, digits_epochs=1, digits_train=64)
    res = ch.run(P, experiment.load_corpus(P))
    f = res.figures
    assert f["full"] == "T" and res.extra["modalities"] == ["text"]
    assert set(f["grid"].index) == {("cmha", "T"), ("cmha", "T (NP)")}
    assert f["tsne5"] == {} and f["mine"] == {} and f["dcca"] == {} and f["table3"] is None
    assert list(f["confusions"]) == ["CMHA"] and len(f["tsne7"]) == 3 and "one modality" in f["summary"]


def test_table_one_beside_a_run_on_fewer_modalities_is_shown_but_not_comparable():
    from sercore import results

    head = {"ua": 60.0}
    full = ch.comparisons({}, {}, head, "iemocap", "measured on iemocap_text", full="A+V+T")
    assert full[0]["reported"] == 86.3 and "comparable" not in full[0]
    text = ch.comparisons({}, {}, head, "iemocap", "measured on iemocap_text", full="T")
    assert text[0]["reported"] == 86.3 and text[0]["comparable"] is False
    got = results.attach_intervals(text, head, {"ua": {"low": 58.0, "high": 62.0}}, False, "mcwsa_cmha", "iemocap_text")
    assert got[0]["verdict"] == "not comparable: the paper's number is its A+V+T model, this run's model sees T only"
