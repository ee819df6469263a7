"""Published runs (sercore.records): recording a finished run, the record's schema and integrity,
its commit in the history, the staleness flag against params/, and which published pages the book
renders (the pages themselves: tests/test_record_page.py)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from sercore import book, record_page, records, runs
from sercore.paths import project_root

ROOT = project_root()
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
CELL = ("ctmam", "emodb", "reference")


def _finished_run(folder: Path, *, seed: int = 0, wa: float = 80.0, started: str = "2026-01-01T00:00:00+00:00",
                  sha: str = HEAD, epochs: int | None = None) -> Path:
    """A results folder as `sercore run` leaves it: metrics.json, config.json, the executed notebook."""
    folder.mkdir(parents=True)
    P = dict(runs.resolve(*CELL, {"seed": seed}, root=ROOT))      # resolve's P is read-only
    if epochs is not None:
        P["epochs"] = epochs
    P.update(data_root="/somewhere/data", results_dir=str(folder))
    metrics = {"paper": "ctmam", "dataset": "emodb", "profile": "reference", "protocol": {"name": "random"},
               "synthetic": False, "corpus_note": None, "seed": seed, "git_sha": sha, "started": started,
               "runtime_s": 1800.0, "device": "cpu (2 cores)",
               "metrics": {"wa": wa, "ua": wa - 5, "macro_f1": wa - 6, "weighted_f1": wa - 4},
               "per_class": {}, "confusion": {"labels": [], "matrix": []},
               "comparisons": [{"table": "Table II", "row": "Proposed", "metric": "wa", "reported": 90.65,
                                "measured": wa, "note": ""}],
               "corpus": {"version": "abc123def456"},
               "extra": {"test_selection": {"wa": wa + 3, "ua": wa - 1, "folds": []}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps({"params": P, "seed": seed, "git_sha": sha}))
    (folder / "run.log").write_text("epoch 150/150 | loss 0.1\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# CTMAM: a chapter"),
                                         nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, folder / "ctmam.ipynb")
    return folder


def test_a_resumed_run_records_the_seconds_its_folds_trained_not_only_its_last_process(tmp_path):
    """A run whose folds were trained by earlier processes and resumed from their checkpoints has a
    short runtime_s; its record's wall_time_s is the epochs' seconds summed over every protocol's folds."""
    def fold(name, secs):
        return {"name": name, "fit": {"history": [{"epoch": i + 1, "seconds": s} for i, s in enumerate(secs)]}}

    short = _finished_run(tmp_path / "resumed")
    m = json.loads((short / "metrics.json").read_text())
    m["runtime_s"] = 120.0
    m["extra"]["protocols"] = {"loso": {"skipped": "no sessions"},
                               "loso_speaker": {"folds": [fold("s1", [80.0, 81.0]), fold("s2", [79.5, 80.5])]}}
    m["extra"]["cv"] = m["extra"]["protocols"]["loso_speaker"]     # the headline: counted once, not twice
    (short / "metrics.json").write_text(json.dumps(m))
    assert records.trained_seconds(m) == pytest.approx(321.0)
    prov = records.check_record(records.record_run(short, tmp_path / "r1", root=ROOT))
    assert prov["wall_time_s"] == pytest.approx(321.0)

    whole = _finished_run(tmp_path / "whole")                           # trained in one process: its runtime
    assert records.trained_seconds(json.loads((whole / "metrics.json").read_text())) == 0.0
    assert records.check_record(records.record_run(whole, tmp_path / "r2", root=ROOT))["wall_time_s"] == 1800.0


def test_the_banner_of_a_record_made_before_trained_seconds_shows_the_epochs_it_trained(tmp_path):
    """Records are never rewritten: one whose wall_time_s holds only its last, resumed process (made
    before record_run summed the epochs) shows the seconds its folds trained."""
    run = _finished_run(tmp_path / "resumed")
    m = json.loads((run / "metrics.json").read_text())
    m["extra"]["cv"] = {"folds": [{"name": "random", "fit": {"history": [{"epoch": e, "seconds": 60.0}
                                                                          for e in range(1, 51)]}}]}
    (run / "metrics.json").write_text(json.dumps(m))
    rec = records.record_run(run, tmp_path / "r", root=ROOT)
    prov = json.loads((rec / "provenance.json").read_text())
    prov["wall_time_s"] = 600.0                                        # as an older record_run wrote it
    (rec / "provenance.json").write_text(json.dumps(prov))
    items = records.published_cells(tmp_path / "r")[CELL]
    assert records.wall_seconds(items[0]) == pytest.approx(3000.0)
    assert " in 50 min, data version" in records.published_banner(items, ROOT)
    assert records.with_published([], tmp_path / "no-results", tmp_path / "r")[0]["runtime_s"] == 3000.0


def test_record_run_writes_a_record_whose_schema_and_files_are_checked(tmp_path):
    rec = records.record_run(_finished_run(tmp_path / "res" / "reference"), tmp_path / "records", root=ROOT)
    assert rec == tmp_path / "records" / "ctmam" / "emodb" / "reference" / "seed-0"
    prov = records.check_record(rec)
    assert prov["commit"] == HEAD and prov["corpus_fingerprint"] == "abc123def456"
    assert prov["corpus_copy"].startswith("emodb as found under the data root") and "found no difference" in prov["corpus_copy"]
    assert prov["command"] == "sercore run ctmam --dataset emodb --profile reference --seed 0"
    assert HEAD in prov["reproduce"] and prov["command"] in prov["reproduce"]
    assert "data_root" not in prov["params"] and "results_dir" not in prov["params"]
    assert set(prov["files"]) == {"metrics.json", "ctmam.ipynb", "run.log", "config.json"}
    with pytest.raises(records.RecordError, match="exists"):
        records.record_run(tmp_path / "res" / "reference", tmp_path / "records", root=ROOT)

    (rec / "run.log").write_text("edited\n")                         # a file changed after recording
    with pytest.raises(records.RecordError, match="run.log changed"):
        records.check_record(rec)
    (rec / "run.log").write_text("epoch 150/150 | loss 0.1\n")
    records.check_record(rec)
    bad = dict(prov)
    del bad["device"]
    (rec / "provenance.json").write_text(json.dumps(bad))
    with pytest.raises(records.RecordError, match="'device' is missing"):
        records.check_record(rec)
    (rec / "provenance.json").write_text(json.dumps({**prov, "seed": "0"}))
    with pytest.raises(records.RecordError, match="'seed': expected"):
        records.check_record(rec)


def test_a_record_names_a_commit_of_the_history(tmp_path):
    assert records.commit_exists(HEAD, ROOT)
    assert not records.commit_exists("0" * 40, ROOT) and not records.commit_exists("HEAD", ROOT)
    with pytest.raises(records.RecordError, match="not a clean commit"):
        records.record_run(_finished_run(tmp_path / "a", sha=HEAD + "+dirty"), tmp_path / "records", root=ROOT)
    with pytest.raises(records.RecordError, match="not in the history"):
        records.record_run(_finished_run(tmp_path / "b", sha="f" * 40), tmp_path / "records", root=ROOT)
    assert not (tmp_path / "records").exists()


def test_every_record_in_the_repository_is_valid_and_its_commit_is_in_the_history():
    for folder in records.list_records(ROOT / "records"):
        prov = records.check_record(folder)
        assert records.commit_exists(prov["commit"], ROOT), f"{folder}: commit {prov['commit']} not in history"


def test_staleness_flags_parameters_the_params_file_no_longer_gives(tmp_path):
    same = records.record_run(_finished_run(tmp_path / "a"), tmp_path / "r1", root=ROOT)
    assert records.stale_params(records.check_record(same), ROOT) == []
    old = records.record_run(_finished_run(tmp_path / "b", epochs=3), tmp_path / "r2", root=ROOT)
    stale = records.stale_params(records.check_record(old), ROOT)
    now = runs.resolve(*CELL, root=ROOT)["epochs"]
    assert stale == [f"epochs: 3 -> {now}"]
    banner = records.published_banner(records.published_cells(tmp_path / "r2")[CELL], ROOT)
    assert "params file has changed" in banner and f"epochs: 3 -> {now}" in banner
    assert " in 30 min, data version" in banner                  # runtime_s 1800
    assert (records.span(89 * 60), records.span(4.6 * 3600)) == ("89 min", "4.6 h")


def test_staging_shows_a_record_over_nothing_and_a_fresher_result_over_a_record(tmp_path):
    recs = tmp_path / "records"
    for seed, wa in ((0, 80.0), (1, 84.0)):
        records.record_run(_finished_run(tmp_path / f"s{seed}", seed=seed, wa=wa), recs, root=ROOT)
    results = tmp_path / "results"
    gen = tmp_path / "gen"
    pages = book.published_pages(gen, results, recs, ROOT)        # nothing in results/: the record
    assert [(cell, dest) for cell, _, dest in pages] == [(CELL, gen / "ctmam" / "emodb-reference-published.ipynb")]
    title = record_page.heading(pages[0][1], gen / "ctmam")       # the page's title cell (book.stage_published)
    assert title.startswith("# CTMAM on emodb (reference profile, published run)")
    assert "Published run" in title and HEAD[:12] in title and "sercore run ctmam" in title
    assert "mean 82.00 ± 2.83 over 2 seeds" in title
    assert "{download}`seed 1 <../../records/ctmam/emodb/reference/seed-1/ctmam.ipynb>`" in title
    runs_ = records.with_published([], results, recs)
    assert [d["profile"] for d in runs_] == ["reference (published, seed 0)", "reference (published, seed 1)"]

    _finished_run(results / "ctmam" / "emodb" / "reference", started="2025-01-01T00:00:00+00:00")
    assert len(book.published_pages(tmp_path / "gen2", results, recs, ROOT)) == 1   # older result: record
    (results / "ctmam" / "emodb" / "reference" / "metrics.json").write_text(json.dumps(
        {**json.loads((results / "ctmam" / "emodb" / "reference" / "metrics.json").read_text()),
         "started": "2027-01-01T00:00:00+00:00"}))
    assert book.published_pages(tmp_path / "gen3", results, recs, ROOT) == []       # fresher result wins
    assert records.with_published([], results, recs) == []
    # the scoreboard notebook receives its folders as strings (papermill parameters)
    assert records.with_published([], str(results), str(recs)) == []


def test_three_columns_give_paper_published_mean_and_this_build(tmp_path):
    recs = tmp_path / "records"
    for seed, wa in ((0, 80.0), (1, 84.0), (2, 82.0)):
        records.record_run(_finished_run(tmp_path / f"s{seed}", seed=seed, wa=wa), recs, root=ROOT)
    out = {"paper": "ctmam", "dataset": "emodb", "profile": "quick",
           "comparisons": [{"table": "Table II", "row": "Proposed", "metric": "wa", "reported": 90.65,
                            "measured": 61.5}]}
    t = records.three_columns(out, records_root=recs)
    row = t[(t.table == "Table II") & (t.metric == "wa")].iloc[0]
    assert row["paper"] == "90.65" and row["this build (quick)"] == "61.50"
    assert row["published reference (mean ± std)"] == "82.00 ± 2.00 (3 seeds)"
    sel = t[t.table.str.contains("NOT a result")]
    assert list(sel.metric) == ["wa", "ua"] and sel.iloc[0]["published reference (mean ± std)"].startswith("85.00")
    assert "seeds 0, 1, 2" in t.attrs["note"]
    empty = records.three_columns({**out, "dataset": "iemocap"}, records_root=recs)
    assert "no published reference run" in empty.attrs["note"] and len(empty) == 1
    # the gap, computed from the records: mean 82.00 against 90.65, and what test-set selection adds
    gap = records.gap_text(out, records_root=recs)
    assert "Table II, Proposed, wa: paper 90.65; published 82.00 ± 2.00 (3 seeds); gap -8.65 points." in gap
    assert "would give 85.00 (+3.00 points): a protocol difference, not a result" in gap
    assert "no published reference run of ctmam on iemocap" in records.gap_text({**out, "dataset": "iemocap"},
                                                                                records_root=recs)
    # a parameter count beside percentages stays readable (no scientific notation in the column)
    out_p = {**out, "comparisons": [*out["comparisons"], {"table": "Table VI", "row": "CTMAM", "metric": "params",
                                                           "reported": 1031674.0, "measured": 544361.0}]}
    t = records.three_columns(out_p, records_root=recs)
    assert list(t[t.metric == "params"][["paper", "this build (quick)"]].iloc[0]) == ["1,031,674", "544,361"]
    assert "e+" not in t.to_string()


def test_three_columns_carry_each_measured_numbers_interval_and_test_data(tmp_path):
    """A number beside a paper's carries its interval and the data it came from: each seed's 95% interval
    and test data for the published runs (a record older than ``scope`` counts its confusion matrix),
    this build's own for its column; a count equal in every seed shows no spread."""
    recs = tmp_path / "records"
    for seed, wa in ((0, 80.0), (1, 84.0)):
        folder = _finished_run(tmp_path / f"s{seed}", seed=seed, wa=wa)
        m = json.loads((folder / "metrics.json").read_text())
        m["comparisons"][0]["interval"] = [wa - 4, wa + 4]
        m["comparisons"].append({"table": "Table VI", "row": "CTMAM", "metric": "params", "reported": 1031674.0,
                                 "measured": 544361.0, "note": ""})
        m["confusion"] = {"labels": ["a", "b"], "matrix": [[50, 3], [4, 50]]}
        (folder / "metrics.json").write_text(json.dumps(m))
        records.record_run(folder, recs, root=ROOT)
    out = {"paper": "ctmam", "dataset": "emodb", "profile": "quick",
           "comparisons": [{"table": "Table II", "row": "Proposed", "metric": "wa", "reported": 90.65,
                            "measured": 61.5, "interval": [52.0, 70.25], "scope": "1 of 10 folds; 39 test utterances"},
                           {"table": "Table I", "row": "Proposed", "metric": "wa", "reported": 71.6, "measured": None,
                            "interval": None, "scope": "1 of 10 folds; 39 test utterances"}]}
    t = records.three_columns(out, records_root=recs)
    unmeasured = t[t.table == "Table I"].iloc[0]                 # not measured: no test data either
    assert list(unmeasured.iloc[3:]) == ["71.60", "", "", "", ""]
    wa = t[t.table == "Table II"].iloc[0]
    assert wa["published reference: 95% interval of each seed"] == "[76.00, 84.00]; [80.00, 88.00]"
    assert wa["this build (quick): 95% interval"] == "[52.00, 70.25]"
    # every row on the same test data: said once in the note, not in a column repeated on every row
    assert not [c for c in t.columns if c.endswith("test data")]
    assert t.attrs["note"].endswith("published reference: every row on 107 test utterances; "
                                    "this build (quick): every row on 1 of 10 folds; 39 test utterances")
    out["comparisons"][1].update(measured=70.0, interval=[60.0, 80.0], scope="44 test utterances")
    t = records.three_columns(out, records_root=recs)      # two test sets in the build's column: it stays
    assert list(t[t.table == "Table I"]["this build (quick): test data"]) == ["44 test utterances"]
    params = t[t.metric == "params"].iloc[0]
    assert params["published reference (mean ± std)"] == "544,361 (same in 2 seeds)"
    assert params["this build (quick)"] == "" and not t.isna().any().any()      # blanks, never NaN


def test_gap_text_says_why_when_the_papers_numbers_are_on_another_corpus(tmp_path):
    """CA-SER reports IEMOCAP only: a published Emo-DB run is shown beside it but its gap is not broken
    down, and the page says why instead of printing nothing."""
    recs = tmp_path / "records"
    folder = _finished_run(tmp_path / "s0")
    m = json.loads((folder / "metrics.json").read_text())
    m["comparisons"][0]["paper_dataset"] = "iemocap"
    (folder / "metrics.json").write_text(json.dumps(m))
    records.record_run(folder, recs, root=ROOT)
    gap = records.gap_text({"paper": "ctmam", "dataset": "emodb", "profile": "quick", "comparisons": []},
                           records_root=recs)
    assert gap.startswith("The paper's headline numbers are on iemocap; the published run is on emodb."), gap


def test_three_columns_flag_a_record_whose_params_changed(tmp_path):
    recs = tmp_path / "records"
    records.record_run(_finished_run(tmp_path / "s0", epochs=3), recs, root=ROOT)
    out = {"paper": "ctmam", "dataset": "emodb", "profile": "quick", "comparisons": []}
    assert "the params file has changed since" in records.three_columns(out, records_root=recs).attrs["note"]


def test_a_record_without_intervals_gets_them_from_its_predictions_and_only_if_they_give_its_headline(tmp_path):
    labels = ["angry", "sad", "happy"]
    y_true = ["angry"] * 10 + ["sad"] * 10 + ["happy"] * 10
    y_pred = ["angry"] * 8 + ["sad"] * 2 + ["sad"] * 9 + ["happy"] + ["happy"] * 7 + ["angry"] * 3
    lines = ["variant,fold,row,utt_id,y_true,y_pred"]
    lines += [f"proposed,random,{i},u{i},{t},{p}" for i, (t, p) in enumerate(zip(y_true, y_pred))]
    lines += [f"no_lct,random,{i},u{i},{t},angry" for i, t in enumerate(y_true)]     # an ablation: ignored
    (tmp_path / "predictions.csv").write_text("\n".join(lines) + "\n")
    wa = 100 * 24 / 30
    metrics = {"seed": 0, "metrics": {"wa": wa, "ua": wa}, "confusion": {"labels": labels, "matrix": []}}
    iv = records.derived_intervals(tmp_path, metrics)
    assert iv["wa"]["estimate"] == pytest.approx(wa) and iv["wa"]["low"] < wa < iv["wa"]["high"]
    assert "derived from the record's test predictions" in iv["ua"]["method"]
    pc = records.derived_per_class_intervals(tmp_path, metrics)       # the proposed model's per-class table
    assert pc["sad"]["recall"]["estimate"] == pytest.approx(90.0) and pc["angry"]["precision"]["estimate"] == pytest.approx(
        100 * 8 / 11)
    assert all(v["low"] <= v["estimate"] <= v["high"] for d in pc.values() for v in d.values())
    wrong = {**metrics, "metrics": {"wa": 50.0, "ua": 50.0}}
    assert records.derived_intervals(tmp_path, wrong) is None          # the file is not this headline's
    assert records.derived_per_class_intervals(tmp_path, wrong) is None
    assert records.derived_intervals(tmp_path / "nothing", metrics) is None
    kept = {**metrics, "intervals": {"wa": {"low": 1, "high": 2}}}     # what a record holds is kept; ua is added
    assert records.derived_intervals(tmp_path, kept) == {**iv, "wa": kept["intervals"]["wa"]}


def _record_rows() -> list[tuple[str, dict]]:
    """Every comparison row of every record in the repository, decided with the intervals the record holds
    or its predictions give (as the book reads it)."""
    out = []
    for folder in records.list_records():
        m = records.with_intervals(folder, records.read_record_metrics(folder / "metrics.json"))
        out += [(folder.relative_to(project_root()).as_posix(), c) for c in m["comparisons"]]
    return out


def test_the_per_class_rows_of_a_ctmam_record_get_their_intervals():
    """CTMAM's Table IV rows (per-class precision, recall, F1 of the headline model) of a record made before
    per-class intervals are decided on intervals derived from its test predictions."""
    rows = [(f, c) for f, c in _record_rows() if f.startswith("records/ctmam/emodb/")
            and c["metric"] in ("precision", "recall", "f1")]
    if not rows:
        pytest.skip("no CTMAM Emo-DB record in records/")
    for f, c in rows:
        assert c["interval"] is not None and c["interval"][0] <= c["measured"] <= c["interval"][1], (f, c)
        assert c["verdict"] in ("inside", "below", "above") and c["comparable"] is True, (f, c)


def test_no_comparable_record_row_lacks_an_interval_and_every_missing_one_says_why():
    """A measured score beside a paper's number that is comparable carries its interval; a row without
    one says why (another model, a metric with no interval, no predictions), never the old blanket reason."""
    rows = _record_rows()
    assert rows, "no record in records/"
    for f, c in rows:
        if c["measured"] is None:
            continue
        if c["comparable"] and c["metric"] not in ("params", "count"):
            assert c["interval"] is not None and c["verdict"] in ("inside", "below", "above"), (f, c)
        if "no interval" in c["verdict"]:
            assert any(why in c["verdict"] for why in ("not the headline model's", "this row is",
                                                       "kept no test predictions", "holds no interval of")), (f, c)
            assert "intervals are computed for WA, UA and macro F1 only" not in c["verdict"], (f, c)


def test_a_record_keeps_no_path_of_the_machine_that_made_it(tmp_path):
    """The data root, the results root (and the staging folder the run wrote into) and the project root
    the notebook ran from become $SERCORE_DATA, $SERCORE_RESULTS/<paper>/<dataset>/... and book/."""
    machine = tmp_path / "machine"
    final = machine / "results" / "ctmam" / "emodb" / "reference"
    folder = _finished_run(final)
    stage = str(machine / "results" / "ctmam" / "emodb" / ".reference.running-4242")
    data_root = str(machine / "corpora")
    for name in ("metrics.json", "config.json"):
        text = (folder / name).read_text().replace('"/somewhere/data"', json.dumps(data_root))
        (folder / name).write_text(text.replace(json.dumps(str(folder)), json.dumps(stage)))
    nb = nbformat.read(folder / "ctmam.ipynb", as_version=4)
    nb.metadata["papermill"] = {"input_path": str(machine / "proj" / "book" / "ctmam.ipynb"),
                                "output_path": f"{final}/ctmam.ipynb", "parameters": {"data_root": data_root}}
    nbformat.write(nb, folder / "ctmam.ipynb")
    (folder / "run.log").write_text(f"ctmam/emodb/reference seed 0: started, writing {final}\n")
    rec = records.record_run(folder, tmp_path / "records", root=ROOT)
    texts = {p.name: p.read_text() for p in rec.iterdir()}
    assert not [n for n, t in texts.items() if str(machine) in t], "a path of the machine is in the record"
    params = json.loads(texts["config.json"])["params"]
    assert params["data_root"] == "$SERCORE_DATA" and params["results_dir"] == "$SERCORE_RESULTS/ctmam/emodb/reference"
    meta = json.loads(texts["ctmam.ipynb"])["metadata"]["papermill"]
    assert meta["input_path"] == "book/ctmam.ipynb" and meta["parameters"]["data_root"] == "$SERCORE_DATA"
    assert "writing $SERCORE_RESULTS/ctmam/emodb/reference" in texts["run.log"]
    records.check_record(rec)                      # the checksums are of what the record holds


def test_a_superseded_copy_is_kept_as_numbers_beside_todays_records():
    """The Emo-DB records measured on the 2.0 s copy left records/ when the official files replaced it; their
    numbers stay, per seed, with the commit that still holds them, and the data effect sets them beside today's."""
    import statistics

    from sercore import records

    sup = records.superseded("ctmam", "emodb")
    assert [s["label"] for s in sup] == ["emodb-2s-copy"]
    s = sup[0]
    assert records.commit_exists(s["records_at_commit"]) and len(s["seeds"]) == 3
    assert all(x["record"].startswith("records/ctmam/emodb/reference/seed-") and "/work/" not in x["record"]
               for x in s["seeds"])
    for x in s["seeds"]:
        assert x["intervals"]["ua"]["low"] <= x["metrics"]["ua"] <= x["intervals"]["ua"]["high"]
    t = records.data_effect("emodb-2s-copy", "emodb").set_index(["paper", "metric"])
    ua = [x["metrics"]["ua"] for x in s["seeds"]]
    assert t.loc[("ctmam", "UA"), "superseded copy"].startswith(f"{statistics.mean(ua):.2f} ± ")
    assert {"ctmam", "mdat", "ca_ser"} <= set(t.index.get_level_values(0))


def test_gap_table_sets_out_the_gap_as_measured_parts_and_a_rest():
    import pandas as pd

    from sercore.gaps import gap_table

    t = gap_table("ua", (90.0, "Table II, Proposed"), [80.0, 82.0], "records/x/y/reference, seed(s) 0, 1",
                  [{"part": "a", "values": [3.0, 5.0], "from": "runs"}, {"part": "b", "values": [], "from": "offline"}])
    pts = dict(zip(t["part"], t["points"]))
    assert pts["gap (paper − measured)"] == 9.0 and pts["part: a"] == 4.0 and pts["sum of the measured parts"] == 4.0
    assert pts["unexplained rest (gap − parts)"] == 5.0 and pd.isna(pts["part: b"])
    assert t.set_index("part").loc["part: b", "measured by"] == "not measured: offline"
    over = gap_table("ua", (90.0, "T"), [80.0], "r", [{"part": "a", "values": [15.0], "from": "runs"}])
    assert over.iloc[-1]["points"] == -5.0 and over.iloc[-1]["measured by"].startswith("negative: the measured parts")


def test_a_chapter_page_shows_its_gap_parts_from_its_own_run_when_nothing_is_published(tmp_path):
    """gaps.for_run: with no record of the cell, CTMAM's parts come from the build's run (its Eq. 25 metric and
    its test-set-selected epoch), the gap is Table II's number minus the run's, and the rest is what is left;
    a corpus the chapter cannot break down gives no table and a sentence saying why."""
    from sercore import reference
    from sercore.gaps import for_run

    out = {"paper": "ctmam", "dataset": "emodb", "profile": "quick", "seed": 0,
           "metrics": {"ua": 80.0, "wa": 81.0},
           "extra": {"paper_eq25": {"ua": 82.5, "wa": 83.0}, "test_selection": {"ua": 84.0, "wa": 84.5}}}
    table, text = for_run(out, records_root=tmp_path / "records")
    assert "this build's quick run of ctmam on emodb, seed(s) 0" in text and "no published run" in text
    ua = table.iloc[: len(table) // 2].set_index("part")["points"]
    paper = reference.get("ctmam", "Table II", "Proposed", "ua")
    assert ua["gap (paper − measured)"] == pytest.approx(paper - 80.0)
    assert ua["part: the paper's metric (Eq. 25: mean per-class precision, not recall)"] == pytest.approx(2.5)
    assert ua["part: epoch chosen on the test set (the authors' release), not the last"] == pytest.approx(4.0)
    assert ua["unexplained rest (gap − parts)"] == pytest.approx(paper - 80.0 - 6.5)
    none, why = for_run({**out, "dataset": "synthetic"}, records_root=tmp_path / "records")
    assert none is None and "does not break its gap" in why


def test_a_record_says_which_copy_of_its_corpus_it_read():
    """corpus_copy: the loader's caveat for a copy that differs from the official release (Emo-DB's 2.0 s copy),
    else that none was found; the synthetic corpus says so."""
    from sercore.data.emodb import COPY_CAVEAT

    base = {"dataset": "emodb", "synthetic": False}
    assert records.corpus_copy({**base, "corpus_note": COPY_CAVEAT}) == f"differs from the official release: {COPY_CAVEAT}"
    assert "found no difference" in records.corpus_copy({**base, "corpus_note": None})
    assert records.corpus_copy({**base, "synthetic": True}).startswith("the synthetic corpus")


def test_a_records_command_carries_the_sets_its_run_was_started_with():
    """A board published one record per seed ran with ``--set seeds=[S]``: its command and the one that
    reproduces it say so, or they would train every seed of the profile; a run of the file's own
    parameters gets the plain command."""
    from sercore import runs

    P = runs.resolve("leaderboard", "urdu", "reference", {"seed": 1, "seeds": [1]})
    sets = records.run_sets("leaderboard", "urdu", "reference", 1, {**P, "data_root": "/somewhere"})
    assert sets == ["seeds=[1]"]
    cmd = records.run_command("leaderboard", "urdu", "reference", 1, sets)
    assert cmd == "sercore run leaderboard --dataset urdu --profile reference --seed 1 --set 'seeds=[1]'"
    assert runs.parse_overrides(["seeds=[1]"]) == {"seeds": [1]}
    plain = runs.resolve("ctmam", "emodb", "reference", {"seed": 2})
    assert records.run_sets("ctmam", "emodb", "reference", 2, plain) == []
    prov = {"paper": "leaderboard", "dataset": "urdu", "profile": "reference", "seed": 1, "commit": "a" * 40,
            "command": cmd}
    assert records.reproduce_command(prov).endswith(cmd) and records.command_of(prov) == cmd
