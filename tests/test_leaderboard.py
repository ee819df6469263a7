"""The leaderboard: shared folds, one row per (method, seed), skips counted, record for metrics.json."""
import numpy as np
import pandas as pd
import pytest

from sercore import experiment, leaderboard, results, train
from sercore.chapters import Method


@pytest.fixture(scope="module")
def small():
    c = experiment.prepare("synthetic", label_map="ser4", languages=["en"], n_per_class=8)
    folds = experiment.folds(c.manifest, {"protocol": "official", "test_sessions": [5], "seed": 0,
                                          "unfit_folds": "flag"})   # 6 test utterances: a toy, not a measurement
    return c, folds


def _mean_feature_method(name="toy", modalities=("audio",), epochs=2):
    def feats(m):
        rng = np.random.default_rng(0)
        # class signal in the first feature, variable lengths so masking is exercised
        return [(rng.normal(size=(5 + i % 3, 4)) + np.eye(4)[y][None] * 3).astype(np.float32)
                for i, y in enumerate(m["y"])]
    from sercore import models
    return Method(name, "baseline", modalities, feats,
                  lambda k: models.create("mlp_stats", input_dim=4, n_classes=k),
                  train.TrainConfig(epochs=epochs, batch_size=8, progress=False))


def test_corpus_modalities(small):
    from sercore import data
    c, _ = small
    assert data.modalities(c.manifest) == ("audio", "text", "video")
    m = c.manifest.copy()
    m.loc[0, "text"] = ""
    assert data.modalities(m) == ("audio", "video")


def test_rows_per_method_and_seed_and_skips(small):
    c, folds = small
    m = c.manifest.drop(columns=["video"])
    ms = [_mean_feature_method("a"), _mean_feature_method("needs video", ("audio", "video"))]
    rows = leaderboard.train_all(ms, m, c.labels, folds, seeds=(0, 1), progress=False)
    assert len(rows) == 4
    ran = rows[rows["skipped"].isna()]
    assert list(ran["method"]) == ["a", "a"] and list(ran["seed"]) == [0, 1]
    assert (rows[rows["method"] == "needs video"]["skipped"] == "corpus has no video").all()
    assert ran["n_params"].iloc[0] == train.count_parameters(ms[0].build(len(c.labels)))
    assert (ran["latency_ms"] > 0).all() and (ran["train_s"] > 0).all()
    assert ran["ua"].between(0, 100).all()
    summ = leaderboard.summary(rows)
    assert list(summ["method"]) == ["a", "needs video"]
    assert summ.loc[0, "seeds"] == 2 and summ.loc[1, "seeds"] == 0
    assert summ.loc[0, "ua"] == pytest.approx(ran["ua"].mean())
    assert summ.loc[0, "ua_std"] == pytest.approx(ran["ua"].std(ddof=1))
    table = leaderboard.display_table(summ)
    assert "±" in table.loc["a", "UA"] and table.loc["needs video", "not run because"] == "corpus has no video"


def test_same_seed_same_numbers(small):
    c, folds = small
    ms = [_mean_feature_method()]
    r1 = leaderboard.train_all(ms, c.manifest, c.labels, folds, seeds=(3,), progress=False)
    r2 = leaderboard.train_all(ms, c.manifest, c.labels, folds, seeds=(3,), progress=False)
    for k in leaderboard.METRICS:
        assert r1[k].iloc[0] == r2[k].iloc[0]


def test_record_is_a_valid_metrics_json(small, tmp_path):
    c, folds = small
    rows = leaderboard.train_all([_mean_feature_method(epochs=3)], c.manifest, c.labels, folds, seeds=(0,),
                           progress=False)
    summ = leaderboard.summary(rows)
    rec = leaderboard.record(rows, summ)
    run = results.Run({"paper": "leaderboard", "dataset": "synthetic", "profile": "smoke", "seed": 0,
                       "results_dir": str(tmp_path)})
    out = run.write(results.ChapterResult(protocol={"name": "official"}, **rec,
                                          predictions=leaderboard.predictions(rows)), corpus=c)
    assert out["synthetic"] is True
    back = results.read_metrics(tmp_path / "metrics.json")
    assert back["extra"]["headline_method"] == "toy"
    assert back["metrics"]["ua"] == pytest.approx(summ.loc[0, "ua"])
    # the interval is computed from the same test predictions as the headline, and kept on disk
    iv = back["intervals"]["ua"]
    assert iv["estimate"] == pytest.approx(back["metrics"]["ua"]) and iv["low"] <= iv["estimate"] <= iv["high"]
    assert iv["n"] == sum(len(f.test) for f in folds)
    pred = results.load_predictions({**back, "_path": str(tmp_path / "metrics.json")})
    assert len(pred) == iv["n"] and set(pred["method"]) == {"toy"}
    assert len(back["extra"]["leaderboard"]) == 1 and "_pooled" not in back["extra"]["leaderboard"][0]
    assert sum(map(sum, back["confusion"]["matrix"])) == len(folds[0].test)


def test_paired_comparison_on_the_same_utterances(small):
    """Two methods x two seeds on the same folds: every pair tested, the matrix antisymmetric, the
    prose generated from the test; a third method with the same predictions as the first ties with it."""
    c, folds = small
    ms = [_mean_feature_method("a", epochs=3), _mean_feature_method("b", epochs=1)]
    rows = leaderboard.train_all(ms, c.manifest, c.labels, folds, seeds=(0, 1), progress=False)
    pred = leaderboard.predictions(rows)
    pred = pd.concat([pred, pred[pred["method"] == "a"].assign(method="a again")], ignore_index=True)
    cmp = leaderboard.compare(pred, len(c.labels), n_resamples=300)
    pairs = cmp["pairs"].set_index(["a", "b"])
    assert len(pairs) == 3 and cmp["seeds"] == [0, 1]
    same = pairs.loc[("a", "a again")]
    assert same["diff"] == 0 and not same["significant"] and same["p"] == 1.0
    summ = leaderboard.summary(rows)
    assert pairs.loc[("a", "b"), "diff"] == pytest.approx(
        summ.set_index("method").loc["a", "ua"] - summ.set_index("method").loc["b", "ua"])
    m = cmp["matrix"]
    assert m.loc["a", "b"].split()[0] == f"{pairs.loc[('a', 'b'), 'diff']:+.1f}"
    assert m.loc["b", "a"].split()[0] == f"{-pairs.loc[('a', 'b'), 'diff']:+.1f}"
    assert "3 pair(s) of methods were compared" in cmp["text"]
    assert "a over a again" not in cmp["text"] and "a again over a" not in cmp["text"]
    table = leaderboard.display_table(summ, intervals=cmp["intervals"])
    assert table.loc["a", "UA 95% interval"].startswith("[")
    ax = leaderboard.plot(summ, intervals=cmp["intervals"])
    assert "95% interval" in ax.get_xlabel()
    # a method tested on other utterances cannot be paired
    other = pred[pred["method"] == "b"].assign(method="c", row=lambda d: d["row"] + 10_000)
    with pytest.raises(ValueError, match="other utterances"):
        leaderboard.compare(pd.concat([pred, other]), len(c.labels), n_resamples=50)


def test_ranking_across_corpora_needs_two_corpora():
    def board(ds, uas):
        return {"paper": "leaderboard", "dataset": ds, "profile": "quick", "synthetic": False,
                "extra": {"summary": [{"method": m, "ua": u, "skipped": None} for m, u in uas.items()]}}
    one = leaderboard.across_corpora([board("emodb", {"a": 60, "b": 50, "c": 40})])
    assert one["result"] is None and "No ranking across corpora" in one["text"]
    runs = [board("emodb", {"a": 60, "b": 50, "c": 40}), board("iemocap", {"a": 55, "b": 50, "c": 52}),
            board("emovo", {"a": 70, "b": 40, "c": 45})]
    r = leaderboard.across_corpora(runs)
    assert r["result"]["ranks"].index[0] == "a" and "Friedman" in r["text"] and "critical difference" in r["text"]
    assert leaderboard.plot_across(r) is not None


def test_record_refuses_when_nothing_ran(small):
    c, folds = small
    rows = leaderboard.train_all([_mean_feature_method("v", ("video",))], c.manifest.drop(columns=["video"]),
                           c.labels, folds, seeds=(0,), progress=False)
    with pytest.raises(ValueError, match="no method ran"):
        leaderboard.record(rows, leaderboard.summary(rows))


def test_shared_epoch_budget_overrides_every_method():
    from sercore import runs
    P = runs.resolve("leaderboard", "emodb", "quick", {"epochs": 4})
    ms = leaderboard.methods(P, ("audio",))
    assert len(ms) == 8 and all(m.train.epochs == 4 for m in ms)
    assert {m.modalities for m in ms[:3]} == {("audio",), ("text",)}
    # each chapter's settings come from its own params file for this dataset, else its synthetic.yaml
    notes = {m.paper: m.note for m in ms}
    assert "params/ctmam/emodb.yaml (quick)" in notes["ctmam"]
    assert "params/mlcct/synthetic.yaml (quick)" in notes["mlcct"]
    P = runs.resolve("leaderboard", "emodb", "paper")
    assert P["epochs"] is None and all(m.train.epochs == 100 for m in leaderboard.baseline_methods(P))


def test_chapter_params_are_the_chapters_resolved_params():
    from sercore import runs
    P = runs.resolve("leaderboard", "emodb", "quick")
    cp, source = leaderboard.chapter_params("ca_ser", P)
    assert cp == runs.resolve("ca_ser", "emodb", "quick", {"epochs": P["epochs"], "seed": 0, "data_root": None})
    assert source == "params/ca_ser/emodb.yaml (quick)"


def test_batch_grows_so_no_fold_ends_on_a_single_item(small):
    c, folds = small
    m = _mean_feature_method()
    n = len(folds[0].train)
    m.train.batch_size = n - 1 if n > 2 else 1     # n % (n-1) == 1: the last batch would hold one item
    row = leaderboard.run_method(m, c.manifest, c.labels, folds, seed=0)
    assert row["batch_size"] == n and row["skipped"] is None


def test_display_reads_a_summary_back_from_metrics_json(small):
    import json
    c, folds = small
    ms = [_mean_feature_method("a"), _mean_feature_method("needs video", ("video",))]
    rows = leaderboard.train_all(ms, c.manifest.drop(columns=["video"]), c.labels, folds, seeds=(0, 1), progress=False)
    back = pd.DataFrame(json.loads(json.dumps(leaderboard.summary(rows).to_dict("records"), default=float)))
    back["skipped"] = back["skipped"].astype(object).where(back["skipped"].notna(), np.nan)   # as pandas reads nulls
    table = leaderboard.display_table(back)
    assert "±" in table.loc["a", "UA"] and table.loc["a", "not run because"] == ""
    assert table.loc["needs video", "UA"] == "–"


def test_every_registered_corpus_has_leaderboard_params_with_the_protocol_it_declares():
    """A new corpus is its module (which declares its label map and protocol) and its params files: its
    board must exist and use what the corpus declares."""
    from sercore import data, runs
    from sercore.data import LABEL_MAPS

    assert set(runs.datasets_with_params("leaderboard")) >= set(data.CORPORA)
    for name, spec in data.CORPORA.items():
        for profile in ("smoke", "quick", "paper"):
            P = runs.resolve("leaderboard", name, profile)
            assert P["corpus"] == name and P["label_map"] in LABEL_MAPS
            assert (P["protocol"], P["label_map"]) == (spec.protocol, spec.label_map), (name, profile)
            if profile != "smoke":
                assert len(P["seeds"]) >= 3, (name, profile)


def test_methods_sharing_a_feature_function_extract_once(small):
    """The baselines' two MFCC methods share one feature function: the board extracts once for both."""
    from dataclasses import replace

    c, folds = small
    calls = []
    base = _mean_feature_method("a", epochs=1)

    def counted(m):
        calls.append(len(m))
        return base.features(m)

    ms = [replace(base, features=counted), replace(base, name="b", features=counted)]
    rows = leaderboard.train_all(ms, c.manifest, c.labels, folds, seeds=(0,), progress=False)
    assert len(calls) == 1 and list(rows["method"]) == ["a", "b"]
    mfcc_stats, mfcc_bilstm, _ = leaderboard.baseline_methods({"epochs": 1, "baseline_epochs": 1})
    assert mfcc_stats.features is mfcc_bilstm.features
