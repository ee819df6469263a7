"""metrics.json: schema validation, writing, reading, reported-vs-measured rows, collection."""
import json

import pytest

from sercore import results
from sercore.metrics import classification_report


def _run(tmp_path, **kw):
    rep = classification_report([0, 1, 1, 0], [0, 1, 0, 0], ["neutral", "angry"])
    run = results.Run({"paper": "ctmam", "dataset": "emodb", "profile": "smoke", "seed": 3,
                       "results_dir": str(tmp_path / "out"), "epochs": 2})
    result = results.ChapterResult(
        protocol={"name": "random"}, metrics=rep["metrics"], per_class=rep["per_class"],
        confusion=rep["confusion"],
        comparisons=results.compare_with_paper("ctmam", "Table II", "Proposed", {"wa": rep["metrics"]["wa"]},
                                               dataset="emodb"), **kw)
    data = run.write(result, corpus=_Corpus())
    return run, data


class _Corpus:
    """What Run.write asks of a corpus: whether it is synthetic, its caveat, its record."""
    synthetic = False
    note = "copy cut to 2 s"

    def record(self):
        return {"name": "emodb", "version": "0" * 12}


def test_run_writes_a_valid_metrics_json(tmp_path):
    run, data = _run(tmp_path)
    back = results.read_metrics(run.metrics_path)
    assert back["metrics"]["wa"] == pytest.approx(75.0)
    assert back["seed"] == 3 and back["profile"] == "smoke"
    assert back["git_sha"] and back["device"].startswith(("cpu", "cuda"))
    assert back["extra"]["params"]["epochs"] == 2 and back["corpus_note"] == "copy cut to 2 s"
    assert json.loads((run.out_dir / "config.json").read_text())["seed"] == 3
    # the reported number is copied from the paper's Table II (Emo-DB, proposed model)
    c = back["comparisons"][0]
    assert (c["table"], c["row"], c["metric"], c["reported"]) == ("Table II", "Proposed", "wa", 90.65)
    assert c["measured"] == pytest.approx(75.0)


def test_validation_lists_problems(tmp_path):
    _, data = _run(tmp_path)
    bad = dict(data, metrics={**data["metrics"], "ua": 0.75 * 1000})
    with pytest.raises(ValueError, match="percent"):
        results.validate_metrics(bad)
    with pytest.raises(ValueError, match="missing key 'seed'"):
        results.validate_metrics({k: v for k, v in data.items() if k != "seed"})
    with pytest.raises(ValueError, match="2x2"):
        results.validate_metrics(dict(data, confusion={"labels": ["a", "b"], "matrix": [[1, 2]]}))
    with pytest.raises(ValueError, match="bool"):
        results.validate_metrics(dict(data, synthetic="no"))


def test_collect_reports_invalid_files_instead_of_dropping_them(tmp_path):
    run, _ = _run(tmp_path)
    root = tmp_path / "results"
    good = root / "ctmam" / "emodb" / "smoke"
    good.mkdir(parents=True)
    good.joinpath("metrics.json").write_text(run.metrics_path.read_text())
    broken = root / "mdat" / "emodb" / "quick"
    broken.mkdir(parents=True)
    broken.joinpath("metrics.json").write_text("{not json")
    runs = results.collect(root)
    assert len(runs) == 2
    assert any("error" in r and "mdat" in r["_path"] for r in runs)
    board = results.scoreboard(runs)
    assert list(board["paper"]) == ["ctmam"]
    assert board["deviation"].iloc[0] == pytest.approx(75.0 - 90.65)
    assert set(results.runs_frame(runs)["paper"].dropna()) == {"ctmam"}


def test_reference_table_pivots_the_papers_numbers():
    t = results.reference_table("ca_ser", "Table 1")
    assert t.loc["CA-SER [OURS]", "wa"] == pytest.approx(72.34)
    assert t.loc["CA-SER [OURS]", "ua"] == pytest.approx(71.53)
    with pytest.raises(KeyError, match="known"):
        results.reference_table("ca_ser", "Table 9")


def test_comparison_frame_gives_the_deviation_interval_and_test_data_as_text_for_people():
    rows = [dict(results.comparison("T", "r", "ua", 70.0, 65.5), interval=[60.25, 70.0], scope="39 test utterances"),
            results.comparison("T", "r", "wa", 70.0, None),                         # not measured: blanks
            results.comparison("Section 3", "model", "params", 108e6, 105103492.0)]
    df = results.comparison_frame(rows)
    assert list(df.iloc[0][["reported", "measured", "95% interval", "deviation", "test data"]]) == [
        "70.00", "65.50", "[60.25, 70.00]", "-4.50", "39 test utterances"]
    assert list(df.iloc[1][["measured", "95% interval", "deviation", "test data"]]) == ["", "", "", ""]
    # a parameter count beside percentages: whole, with separators, and no scientific notation anywhere
    assert list(df.iloc[2][["reported", "measured", "deviation"]]) == ["108,000,000", "105,103,492", "-2,896,508"]
    assert "e+" not in df.to_string()


def _predicted_run(tmp_path, synthetic=False, reported_inside=True):
    """A run whose chapter hands its per-utterance test predictions (two folds) to Run.write."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    pred = pd.concat([pd.DataFrame({"method": "ctmam", "seed": 3, "fold": f, "row": np.arange(40) + 40 * i,
                                    "y_true": y, "y_pred": np.where(rng.random(40) < 0.8, y, 1 - y)})
                      for i, f in enumerate(["f1", "f2"])], ignore_index=True)
    reps = [classification_report(g["y_true"], g["y_pred"], ["neutral", "angry"]) for _, g in pred.groupby("fold")]
    metrics = {k: float(np.mean([r["metrics"][k] for r in reps])) for k in results.METRIC_KEYS}
    pooled = classification_report(pred["y_true"], pred["y_pred"], ["neutral", "angry"])
    comps = [results.comparison("Table II", "Proposed", "wa", metrics["wa"] + (1.0 if reported_inside else 30.0),
                                metrics["wa"]),
             results.comparison("Table V", "ablation", "wa", 60.0, 50.0),       # another model: no interval
             results.comparison("Table II", "Proposed", "ua", None, metrics["ua"])]
    corpus = _Corpus()
    corpus.synthetic = synthetic
    run = results.Run({"paper": "ctmam", "dataset": "emodb", "profile": "smoke", "seed": 3,
                       "results_dir": str(tmp_path / "out")})
    data = run.write(results.ChapterResult(protocol={"name": "random"}, metrics=metrics,
                                           per_class=pooled["per_class"], confusion=pooled["confusion"],
                                           comparisons=comps, predictions=pred), corpus=corpus)
    return run, data, pred


def test_intervals_are_computed_from_the_headline_predictions(tmp_path):
    run, data, pred = _predicted_run(tmp_path)
    back = results.read_metrics(run.metrics_path)
    assert set(back["intervals"]) == {"wa", "ua", "macro_f1", "weighted_f1"}
    for k, iv in back["intervals"].items():
        assert iv["estimate"] == pytest.approx(back["metrics"][k]) and iv["low"] < iv["estimate"] < iv["high"]
        assert iv["n"] == 80 and iv["folds"] == 2 and iv["seeds"] == 1 and iv["confidence"] == 0.95
        assert "stratified bootstrap" in iv["method"] and "2 fold(s)" in iv["method"]
    # per class: the per-class table's precision, recall and F1, each with its interval
    assert set(back["per_class_intervals"]) == {"neutral", "angry"}
    for lab, ivs in back["per_class_intervals"].items():
        assert set(ivs) == {"precision", "recall", "f1"}
        for st, iv in ivs.items():
            assert iv["estimate"] == pytest.approx(back["per_class"][lab][st]) and iv["low"] < iv["estimate"] < iv["high"]
            assert "folds pooled" in iv["method"]
    assert back["extra"]["predictions"]["file"] == results.PREDICTIONS_FILE
    kept = results.load_predictions({**back, "_path": str(run.metrics_path)})
    assert len(kept) == 80 and (kept["y_pred"].to_numpy() == pred["y_pred"].to_numpy()).all()
    head, other, unreported = back["comparisons"]
    assert head["interval"] == [back["intervals"]["wa"]["low"], back["intervals"]["wa"]["high"]]
    assert head["inside"] is True and head["verdict"] == "inside"
    assert other["interval"] is None and other["inside"] is None and other["verdict"].startswith("not comparable")
    assert unreported["inside"] is None and "reports no number" in unreported["verdict"]


def test_paper_number_outside_the_interval_and_synthetic_rows(tmp_path):
    _, data, _ = _predicted_run(tmp_path / "a", reported_inside=False)
    c = data["comparisons"][0]
    assert c["inside"] is False and c["verdict"] == "below" and c["reported"] > c["interval"][1]
    _, syn, _ = _predicted_run(tmp_path / "b", synthetic=True)
    c = syn["comparisons"][0]
    assert c["interval"] is not None and c["inside"] is None and c["verdict"] == "not comparable: synthetic corpus"


def test_validation_refuses_an_interval_that_is_not_the_headline(tmp_path):
    _, data, _ = _predicted_run(tmp_path)
    iv = data["intervals"]["ua"]
    with pytest.raises(ValueError, match="not the headline"):
        results.validate_metrics(dict(data, intervals={**data["intervals"], "ua": {**iv, "estimate": iv["estimate"] - 1,
                                                                                  "low": iv["low"] - 2}}))
    with pytest.raises(ValueError, match="low <= estimate <= high"):
        results.validate_metrics(dict(data, intervals={"ua": {**iv, "low": iv["estimate"] + 1}}))
    with pytest.raises(ValueError, match="misses"):
        results.validate_metrics(dict(data, intervals={"ua": {"low": 1.0}}))
    with pytest.raises(ValueError, match=r"misses \['interval', 'inside', 'verdict'\]"):
        results.validate_metrics(dict(data, comparisons=[results.comparison("T", "r", "ua", 1.0, 2.0)]))
    with pytest.raises(ValueError, match="missing key 'intervals'"):
        results.validate_metrics({k: v for k, v in data.items() if k != "intervals"})
    pc = data["per_class_intervals"]
    results.validate_metrics({k: v for k, v in data.items() if k != "per_class_intervals"})   # a file from before
    recall = pc["angry"]["recall"]
    with pytest.raises(ValueError, match="per_class_intervals.angry.recall.estimate .* is not per_class.angry.recall"):
        results.validate_metrics(dict(data, per_class_intervals={**pc, "angry": {**pc["angry"], "recall": {
            **recall, "estimate": recall["estimate"] - 1, "low": recall["low"] - 2}}}))
    with pytest.raises(ValueError, match="per_class_intervals.fear: not a class of per_class"):
        results.validate_metrics(dict(data, per_class_intervals={**pc, "fear": pc["angry"]}))
    with pytest.raises(ValueError, match="per_class_intervals.angry.support: not a per-class statistic"):
        results.validate_metrics(dict(data, per_class_intervals={**pc, "angry": {**pc["angry"], "support": recall}}))


def test_predictions_must_name_the_headline_method(tmp_path):
    import pandas as pd
    _, data, pred = _predicted_run(tmp_path)
    two = pd.concat([pred, pred.assign(method="baseline")])
    run = results.Run({"paper": "leaderboard", "dataset": "emodb", "profile": "smoke", "results_dir": str(tmp_path / "x")})
    res = results.ChapterResult(protocol={"name": "random"}, metrics=data["metrics"], per_class=data["per_class"],
                                confusion=data["confusion"], predictions=two)
    with pytest.raises(ValueError, match="headline_method"):
        run.write(res, corpus=_Corpus())
    assert not run.metrics_path.exists()


def test_scoreboard_verdicts_summary_and_export(tmp_path):
    import pandas as pd
    root = tmp_path / "results"
    for name, inside in (("emodb", True), ("iemocap", False)):
        run, _, _ = _predicted_run(tmp_path / name, reported_inside=inside)
        dest = root / "ctmam" / name / "smoke"
        dest.mkdir(parents=True)
        for f in ("metrics.json", results.PREDICTIONS_FILE):
            dest.joinpath(f).write_text((run.out_dir / f).read_text())
    runs = results.collect(root)
    board = results.scoreboard(runs)
    assert list(board["verdict"].str.split(":").str[0]) == (["inside"] + ["not comparable"] * 2
                                                            + ["below"] + ["not comparable"] * 2)
    summ = results.paper_summary(board)
    assert summ.loc["ctmam"].to_dict() == {"reproduced (inside)": 1, "ours below": 1, "ours above": 0,
                                           "not comparable": 4, "rows": 6}
    assert "ctmam: 1 of 2 comparable row(s) reproduce" in results.summary_text(summ)
    shown = results.scoreboard_display(board)
    # the headline's WA and UA rows carry the interval (UA although the paper reports none); the ablation not
    assert list(shown["ours 95% interval"].str.startswith("[")) == [True, False, True] * 2
    path, df, skipped = results.export(tmp_path / "all.csv", root)
    assert skipped == []
    back = pd.read_csv(path)
    assert set(back["kind"]) == {"headline", "fold", "comparison"}
    fold = back[(back["kind"] == "fold") & (back["metric"] == "wa")]
    assert len(fold) == 4 and set(fold["fold"]) == {"f1", "f2"}
    head = back[(back["kind"] == "headline") & (back["metric"] == "wa")]
    assert (head["low"] < head["value"]).all() and head["value"].iloc[0] == pytest.approx(fold["value"].iloc[:2].mean())
    comp = back[(back["kind"] == "comparison") & back["reported"].notna() & back["low"].notna()]
    assert sorted(comp["verdict"]) == ["below", "inside"] and set(comp["table"]) == {"Table II"}
    with pytest.raises(ValueError, match=".csv or .parquet"):
        results.export(tmp_path / "all.txt", root)


def test_interactive_table_works_offline():
    import pandas as pd
    from sercore.results import display as r      # the module that owns _ITABLES_EMITTED
    r._ITABLES_EMITTED = False
    first = r.table(pd.DataFrame({"paper": ["a", "b"], "x": [1.5, 2.0], "s": [None, "y"]})).data
    second = r.table(pd.DataFrame({"a": [1]})).data
    assert "_itables_" in first and "https://" not in first.split("<table")[0][:2000]
    assert len(first) > 100 * len(second)            # the DataTables bundle comes once per kernel
    assert "column_filters" in first and '\\u2013' in first      # a filter box per column; None as a dash
    # numbers as people read them, sorted as numbers: a count whole with separators, an absent one a dash
    nums = r.table(pd.DataFrame({"reported": [108e6, 72.3456], "measured": [float("nan"), 70.0]})).data
    assert '[\\"108,000,000\\", 108000000.0]' in nums and '[\\"72.35\\", 72.3456]' in nums
    assert '[\\"\\u2013\\", \\"___NaN___\\"]' in nums and '\\"NaN\\"' not in nums
    assert ">NaN</td>" not in nums and ">\u2013</td>" in nums        # also the plain table shown without JavaScript


def test_readable_tables_show_whole_cells_and_rows_and_an_absent_value_as_a_dash(monkeypatch):
    import IPython
    import pandas as pd
    from IPython.core.formatters import DisplayFormatter

    class Shell:                                   # what a notebook kernel's get_ipython() gives
        display_formatter = DisplayFormatter()

    shell = Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    df = pd.DataFrame({"note": [f"row {i}: " + "a long sentence " * 12 for i in range(80)],
                       "ua": [float("nan")] + [70.0] * 79, "who": [None] + ["x"] * 79})
    wide = pd.DataFrame([list(range(28))], columns=[f"c{i}" for i in range(28)])   # 14 reported/measured pairs
    with pd.option_context("display.max_colwidth", 50, "display.max_rows", 60,   # pandas' defaults, restored
                           "display.max_columns", 20):
        assert "..." in df._repr_html_() and "NaN" in df._repr_html_()          # what a reader saw before
        assert "..." in wide._repr_html_()
        results.readable_tables()
        html = shell.display_formatter.formatters["text/html"](df)
        wide_html = shell.display_formatter.formatters["text/html"](wide)
    assert "<th>c27</th>" in wide_html and "..." not in wide_html
    assert "row 79: " + "a long sentence " * 11 in html and "..." not in html and "80 rows" not in html
    assert "NaN" not in html and "None" not in html and html.count("<td>\u2013</td>") == 2
    assert html.count("<tr") == 81 and 'class="dataframe"' in html


def test_cli_results_export(tmp_path, capsys):
    import pandas as pd
    from sercore import cli
    run, _, _ = _predicted_run(tmp_path)
    root = tmp_path / "results"
    dest = root / "ctmam" / "emodb" / "smoke"
    dest.mkdir(parents=True)
    for f in ("metrics.json", results.PREDICTIONS_FILE):
        dest.joinpath(f).write_text((run.out_dir / f).read_text())
    assert cli.main(["results", "export", str(tmp_path / "all.csv"), "--results", str(root)]) == 0
    assert "from 1 run(s)" in capsys.readouterr().out
    df = pd.read_csv(tmp_path / "all.csv")
    assert list(df.columns) == list(results.EXPORT_COLUMNS) and df["source"].str.endswith("metrics.json").all()
    # an invalid run stops the export (one line, exit 1), or is left out and listed with --skip-invalid
    bad = root / "mdat" / "emodb" / "smoke"
    bad.mkdir(parents=True)
    bad.joinpath("metrics.json").write_text("{}")
    assert cli.main(["results", "export", str(tmp_path / "b.csv"), "--results", str(root)]) == 1
    assert "1 invalid metrics.json" in capsys.readouterr().err and not (tmp_path / "b.csv").exists()
    assert cli.main(["results", "export", str(tmp_path / "b.csv"), "--results", str(root), "--skip-invalid"]) == 0
    assert "left out 1 invalid run(s)" in capsys.readouterr().err and (tmp_path / "b.csv").exists()


def test_a_papers_overall_accuracy_row_gets_the_wa_interval_and_a_per_class_row_does_not():
    metrics = {"wa": 58.4, "ua": 59.8}
    intervals = {"wa": {"estimate": 58.4, "low": 55.6, "high": 61.1}, "ua": {"estimate": 59.8, "low": 57.0, "high": 62.5}}
    rows = [results.comparison("Table 3", "text", "accuracy", 56.5, 58.4),        # overall accuracy = WA
            results.comparison("Table 4", "Happy", "accuracy", 84.7, 55.8),       # a class's accuracy
            results.comparison("Table 3", "text", "wa", 70.0, 58.4)]
    got = results.attach_intervals(rows, metrics, intervals, synthetic=False)
    assert got[0]["interval"] == [55.6, 61.1] and got[0]["verdict"] == "inside"
    assert got[1]["interval"] is None and got[1]["verdict"].startswith("not comparable: no interval")
    assert got[2]["verdict"] == "below"


def test_a_row_rounded_to_two_decimals_is_still_the_headline_and_the_scoreboard_reads_verdicts_again():
    metrics = {"ua": 75.1954932859538}
    intervals = {"ua": {"estimate": 75.195, "low": 71.2, "high": 79.2}}
    rows = [dict(results.comparison("Table II", "MDAT", "ua", 84.5, 75.2), comparable=True),
            dict(results.comparison("Table II", "Baseline", "ua", 81.0, 75.37), comparable=True)]
    got = results.attach_intervals(rows, metrics, intervals, synthetic=False)
    assert got[0]["verdict"] == "below" and got[1]["interval"] is None
    # a metrics.json written with an older verdict: the scoreboard derives it again from the intervals
    stale = [dict(r, verdict="not comparable: no interval") for r in rows]
    run = {"paper": "mdat", "dataset": "emodb", "profile": "reference", "synthetic": False,
           "metrics": metrics, "intervals": intervals, "comparisons": stale}
    board = results.scoreboard([run])
    assert list(board["verdict"]) == ["below", got[1]["verdict"]]


def test_a_row_whose_paper_number_is_on_another_corpus_is_not_comparable():
    assert results.run_corpora("iemocap_text") == {"iemocap"}
    assert results.run_corpora("emodb_urdu") == {"emodb", "urdu"}
    assert results.run_corpora("msp_improv") == {"msp_improv"}
    assert results.run_corpora("synthetic") == set()
    # CA-SER reports IEMOCAP only: its Table 2 CV-10 number beside an Emo-DB run compares two corpora
    row = dict(results.comparison("Table 2", "CA-SER [OURS]", "wa", 74.6, 76.9), comparable=True)
    assert results.paper_corpus("ca_ser", row) == "iemocap"
    iv = {"wa": {"estimate": 76.9, "low": 70.0, "high": 83.0}}
    got = results.attach_intervals([row], {"wa": 76.9}, iv, False, "ca_ser", "emodb")[0]
    assert got["verdict"] == "not comparable: the paper's number is on iemocap, this run on emodb"
    assert results.attach_intervals([row], {"wa": 76.9}, iv, False, "ca_ser", "iemocap")[0]["verdict"] == "inside"
    # MDAT's Table II has an Emo-DB column: comparable on emodb
    mdat = dict(results.comparison("Table II", "MDAT", "ua", 84.5, 75.2), comparable=True)
    assert results.paper_corpus("mdat", mdat) == "emodb"
    assert results.attach_intervals([mdat], {"ua": 75.2}, {"ua": {"low": 71.2, "high": 79.2}}, False,
                                    "mdat", "emodb")[0]["verdict"] == "below"
