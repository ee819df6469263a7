"""sercore.reproduction: one decision of comparability, claims counted once, seeds pooled."""
from __future__ import annotations

import pytest

from sercore import book, records, reproduction, results


def _interval(v: float, half: float) -> dict:
    return {"estimate": v, "low": v - half, "high": v + half, "confidence": 0.95, "method": "test", "n": 100,
            "folds": 1, "seeds": 1, "n_resamples": 100}


def _run(paper: str, dataset: str, seed: int, wa: float, rows: list[dict], half: float = 5.0,
         n_folds: int = 1) -> dict:
    """A valid metrics.json dict whose headline WA is ``wa`` with the interval ``wa ± half``."""
    metrics = {"wa": wa, "ua": None, "macro_f1": None, "weighted_f1": None}
    intervals = {"wa": _interval(wa, half)}
    comps = results.attach_intervals(results._scoped(rows, {"n_folds": n_folds}, _Corpus()), metrics, intervals,
                                     False, paper, dataset)
    return {"paper": paper, "dataset": dataset, "profile": "reference", "protocol": {"name": "random", "n_folds": n_folds},
            "synthetic": False, "corpus_note": None, "seed": seed, "git_sha": "0" * 40,
            "started": "2026-01-01T00:00:00+00:00", "runtime_s": 1.0, "device": "cpu", "metrics": metrics,
            "intervals": intervals, "per_class": {}, "confusion": {"labels": ["a", "b"], "matrix": [[40, 10], [10, 40]]},
            "comparisons": comps, "extra": {}}


class _Corpus:
    synthetic = False


def _write(root, run: dict) -> None:
    base = root / run["paper"] / run["dataset"]
    folder = base / run["profile"] if run["seed"] == 0 else base / "seeds" / run["profile"] / f"seed-{run['seed']}"
    folder.mkdir(parents=True)
    results.write_metrics(run, folder / "metrics.json")


def _mlcct(wa: float) -> list[dict]:
    return [results.comparison("Table 3", "MLCCT [text]", "accuracy", 56.5, wa)]


def test_a_paper_number_in_two_tables_counts_once():
    # CTMAM prints its Emo-DB WA 90.65 in Table II (Proposed) and Table IV (WA)
    rows = [results.comparison("Table II", "Proposed", "wa", 90.65, 85.0),
            results.comparison("Table IV", "WA", "wa", 90.65, 85.0)]
    claims = reproduction.claim_rows(_run("ctmam", "emodb", 0, 85.0, rows))
    assert len(claims) == 1
    assert claims[0]["table"] == "Table II" and claims[0]["also"] == ["Table IV, WA"]
    assert claims[0]["verdict"] == "below" and claims[0]["corpus"] == "emodb"


def test_weighted_f1_and_per_class_rows_get_their_own_interval():
    """A weighted-F1 row and per-class rows (a class named as the row, or in brackets) are decided on the
    interval of that statistic; a number of another model, or a metric no interval is computed for,
    names its reason."""
    per_class = {"happy": {"precision": _interval(70.0, 6.0), "recall": _interval(55.8, 7.0), "f1": _interval(62.0, 6.0)},
                 "sad": {"precision": _interval(100.0, 0.0), "recall": _interval(100.0, 0.0), "f1": _interval(100.0, 0.0)}}
    intervals = {"wa": _interval(61.0, 4.0), "weighted_f1": _interval(59.004, 4.0)}
    rows = [results.comparison("Table 4", "Happy", "recall", 60.0, 55.8),              # class row: inside
            results.comparison("Table 4", "MLCCT [Happy]", "accuracy", 84.7, 55.8),    # recognition rate = recall
            results.comparison("Table 4", "MLCCT [Sad]", "f1", 97.0, 100.0),           # perfect: [100, 100]
            results.comparison("Table 3", "MLCCT [text]", "f1", 60.0, 59.0),           # weighted F1, rounded
            results.comparison("Table 4", "Sad", "precision", 90.0, 80.0),             # not the headline's
            results.comparison("Table 8", "MLCCT", "acc2", 80.0, 70.0)]                # no interval is defined
    got = results.attach_intervals(rows, {"wa": 61.0, "weighted_f1": 59.004}, intervals, False, "mlcct",
                                   "iemocap_text", per_class_intervals=per_class)
    assert [c["verdict"] for c in got[:4]] == ["inside", "below", "above", "inside"]
    assert got[0]["interval"] == [48.8, 62.8] and got[2]["interval"] == [100.0, 100.0]
    assert got[3]["interval"] == [55.004, 63.004]
    assert got[4]["verdict"].startswith("not comparable: no interval: the number is not the headline model's "
                                        "precision of class sad")
    assert got[5]["verdict"].startswith("not comparable: no interval: a 95% interval is computed for WA, UA, macro "
                                        "and weighted F1 and per-class precision, recall and F1; this row is acc2")
    assert results.attach_intervals(rows[:1], {}, {}, False, "mlcct", "iemocap_text")[0]["verdict"] == (
        "not comparable: no interval: the run kept no test predictions")


def test_comparable_flag_and_verdict_never_disagree_and_a_second_reading_decides_the_same():
    rows = [results.comparison("Table 3", "MLCCT [text]", "accuracy", 64.0, 61.0),     # inside
            results.comparison("Table 3", "MLCCT [text]", "wa", 80.0, 61.0),           # below
            results.comparison("Table 4", "Happy", "recall", 84.7, 55.8),              # per class: none kept here
            results.comparison("Table 3", "Baseline", "wa", 60.0, 58.0),               # another model
            results.comparison("Table 3", "MLCCT [text]", "weighted_f1", 60.0, 59.0),  # none kept here
            dict(results.comparison("Table 3", "MLCCT [A+T]", "wa", 70.0, 61.0), comparable=False,
                 why="the paper's number is its A+T model, this run's model sees T only"),
            results.comparison("Table 2", "model", "params", 1000.0, 1000.0),
            results.comparison("Table 3", "MLCCT [text]", "ua", None, 61.0)]
    got = results.attach_intervals(rows, {"wa": 61.0, "weighted_f1": 59.0}, {"wa": _interval(61.0, 4.0)}, False,
                                   "mlcct", "iemocap_text")
    verdicts = [c["verdict"] for c in got]
    assert verdicts[:2] == ["inside", "below"]
    assert verdicts[2].startswith("not comparable: no interval: the run's metrics.json holds no interval of per-class "
                                  "recall for the class of row 'Happy'")
    assert verdicts[3].startswith("not comparable: no interval: the number is not the headline model's wa")
    assert verdicts[4].startswith("not comparable: no interval: the run's metrics.json holds no interval of weighted_f1")
    assert verdicts[5] == "not comparable: the paper's number is its A+T model, this run's model sees T only"
    assert verdicts[6] == "equal"
    assert verdicts[7] == "not comparable: the paper reports no number here"
    for c in got:
        assert c["comparable"] == (not c["verdict"].startswith("not comparable")), c
    again = results.attach_intervals(got, {"wa": 61.0, "weighted_f1": 59.0}, {"wa": _interval(61.0, 4.0)}, False,
                                     "mlcct", "iemocap_text")
    assert [c["verdict"] for c in again] == verdicts
    assert [c["comparable"] for c in again] == [c["comparable"] for c in got]


def test_the_scoreboard_and_its_rows_use_the_same_decision():
    run = _run("mlcct", "iemocap_text", 0, 61.0, _mlcct(61.0) + [results.comparison("T", "Baseline", "wa", 50.0, 40.0)])
    board = results.scoreboard([run])
    assert list(board["verdict"]) == [c["verdict"] for c in run["comparisons"]]


def test_verdicts_pool_the_seeds(tmp_path):
    """Seed 0 alone is below the paper's 88.0 ([75, 85]), seed 1 alone inside ([79, 89]); pooled: mean 82,
    std 2.83, interval 82 ± sqrt(5^2 + (1.96 * 2.83 / sqrt(2))^2) = [75.65, 88.35], inside."""
    res, recs = tmp_path / "results", tmp_path / "records"
    recs.mkdir()
    for seed, wa in ((0, 80.0), (1, 84.0)):
        _write(res, _run("mlcct", "iemocap_text", seed, wa, [results.comparison("Table 3", "MLCCT [text]",
                                                                                "accuracy", 88.0, wa)]))
    rows = reproduction.summary_rows(res, recs)
    assert len(rows) == 1
    r = rows[0]
    assert r["reported"] == 88.0 and r["mean"] == pytest.approx(82.0) and r["std"] == pytest.approx(2 ** 1.5)
    assert r["interval"] == pytest.approx([75.646, 88.354], abs=1e-3)
    assert r["verdict"] == "inside" and r["test_data"]["seeds"] == [0, 1]
    assert r["test_data"]["utterances"] == 100 and r["test_data"]["classes"] == 2
    assert reproduction.pooled_interval([80.0], [[75.0, 85.0]]) == [75.0, 85.0]
    assert reproduction.pooled_interval([80.0, 84.0], [[75.0, 85.0], None]) is None
    counts = reproduction.verdict_counts(rows)
    assert counts.loc["mlcct", "reproduced (inside)"] == 1 and counts.loc["mlcct", "rows"] == 1
    shown = reproduction.summary(res, recs)
    assert list(shown.columns) == list(reproduction.SUMMARY_COLUMNS)
    assert shown.iloc[0]["ours 95% interval"] == "[75.65, 88.35]" and shown.iloc[0]["verdict"] == "inside"


def test_parameter_counts_are_checked_never_counted_as_reproductions():
    rows = [results.comparison("Table 3", "MLCCT [text]", "accuracy", 64.0, 61.0),
            results.comparison("Table 5", "MLCCT", "params", 1000.0, 1000.0),
            results.comparison("Table 5", "MLCCT [text]", "params", 2000.0, 1000.0),
            results.comparison("Table 5", "Baseline", "params", 1000.0, 1000.0)]     # another model: no claim
    claims = reproduction.claim_rows(_run("mlcct", "iemocap_text", 0, 61.0, rows))
    assert [(c["metric"], c["verdict"]) for c in claims] == [("accuracy", "inside"), ("params", "equal"),
                                                              ("params", "not equal")]
    kinds = [{"paper": "mlcct", "verdict": c["verdict"], "kind": "check" if c["metric"] == "params" else "score"}
             for c in claims]
    kinds.append({"paper": "mlcct", "verdict": "not comparable: the paper's number is on msp_improv", "kind": "check"})
    counts = reproduction.verdict_counts(kinds)
    # a count stands on no test set: a run of fewer folds than its protocol still checks it
    part = results._scoped([rows[1]], {"n_folds": 1, "n_folds_total": 5, "folds": [{"sizes": {"test": 107}}]}, _Corpus())[0]
    assert part["comparable"] is True and part["scope"] == ""
    assert counts.loc["mlcct"].to_dict() == {"reproduced (inside)": 1, "ours below": 0, "ours above": 0,
                                             "not comparable": 0, "rows": 1, "params equal": 1,
                                             "params not equal": 1, "params not comparable": 1}
    assert "mlcct: 1 of 1 comparable headline claim(s) reproduce" in results.summary_text(counts, what="headline claim")


def test_a_row_on_another_corpus_is_not_comparable_with_its_reason(tmp_path):
    # CA-SER's Table 2 numbers are on IEMOCAP; a run on Emo-DB measures another corpus
    res, recs = tmp_path / "results", tmp_path / "records"
    recs.mkdir()
    _write(res, _run("ca_ser", "emodb", 0, 74.0, [results.comparison("Table 2", "CA-SER [OURS]", "wa", 74.6, 74.0)]))
    r, = reproduction.summary_rows(res, recs)
    assert r["verdict"] == "not comparable: the paper's number is on iemocap, this run on emodb"
    assert r["corpus"] == "iemocap" and r["test_data"]["corpus"] == "emodb"
    assert reproduction.verdict_counts([r]).loc["ca_ser", "not comparable"] == 1
    # a run on fewer folds than its protocol: not comparable, the reason is what it tested
    run = _run("mlcct", "iemocap_text", 0, 61.0, _mlcct(61.0))
    run["protocol"].update(n_folds=1, n_folds_total=5)
    part = results.attach_intervals(results._scoped(_mlcct(61.0), run["protocol"], _Corpus()), run["metrics"],
                                    run["intervals"], False, "mlcct", "iemocap_text")[0]
    assert part["comparable"] is False and part["verdict"].startswith("not comparable: 1 of 5 folds")


def test_chapter_fragments_and_the_published_runs_page(tmp_path):
    res, recs = tmp_path / "results", tmp_path / "records"
    recs.mkdir()
    _write(res, _run("mlcct", "iemocap_text", 0, 58.0, _mlcct(58.0)))
    rows = reproduction.summary_rows(res, recs)
    files = reproduction.write_fragments(tmp_path / "gen" / "summary", rows, ["mlcct", "mdat"])
    mlcct, mdat = (f.read_text() for f in files)
    assert "| Table 3, MLCCT [text]: accuracy on iemocap | 56.50 |" in mlcct and "1 inside" in mlcct
    assert mdat.startswith("No run of this book measured a headline claim")     # never an empty include
    assert records.published_runs_page(recs).endswith("There is no published run in `records/` in this checkout.\n")
    page = book.stage_published_runs(tmp_path / "gen", tmp_path)
    assert page.read_text().startswith("# Published runs")


def test_a_chapter_fragment_lists_gap_parts_under_its_table(tmp_path):
    """The gap parts are sentences: the landing page lists them under the claims table, not in a column."""
    rows = reproduction.summary_rows(tmp_path / "results", records.records_dir())
    with_gaps = [r for r in rows if r["gap"]]
    if not with_gaps:
        pytest.skip("no record of this checkout breaks a gap down")
    text = reproduction.fragment(rows, with_gaps[0]["paper"])
    table = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert table and "gap parts" not in table[0]
    assert "**The gap to the paper, in measured parts**" in text
    assert f"- {reproduction.frame([with_gaps[0]])['claim'][0]}: {with_gaps[0]['gap']}" in text


def test_the_published_runs_page_lists_every_record_with_its_command():
    cells = records.published_cells()
    if not cells:
        pytest.skip("this checkout holds no records/")
    text = records.published_runs_page()
    n = sum(len(v) for v in cells.values())
    assert text.count("`sercore run ") == n
    (paper, dataset, profile), items = next(iter(sorted(cells.items())))
    seed = items[0]["provenance"]["seed"]
    assert f"`sercore run {paper} --dataset {dataset} --profile {profile} --seed {seed}`" in text
    assert f"`{items[0]['provenance']['commit'][:12]}`" in text
