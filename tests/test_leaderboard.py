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
    assert "±" in table.loc["a", "UA"] and table.loc["needs video", "flag"] == "absent: corpus has no video"
    shown = leaderboard.rows_display(rows)
    assert list(shown["UA"])[-1] == "absent" and list(shown["absent because"])[-1] == "corpus has no video"
    assert shown["batch size"].iloc[0] == f"{int(ran['batch_size'].iloc[0]):,}" and "." in shown["UA"].iloc[0]
    assert table.loc["needs video", "UA"] == "absent" and table.loc["a", "flag"] == ""


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


def _write_board(root, ds, profile, uas, skipped=None, started="2026-12-01T00:00:00+00:00", seed=0):
    """A leaderboard metrics.json as a run writes it (the keys the cross-corpus ranking reads)."""
    import json
    from pathlib import Path

    rows = [{"method": m, "paper": "x", "modalities": "audio", "seed": s, "skipped": None, "ua": u + s}
            for m, u in uas.items() for s in (0, 1)]
    rows += [{"method": m, "paper": "x", "modalities": "text", "seed": s, "skipped": why, "ua": None}
             for m, why in (skipped or {}).items() for s in (0, 1)]
    folder = Path(root) / "leaderboard" / ds / profile
    folder.mkdir(parents=True, exist_ok=True)
    data = {"paper": "leaderboard", "dataset": ds, "profile": profile, "synthetic": False, "seed": seed,
            "protocol": {"name": "loso_speaker", "n_folds": 1, "n_folds_total": 10,
                         "folds": [{"name": "f", "sizes": {"train": 300, "val": 30, "test": 49}}]},
            "git_sha": "0" * 40, "started": started, "runtime_s": 1.0, "device": "cpu", "corpus_note": None,
            "intervals": {},
            "metrics": {"ua": max(uas.values()), "wa": 50.0, "macro_f1": None, "weighted_f1": None},
            "comparisons": [], "per_class": {},
            "confusion": {"labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
            "extra": {"leaderboard": rows, "params": {"seeds": [0, 1], "epochs": 3, "baseline_epochs": 100}}}
    (folder / "metrics.json").write_text(json.dumps(data))
    return folder


def test_ranking_across_corpora_needs_two_corpora_and_says_so_in_one_sentence(tmp_path):
    from sercore import stats

    empty = leaderboard.rank_across(leaderboard.find_boards(tmp_path / "results", tmp_path / "records"))
    assert empty["result"] is None and empty["text"].startswith("No real corpus has a leaderboard run:")
    _write_board(tmp_path / "results", "emodb", "quick", {"a": 60, "b": 50, "c": 40})
    one = leaderboard.rank_across(leaderboard.find_boards(tmp_path / "results", tmp_path / "records"))
    assert one["result"] is None
    assert one["text"] == ("1 real corpus has a leaderboard run (emodb): ranking the methods across corpora "
                           "(Friedman test and Nemenyi's critical-difference diagram) needs leaderboard runs "
                           "on at least 2 real corpora.")
    _write_board(tmp_path / "results", "iemocap", "quick", {"a": 55, "b": 50, "c": 52})
    _write_board(tmp_path / "results", "emovo", "quick", {"a": 70, "b": 40, "c": 45},
                 skipped={"text MLP": "corpus has no text"})
    boards = leaderboard.find_boards(tmp_path / "results", tmp_path / "records")
    assert [b["dataset"] for b in boards] == ["emodb", "emovo", "iemocap"]
    assert boards[0]["scores"]["a"] == pytest.approx(60.5)          # the mean over the two seeds' rows
    assert boards[0]["scope"] == "1 of 10 folds, 49 test utterances, 3 epochs, 2 seeds (0, 1)"
    assert boards.invalid == []
    r = leaderboard.rank_across(boards)
    assert r["ranked"] == ["a", "b", "c"] and r["result"]["ranks"].index[0] == "a"
    # a method absent on a corpus (no text) is named, with the reason, and left out of the ranking
    assert r["left_out"] == {"text MLP": "absent on emodb (not on that board); absent on emovo (corpus has no "
                                         "text); absent on iemocap (not on that board)"}
    assert "Left out of the ranking" in r["text"] and "Friedman chi2_F" in r["text"] and "CD = " in r["text"]
    table = leaderboard.ranking_table(r)
    assert table.loc["a", "mean rank"] == "1.00" and table.loc["text MLP", "emovo UA (rank)"] == "absent"
    assert table.loc["c", "iemocap UA (rank)"] == "52.50 (2)"
    expected = stats.friedman_nemenyi(r["scores"][["a", "b", "c"]])
    assert r["result"]["cd"] == pytest.approx(expected["cd"])
    # a broken board is not a board, and it is not passed over in silence
    (tmp_path / "results" / "leaderboard" / "meld" / "quick").mkdir(parents=True)
    (tmp_path / "results" / "leaderboard" / "meld" / "quick" / "metrics.json").write_text("{}")
    boards = leaderboard.find_boards(tmp_path / "results", tmp_path / "records")
    assert len(boards) == 3 and len(boards.invalid) == 1 and "meld" in boards.invalid[0]


def test_show_across_corpora_prefers_published_reference_boards_and_draws_the_diagram(tmp_path):
    """records/leaderboard/<dataset>/<profile>/seed-* count as boards (seeds pooled) and win over a quick
    run in results/; with boards on 2 corpora the diagram is drawn."""
    import json
    import shutil

    from sercore.paths import file_sha256

    _write_board(tmp_path / "results", "emodb", "quick", {"a": 10, "b": 50, "c": 40})
    for seed in (0, 1):
        src = _write_board(tmp_path / "scratch" / str(seed), "emodb", "reference", {"a": 70, "b": 50, "c": 40},
                           seed=seed)
        dest = tmp_path / "records" / "leaderboard" / "emodb" / "reference" / f"seed-{seed}"
        shutil.copytree(src, dest)
        (dest / "leaderboard.ipynb").write_text("{}")
        prov = {"schema": 1, "paper": "leaderboard", "dataset": "emodb", "profile": "reference", "seed": seed,
                "commit": "0" * 40, "command": "sercore run", "reproduce": "sercore run", "device": "cpu",
                "wall_time_s": 1.0, "started": "2026-12-01T00:00:00+00:00", "recorded": "2026-12-01",
                "corpus_fingerprint": "abc", "params": {},
                "files": {n: file_sha256(dest / n) for n in ("metrics.json", "leaderboard.ipynb")}}
        (dest / "provenance.json").write_text(json.dumps(prov))
    _write_board(tmp_path / "results", "urdu", "quick", {"a": 90, "b": 95, "c": 20})
    r = leaderboard.show_across_corpora(tmp_path / "results", tmp_path / "records")
    emodb = next(b for b in r["boards"] if b["dataset"] == "emodb")
    assert emodb["profile"] == "reference" and emodb["published"] and emodb["scores"]["a"] == pytest.approx(70.5)
    assert "seeds 0, 1" in emodb["source"]
    assert r["result"] is not None and r["figure"] is not None
    gids = [line.get_gid() for line in r["figure"].axes[0].lines]
    assert gids.count("method") == 3 and gids.count("cd-bar") == 1


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


def test_chapter_sets_reach_only_their_chapter_and_are_named_in_its_note():
    from sercore import runs
    P = runs.resolve("leaderboard", "emodb", "paper", {"chapter_sets": ["ca_ser.d_model=32", "ca_ser.sa_heads=2"]})
    cp, source = leaderboard.chapter_params("ca_ser", P)
    plain = runs.resolve("ca_ser", "emodb", "paper", {"seed": 0, "data_root": None})
    assert (cp["d_model"], cp["sa_heads"]) == (32, 2) and plain["d_model"] != 32
    assert {k: v for k, v in dict(cp).items() if k not in ("d_model", "sa_heads")} == \
        {k: v for k, v in dict(plain).items() if k not in ("d_model", "sa_heads")}
    assert source == "params/ca_ser/emodb.yaml (paper); the board sets d_model=32, sa_heads=2"
    other, source = leaderboard.chapter_params("ctmam", P)       # another chapter is untouched
    assert other == runs.resolve("ctmam", "emodb", "paper", {"seed": 0, "data_root": None})
    assert "sets" not in source


@pytest.mark.parametrize("item, says", [
    ("ca_ser.d_model", "expected PAPER.KEY=VALUE"),
    ("d_model=32", "expected PAPER.KEY=VALUE"),
    ("nosuch.d_model=32", "expected a chapter key"),
    ("baselines.epochs=3", "expected a chapter key"),
])
def test_a_malformed_chapter_set_is_one_line_naming_it(item, says):
    from sercore import runs
    with pytest.raises(runs.ParamsError) as e:
        runs.resolve("leaderboard", "emodb", "paper", {"chapter_sets": [item]})
    assert says in str(e.value) and item in str(e.value) and "\n" not in str(e.value)


def test_a_chapter_set_of_an_unknown_or_repeated_key_is_refused():
    from sercore import runs
    P = runs.resolve("leaderboard", "emodb", "paper", {"chapter_sets": ["ca_ser.no_such_key=3"]})
    with pytest.raises(runs.ParamsError, match="chapter_sets for ca_ser .*no_such_key"):
        leaderboard.chapter_params("ca_ser", P)
    P = runs.resolve("leaderboard", "emodb", "paper", {"chapter_sets": ["ca_ser.d_model=32", "ca_ser.d_model=64"]})
    with pytest.raises(runs.ParamsError, match="ca_ser.d_model is set twice"):
        leaderboard.chapter_params("ca_ser", P)


def test_latency_times_the_number_of_utterances_asked(small, monkeypatch):
    c, folds = small
    calls = []
    real = leaderboard.train.predict_proba

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    row0 = leaderboard.run_method(_mean_feature_method(epochs=1), c.manifest, c.labels, folds, seed=0)
    monkeypatch.setattr(leaderboard.train, "predict_proba", counting)
    row = leaderboard.run_method(_mean_feature_method(epochs=1), c.manifest, c.labels, folds, seed=0,
                                 latency_utterances=2)
    n_test = sum(len(f.test) for f in folds)
    assert n_test > 2 and row["latency_ms"] > 0 and row0["latency_ms"] > 0
    # the evaluation's own predict_proba calls (validation per epoch, test) come on top of the two timed ones
    evaluation = len(calls) - 2 * len(folds)
    calls.clear()
    leaderboard.run_method(_mean_feature_method(epochs=1), c.manifest, c.labels, folds, seed=0, latency_utterances=1)
    assert len(calls) == evaluation + len(folds)


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
    assert "±" in table.loc["a", "UA"] and table.loc["a", "flag"] == ""
    assert table.loc["needs video", "UA"] == "absent"


def test_every_registered_corpus_has_leaderboard_params_with_the_protocol_it_declares():
    """A new corpus is its module (which declares its label map and protocol) and its params files: its
    board must exist and use what the corpus declares."""
    from sercore import data, runs
    from sercore.data import LABEL_MAPS

    assert set(runs.datasets_with_params("leaderboard")) >= set(data.CORPORA)
    for name, spec in data.CORPORA.items():
        for profile in ("smoke", "quick", "paper", "reference"):
            P = runs.resolve("leaderboard", name, profile)
            assert P["corpus"] == name and P["label_map"] in LABEL_MAPS
            assert (P["protocol"], P["label_map"]) == (spec.protocol, spec.label_map), (name, profile)
            if profile in ("paper", "reference"):      # the boards whose pairwise tests the book prints
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


def _toy_predictions(n_per_class=5, k=3, seeds=(0, 1)):
    y = np.repeat(np.arange(k), n_per_class)
    rows = []
    for s in seeds:
        for name, pred in (("good", y), ("flat", np.zeros_like(y)),
                           ("noisy", np.where(np.arange(len(y)) % 3 == 0, (y + 1) % k, y))):
            rows.append(pd.DataFrame({"method": name, "seed": s, "fold": "f0", "row": np.arange(len(y)),
                                      "y_true": y, "y_pred": pred}))
    return pd.concat(rows, ignore_index=True)


def test_a_collapsed_model_is_flagged_and_left_out_of_the_paired_tests():
    pred = _toy_predictions()
    flagged = leaderboard.collapsed_methods(pred, ["neutral", "happy", "sad"])
    assert flagged == {"flat": "predicts only 'neutral' on 1 of 1 test set(s) in 2 of 2 seed(s)"}
    cmp = leaderboard.compare(pred, 3, n_resamples=200, labels=["neutral", "happy", "sad"])
    assert cmp["tested"] == ["good", "noisy"] and len(cmp["pairs"]) == 1
    assert "flat" not in set(cmp["pairs"]["a"]) | set(cmp["pairs"]["b"])
    assert cmp["text"].startswith("Left out of the paired tests") and "flat (predicts only 'neutral'" in cmp["text"]
    assert "flat" in cmp["intervals"].index            # its own interval is still shown
    assert set(cmp["pairs_display"]["p"]) <= {"< 0.001"} | {f"{x / 1000:.3f}" for x in range(1001)}
    # a test set that holds one class only: predicting that class is not a collapse
    one = pred[pred["y_true"] == 0]
    assert leaderboard.collapsed_methods(one) == {}


def test_plot_draws_chance_and_shows_absent_and_collapsed_methods():
    import matplotlib.pyplot as plt

    summ = pd.DataFrame([
        {"method": "good", "paper": "x", "modalities": "audio", "seeds": 2, "ua": 80.0, "ua_std": 1.0, "skipped": None},
        {"method": "flat", "paper": "baseline", "modalities": "audio", "seeds": 2, "ua": 33.3, "ua_std": 0.0,
         "skipped": None},
        {"method": "text MLP", "paper": "baseline", "modalities": "text", "seeds": 0, "skipped": "corpus has no text"}])
    ax = leaderboard.plot(summ, n_classes=3, collapsed={"flat": "predicts only 'neutral'"}, title="T",
                          label_free={"good": "reads only text"})
    chance = [l for l in ax.lines if l.get_gid() == "chance"]
    assert len(chance) == 1 and chance[0].get_xdata()[0] == pytest.approx(100 / 3)
    texts = [t.get_text() for t in ax.texts]
    assert "absent: corpus has no text" in texts and "collapsed: one class" in texts
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["text MLP", "flat (collapsed)", "good (guessing)"]
    assert len(ax.patches) == 2                               # no bar for the absent method
    plt.close(ax.figure)


def test_board_scope_states_folds_test_utterances_epochs_and_seeds():
    protocol = {"n_folds": 1, "n_folds_total": 10, "folds": [{"sizes": {"test": 49}}]}
    P = {"dataset": "emodb", "profile": "quick", "seeds": [0, 1, 2], "epochs": 3}
    sc = leaderboard.board_scope(protocol, P)
    assert sc["text"] == "1 of 10 folds, 49 test utterances, 3 epochs, 3 seeds (0, 1, 2)"
    assert leaderboard.board_title(P, sc) == "UA on emodb (quick profile): " + sc["text"]
    full = leaderboard.board_scope({"n_folds": 5, "n_folds_total": 5, "folds": [{"sizes": {"test": 80}}] * 5},
                                   {"seeds": [0], "epochs": None, "baseline_epochs": 100})
    assert full["text"] == ("all 5 folds, 400 test utterances, each method's own epochs (baselines: 100), "
                            "1 seed (0)")


def test_a_scripted_corpus_text_is_label_free_and_its_text_only_methods_are_flagged():
    m = pd.DataFrame({"text": ["s1", "s2"] * 6, "y": [0, 0, 1, 1, 2, 2] * 2, "path": ["a.wav"] * 12})
    free = leaderboard.label_free_modalities(m)
    assert list(free) == ["text"] and "every one of its 2 sentences" in free["text"]
    informative = m.assign(text=[f"t{y}" for y in m["y"]])
    assert leaderboard.label_free_modalities(informative) == {}
    summ = pd.DataFrame([{"method": "text MLP", "paper": "baseline", "modalities": "text", "seeds": 1, "ua": 33.0,
                         "ua_std": float("nan"), "skipped": None},
                        {"method": "MDAT", "paper": "mdat", "modalities": "audio+text", "seeds": 1, "ua": 60.0,
                         "ua_std": float("nan"), "skipped": None}])
    flagged = leaderboard.label_free_methods(summ, free)
    assert list(flagged) == ["text MLP"]
    summ = summ.assign(macro_f1=1.0, macro_f1_std=float("nan"), wa=1.0, wa_std=float("nan"), n_params=1,
                       train_s=1.0, latency_ms=1.0)
    table = leaderboard.display_table(summ, label_free=flagged)
    assert table.loc["text MLP", "flag"] == "guessing: its only modality carries no label here"
    assert table.loc["MDAT", "flag"] == "" and list(table.columns).index("flag") == list(table.columns).index("UA") + 1


def test_a_chapter_method_is_one_method_on_every_corpus_whatever_its_modality_variant():
    assert leaderboard.method_key({"method": "MDAT (audio only)", "paper": "mdat"}) == "MDAT"
    assert leaderboard.method_key({"method": "MLCCT (text only)", "paper": "mlcct"}) == "MLCCT"
    assert leaderboard.method_key({"method": "MFCC stats + MLP", "paper": "baseline"}) == "MFCC stats + MLP"
    assert leaderboard.method_key({"method": "MCWSA-CMHA", "paper": "mcwsa_cmha"}) == "MCWSA-CMHA"


def test_the_board_measures_its_speaker_confound(small):
    """On speaker-independent folds the speaker-only predictor is at chance and the board says so; on
    folds that share speakers whose each speaks one class, it scores 100 and the board is flagged."""
    c, _ = small
    P = {"protocol": "official", "test_sessions": [5], "seed": 0, "unfit_folds": "flag"}
    summ = pd.DataFrame([{"method": "a", "ua": 40.0, "skipped": None}])
    text = leaderboard.speaker_confound(P, c, summ)
    assert text.startswith("A speaker-only predictor") and "25.0 for chance" in text
    tied = c.manifest.assign(speaker=[f"spk{y}_{i % 2}" for i, y in enumerate(c.manifest["y"])])
    corpus = experiment.Corpus(c.name, tied, c.labels, True, None)
    P = {"protocol": "kfold_val", "k": 3, "seed": 0, "val": "fold", "unfit_folds": "flag"}
    from sercore import confounds
    score = confounds.speaker_only(tied, experiment.folds(tied, P), c.labels)["ua"]
    assert score > 50
    text = leaderboard.speaker_confound(P, corpus, summ.assign(ua=score + 2))
    assert text.startswith(f"**Speaker and emotion confounded: a speaker-only predictor scores {score:.1f}**")
    assert f"against {score + 2:.1f} for the best method here, a," in text
    far = leaderboard.speaker_confound(P, corpus, summ.assign(ua=score + 30))
    assert far.startswith("A speaker-only predictor") and "do not let" not in far


def test_a_cell_ending_with_show_across_corpora_shows_nothing_more(tmp_path):
    r = leaderboard.show_across_corpora(tmp_path / "results", tmp_path / "records")
    assert isinstance(r, dict) and r["result"] is None and r._ipython_display_() is None


def test_the_collapsed_flag_is_short_and_beside_the_scores():
    summ = pd.DataFrame([{"method": "flat", "paper": "baseline", "modalities": "audio", "seeds": 2, "ua": 33.3,
                          "ua_std": 0.0, "wa": 40.0, "wa_std": 0.0, "macro_f1": 10.0, "macro_f1_std": 0.0,
                          "n_params": 10, "train_s": 1.0, "latency_ms": 1.0, "skipped": None}])
    why = leaderboard.collapsed_methods(_toy_predictions(), ["neutral", "happy", "sad"])["flat"]
    table = leaderboard.display_table(summ, collapsed={"flat": why})
    assert table.loc["flat", "flag"] == "collapsed: predicts only 'neutral', 2 of 2 seed(s)"


def test_every_reference_board_trains_its_chapters_offline_at_the_widths_its_params_name(monkeypatch):
    """A reference board is a publishing recipe for a CPU machine with no model hub: no chapter it trains may
    name a checkpoint to download (CA-SER's paper profile fine-tunes wav2vec 2.0, which the board's
    chapter_sets replace with the frozen stand-in), and its notes name the reduced widths it trains."""
    from sercore import runs
    from sercore.features import hub

    monkeypatch.setattr(hub, "locate", lambda name: (_ for _ in ()).throw(
        hub.CheckpointUnavailableError(f"{name} is not here")))
    boards = [ds for ds in runs.datasets_with_params("leaderboard") if ds not in ("synthetic", runs.MANIFEST)]
    checked = 0
    for ds in boards:
        if "reference" not in runs.profiles("leaderboard", ds):
            continue
        P = runs.resolve("leaderboard", ds, "reference")
        for paper in P["methods"]:
            if paper == "baselines":
                continue
            cp, source = leaderboard.chapter_params(paper, P)
            assert hub.check_checkpoints(cp, source) == {}, (ds, paper)
            if paper == "ca_ser":
                assert (cp["mode"], cp["d_model"], cp["max_s"]) == ("frozen", 64, 8.0)
                assert "the board sets" in source and "d_model=64" in source
            checked += 1
    assert checked >= 5 * 5          # emodb, emovo, urdu, iemocap_text, meld at least, five chapters each


def test_methods_left_out_for_a_modality_are_ranked_over_the_corpora_that_have_it(tmp_path):
    """A text-only board leaves the audio methods out of the all-corpora ranking; they are ranked again
    over the corpora with audio, and that ranking is drawn."""
    for ds, uas in (("emodb", {"a": 70, "b": 50, "c": 40, "speech": 60}),
                    ("emovo", {"a": 65, "b": 45, "c": 50, "speech": 55}),
                    ("urdu", {"a": 90, "b": 80, "c": 70, "speech": 85})):
        _write_board(tmp_path / "results", ds, "reference", uas)
    _write_board(tmp_path / "results", "iemocap_text", "reference", {"a": 60, "b": 55, "c": 50},
                 skipped={"speech": "corpus has no audio"})
    boards = leaderboard.find_boards(tmp_path / "results", tmp_path / "records")
    assert [sorted(leaderboard.lacking(b)) for b in boards] == [[], [], ["audio"], []]
    r = leaderboard.show_across_corpora(tmp_path / "results", tmp_path / "records")
    assert r["ranked"] == ["a", "b", "c"] and "speech" in r["left_out"]
    audio = r["by_modality"]["audio"]
    assert [b["dataset"] for b in audio["boards"]] == ["emodb", "emovo", "urdu"]
    assert sorted(audio["ranked"]) == ["a", "b", "c", "speech"] and audio["figure"] is not None
    assert list(r["by_modality"]) == ["audio"]          # every corpus has text here: no second ranking
