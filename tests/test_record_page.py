"""A published run's page (sercore.record_page, book/published.ipynb): rendered from every record of
records/ by today's code, numbers as the records hold them, formatted by type, never NaN or a repr."""
from __future__ import annotations

import json
import re
import shutil
import statistics

import matplotlib
import nbformat
import pandas as pd
import pytest

from sercore import book, record_page, records, results
from sercore.paths import project_root

matplotlib.use("Agg")
ROOT = project_root()
CELLS = records.published_cells(ROOT / "records")
#: what a page must never show: pandas' and Python's spellings of an absent value, a repr, a cut cell
BAD = ("NaN", "<NA>", "None", "{'", "...")


def _texts(page: record_page.Page) -> dict[str, str]:
    return {name: " ".join(record_page.text_of(o) for o in page.objects(name)) for name in record_page.SECTIONS}


@pytest.fixture(scope="module")
def pages():
    assert CELLS, "records/ holds no published cell"
    return {cell: record_page.Page(*cell, records_root=ROOT / "records") for cell in CELLS}


def test_every_published_cell_renders_every_section_without_an_absent_value_or_a_repr(pages):
    for cell, page in pages.items():
        for name, text in _texts(page).items():
            assert text.strip(), f"{cell} {name}: empty"
            bad = [b for b in BAD if b in text]
            assert not bad, f"{cell} {name} shows {bad}: {text[:300]}"
        heading = record_page.heading(page.items, ROOT / "book" / "_generated" / cell[0])
        assert not [b for b in BAD if b in heading], heading
        assert heading.startswith(f"# {record_page.chapter_heading(cell[0]).split(':')[0]} on {cell[1]} "
                                  f"({cell[2]} profile, published run)")
        assert "Published run" in heading and page.items[0]["provenance"]["commit"][:12] in heading


def test_the_headline_is_each_records_metrics_json_and_their_mean(pages):
    for cell, page in pages.items():
        if record_page.is_board(page.items):       # a board's headline is its methods: test_a_published_board_*
            continue
        t = record_page.headline_table(page.items)
        for it in page.items:
            m = json.loads((it["folder"] / "metrics.json").read_text())
            row = t[t["seed"] == str(m["seed"])].iloc[0]
            for k, name in record_page.HEADLINE.items():
                if m["metrics"].get(k) is None:
                    assert row[name] == record_page.ABSENT
                    continue
                assert row[name].split(" ")[0] == f"{m['metrics'][k]:.2f}", (cell, k)
                if k in (m.get("intervals") or {}):
                    iv = m["intervals"][k]
                    assert row[name].endswith(f"[{iv['low']:.2f}, {iv['high']:.2f}]"), (cell, k)
        if len(page.items) > 1:
            mean_row = t.iloc[-1]
            for k, name in record_page.HEADLINE.items():
                vals = [it["metrics"]["metrics"][k] for it in page.items]
                assert mean_row[name] == f"{statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f}", (cell, k)


def test_rows_of_one_table_on_several_corpora_are_told_apart_not_pooled(tmp_path):
    """Table II of a three-corpus MDAT run has a "MDAT / ua" row per corpus: each keeps its own paper number
    and measurement, named by its corpus (they were once pooled as three seeds of one row, 74.85 ± 16.73)."""
    rows = [{"table": "Table II", "row": "MDAT", "metric": "ua", "reported": rep, "measured": mea, "note": "",
             "paper_dataset": ds, "comparable": False}
            for ds, rep, mea in (("emodb", 84.5, 75.0), ("emovo", 82.81, 58.04), ("urdu", 94.33, 91.5))]
    rows.append({"table": "Table IV", "row": "MDAT [EMODB->URDU]", "metric": "ua", "reported": 73.23,
                 "measured": 41.75, "note": "", "paper_dataset": "urdu", "comparable": False})
    item = {"metrics": {"paper": "mdat", "dataset": "emodb_emovo_urdu", "profile": "reference", "seed": 0,
                        "synthetic": False, "metrics": {"wa": 80.0, "ua": 75.0}, "comparisons": rows,
                        "confusion": {"labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]}},
            "provenance": {"seed": 0}, "folder": tmp_path}
    t, _ = record_page.comparisons([item])
    assert t["row"].tolist() == ["MDAT (EMODB)", "MDAT (EMOVO)", "MDAT (URDU)", "MDAT [EMODB->URDU]"]
    assert t["paper"].tolist() == ["84.50", "82.81", "94.33", "73.23"]
    assert t["ours (mean ± std)"].tolist() == ["75.00", "58.04", "91.50", "41.75"]


def test_a_rows_notes_of_several_seeds_keep_each_part_once_and_name_the_seeds_of_a_part_only_some_wrote():
    assert record_page.pooled_note(["a; b 1", "a; b 2"], [0, 1]) == "a; b 1 (seed 0); b 2 (seed 1)"
    assert record_page.pooled_note(["a; b", "a; b", None], [0, 1, 2]) == "a; b (seeds 0, 1)"
    assert record_page.pooled_note(["x; y"], [3]) == "x; y"


def test_a_row_the_chapter_marks_not_comparable_says_the_chapters_reason_not_its_test_data(tmp_path):
    """An MDAT URDU row of a record written before the chapter set ``why``: the reason is read from its
    note, the verdict's footnote says it, and the note does not repeat it (it once said "not comparable:
    URDU: 400 test utterances", the row's test data)."""
    why = "protocol kfold_val differs from our reading of the paper's split"
    items = []
    for seed, spk in ((0, "95.00"), (1, "93.25")):
        note = (f"measured on URDU; speaker and emotion confounded: a speaker-only predictor scores {spk} UA; "
                f"not comparable: {why}")
        rows = [{"table": "Table II", "row": "MDAT", "metric": "ua", "reported": 94.33, "measured": 92.0 + seed,
                 "note": note, "paper_dataset": "urdu", "comparable": False, "scope": "URDU: 400 test utterances"}]
        items.append({"metrics": {"paper": "mdat", "dataset": "urdu", "profile": "reference", "seed": seed,
                                  "synthetic": False, "metrics": {"wa": 80.0, "ua": 75.0}, "comparisons": rows,
                                  "confusion": {"labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]}},
                      "provenance": {"seed": seed}, "folder": tmp_path})
    t, notes = record_page.comparisons(items)
    assert t["verdict"].tolist() == ["not comparable [1]"]
    lines = [line for line in notes.splitlines() if re.match(r"\d+\. ", line)]
    assert lines[0] == f"1. not comparable: {why}"
    assert lines[1] == ("2. measured on URDU; speaker and emotion confounded: a speaker-only predictor "
                                     "scores 95.00 UA (seed 0); speaker and emotion confounded: a speaker-only "
                                     "predictor scores 93.25 UA (seed 1)")


def test_every_comparison_row_is_pooled_over_the_seeds_and_its_notes_are_footnotes(pages):
    for cell, page in pages.items():
        t, notes = record_page.comparisons(page.items)
        # a row of a run over several corpora is one row per corpus of the paper's number, never pooled
        keys = {results.row_key(c) for it in page.items for c in it["metrics"]["comparisons"]}
        assert len(t) == len(keys), cell
        for _, row in t.iterrows():
            vals = [c["measured"] for it in page.items for c in it["metrics"]["comparisons"]
                    if (c["table"], results.row_label(c), c["metric"]) == (row["table"], row["row"], row["metric"])
                    and c["measured"] is not None]
            if len(vals) == 1 and row["metric"] not in ("params", "count"):
                assert row["ours (mean ± std)"] == f"{vals[0]:.2f}"
            elif len(set(vals)) > 1:
                assert row["ours (mean ± std)"].startswith(f"{statistics.mean(vals):.2f} ± ")
        used = set(t["note"]) - {record_page.ABSENT}
        why = {v.split(" ", 2)[-1] for v in t["verdict"] if v.startswith("not comparable")}
        assert all(re.fullmatch(r"\[\d+\]", n) for n in used | why), cell
        assert len(used | why) == len(re.findall(r"^\d+\. ", notes, re.M)), cell      # each note once


def test_the_verdicts_are_todays_decision_not_the_ones_written_in_the_records(pages, monkeypatch):
    """Every row is decided again by sercore.results.decide when the page renders: a verdict an old record
    wrote (e.g. a reason worded before a fix) never reaches the page."""
    import sercore.results.comparisons as C

    cell, page = next(iter(pages.items()))
    monkeypatch.setattr(C, "decide", lambda *a, **k: {"interval": None, "inside": None, "comparable": False,
                                                       "verdict": "not comparable: decided by today's code"})
    t, notes = record_page.comparisons(page.items)
    assert set(t["verdict"]) == {"not comparable [1]"} and "1. not comparable: decided by today's code" in notes


def test_a_change_to_the_display_code_reaches_the_page(pages, monkeypatch):
    """Numbers go through sercore.results.display when the page renders (nothing is copied from a record's
    notebook): a changed formatter shows on every published page."""
    import sercore.results.display as D

    monkeypatch.setattr(D, "fmt_value", lambda v, count=False, signed=False: "–" if v is None else f"<{float(v):.1f}>")
    monkeypatch.setattr(D, "fmt_interval", lambda iv: "an interval" if iv else "")
    for cell, page in pages.items():
        if record_page.is_board(page.items):       # a board's headline is its methods: test_a_published_board_*
            continue
        t = record_page.headline_table(page.items)
        wa = page.items[0]["metrics"]["metrics"]["wa"]
        assert t.iloc[0]["WA"].startswith(f"<{wa:.1f}>"), cell
        assert "an interval" in record_page.text_of(record_page.comparisons(page.items)[0]), cell


def test_a_record_that_keeps_no_per_class_scores_confusion_or_history_gets_sentences(pages):
    """Records older than a key, or a chapter that keeps no such data: each section says what is missing."""
    it = dict(next(iter(pages.values())).items[0])
    m = dict(it["metrics"], per_class={}, confusion={"labels": [], "matrix": []}, extra={})
    items = [{**it, "metrics": m}]
    assert record_page.per_class(items) == "The records keep no per-class scores."
    assert isinstance(record_page.confusion(items), str) and isinstance(record_page.learning_curves(items), str)
    assert record_page.summed_confusion(items) is None


def test_the_confusion_matrix_is_summed_over_seeds(pages):
    for cell, page in pages.items():
        conf = record_page.summed_confusion(page.items)
        total = sum(sum(map(sum, it["metrics"]["confusion"]["matrix"])) for it in page.items)
        assert sum(map(sum, conf["matrix"])) == total, cell


def test_without_a_record_the_page_says_so():
    page = record_page.Page("ctmam", "synthetic", "reference", ROOT / "records")
    first, *rest = record_page.SECTIONS
    assert page.objects(first) == [record_page.missing("ctmam", "synthetic", "reference")]
    assert all(page.objects(name) == [] for name in rest)
    with pytest.raises(KeyError, match="no page section"):
        page.objects("verdicts")


def test_the_notebook_shows_every_section_once():
    nb = nbformat.read(ROOT / "book" / "published.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in record_page.SECTIONS:
        assert code.count(f'page.show("{name}")') == 1, name
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and all(f"{p} =" in params[0].source for p in ("paper", "dataset", "profile", "records_root"))


def test_stage_published_executes_the_notebook_into_the_page_with_links_to_the_records_notebooks(tmp_path):
    """One page executed with papermill (the record with the fewest seeds and comparison rows): its title,
    banner and download links in a Markdown cell, no parameter cell, every section's output, nothing of the
    record's own notebook's outputs, no NaN or repr."""
    cell = min((c for c in CELLS if c[0] != "leaderboard"),      # a board's page: test_a_board_cells_page_*
               key=lambda c: (len(CELLS[c]), sum(len(i["metrics"]["comparisons"]) for i in CELLS[c])))
    paper, dataset, profile = cell
    recs = tmp_path / "records"
    shutil.copytree(ROOT / "records" / paper / dataset / profile, recs / paper / dataset / profile)
    gen = tmp_path / "book" / "_generated"
    page, = book.stage_published(gen, tmp_path / "results", recs, ROOT)
    assert page == gen / paper / f"{dataset}-{profile}-published.ipynb"
    nb = nbformat.read(page, as_version=4)
    title = nb.cells[0].source
    assert title.startswith(f"# {record_page.chapter_heading(paper).split(':')[0]} on {dataset}")
    assert "{admonition} Published run" in title
    for it in CELLS[cell]:
        link = f"../../../records/{paper}/{dataset}/{profile}/seed-{it['provenance']['seed']}/{paper}.ipynb"
        assert f"<{link}>`" in title and (page.parent / link).resolve().is_file()
    assert not any({"parameters", "injected-parameters"} & set(c.metadata.get("tags", [])) for c in nb.cells)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outs if o["output_type"] in ("error", "stream")]
    shown = "\n".join(str(o.get("data", {}).get(k, "")) for o in outs for k in ("text/html", "text/markdown"))
    assert not [b for b in BAD if b in shown]
    assert sum("image/png" in o.get("data", {}) for o in outs) == 2          # the confusion matrix, the curves
    m0 = CELLS[cell][0]["metrics"]["metrics"]
    assert f"{m0['ua']:.2f}" in shown
    old = nbformat.read(CELLS[cell][0]["folder"] / f"{paper}.ipynb", as_version=4)
    old_html = [str(o["data"]["text/html"]) for c in old.cells if c.cell_type == "code"
                for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert old_html and not any(h in shown for h in old_html)              # the record's notebook is not the page


def test_published_pages_show_a_record_unless_results_hold_a_fresher_run(tmp_path):
    cell = next(iter(CELLS))
    paper, dataset, profile = cell
    recs = tmp_path / "records"
    shutil.copytree(ROOT / "records" / paper / dataset / profile, recs / paper / dataset / profile)
    gen, results = tmp_path / "gen", tmp_path / "results"
    (got,) = book.published_pages(gen, results, recs, ROOT)
    assert got[0] == cell and got[2] == gen / paper / f"{dataset}-{profile}-published.ipynb"
    res = results / paper / dataset / profile
    res.mkdir(parents=True)
    m = json.loads((recs / paper / dataset / profile / "seed-0" / "metrics.json").read_text())
    (res / "metrics.json").write_text(json.dumps({**m, "started": "2999-01-01T00:00:00+00:00"}))
    assert book.published_pages(gen, results, recs, ROOT) == []


def test_frames_are_text_cells_with_a_dash_for_absent_values():
    df = record_page._cells(pd.DataFrame({"a": [None, 1.5, ""], "b": ["x", float("nan"), "y"]}))
    assert df.to_dict("list") == {"a": ["–", "1.5", "–"], "b": ["x", "–", "y"]}
    assert record_page.mean_std([190790, 190790, 190790], "params") == "190,790 (same in 3 seeds)"
    assert record_page.mean_std([80.0, 84.0]) == "82.00 ± 2.83 (2 seeds)"
    assert record_page.mean_std([None]) == record_page.ABSENT


def test_per_class_rows_are_decided_on_their_own_intervals_and_a_count_stands_on_no_test_set(pages):
    """A published CTMAM page decides its Table IV per-class rows on the per-class intervals its test
    predictions give (not "no interval"), and a parameter count carries no test data."""
    ctmam = [p for cell, p in pages.items() if cell[0] == "ctmam"]
    if not ctmam:
        pytest.skip("records/ holds no CTMAM record")
    t, notes = record_page.comparisons(ctmam[0].items)
    per_class = t[(t.table == "Table IV") & t.metric.isin(["precision", "recall", "f1"])]
    assert len(per_class) >= 21 and (per_class["95% interval"] != record_page.ABSENT).all(), per_class
    assert set(per_class["verdict"]) <= {"inside", "below", "above"}, set(per_class["verdict"])
    counts = t[t.metric == "params"]
    if "test data" in t.columns:
        assert (counts["test data"] == record_page.ABSENT).all()
    else:                                   # one test set for every measured row: said once in the notes
        assert notes.startswith("Every measured row stands on the same test data: ")


def test_a_published_board_shows_every_method_pooled_over_its_records_seeds():
    """A leaderboard cell published as one record per seed: the page pools the records' rows per method
    (mean ± std over the seeds), names the seeds of every record, and shows an absent method as absent."""
    def record(seed):
        rows = [{"method": m, "paper": "x", "modalities": "audio", "seed": seed, "skipped": None, "note": f"{m} note",
                 "ua": u + seed, "wa": u, "macro_f1": u, "weighted_f1": u, "n_params": 10, "train_s": 1.0,
                 "latency_ms": 0.5} for m, u in (("a", 70.0), ("b", 50.0))]
        rows.append({"method": "t", "paper": "y", "modalities": "text", "seed": seed, "skipped": "corpus has no text",
                     "note": "t note"})
        m = {"paper": "leaderboard", "dataset": "urdu", "profile": "reference", "seed": seed,
             "protocol": {"n_folds": 2, "n_folds_total": 5,
                          "folds": [{"sizes": {"test": 80}}, {"sizes": {"test": 80}}]},
             "extra": {"leaderboard": rows, "params": {"seeds": [seed], "epochs": 10}}}
        return {"metrics": m, "provenance": {"profile": "reference", "seed": seed}}

    items = [record(0), record(2)]
    assert record_page.is_board(items)
    text, table, notes = record_page.headline(items)
    assert "2 of 5 folds, 160 test utterances, 10 epochs, 2 seeds (0, 2); 2 records" in text
    assert "a is first with UA 71.00" in text and "shown as absent, not as chance" in text
    row = table.set_index("method")
    assert row.loc["a", "UA"] == "71.00 ± 1.41" and row.loc["a", "seeds"] == "2"
    assert row.loc["t", "UA"] == "absent" and "corpus has no text" in row.loc["t", "flag"]
    assert list(notes["settings"]) == ["a note", "b note", "t note"]


def test_a_board_cells_page_shows_the_board_pooled_over_its_records(tmp_path):
    """A published leaderboard (one record per seed) renders its board, seeds pooled, with no NaN or repr."""
    boards = [c for c in CELLS if c[0] == "leaderboard"]
    if not boards:
        pytest.skip("no leaderboard is published in records/")
    cell = max(boards, key=lambda c: len(CELLS[c]))
    paper, dataset, profile = cell
    recs = tmp_path / "records"
    shutil.copytree(ROOT / "records" / paper / dataset / profile, recs / paper / dataset / profile)
    page, = book.stage_published(tmp_path / "book" / "_generated", tmp_path / "results", recs, ROOT)
    nb = nbformat.read(page, as_version=4)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outs if o["output_type"] in ("error", "stream")]
    shown = "\n".join(str(o.get("data", {}).get(k, "")) for o in outs for k in ("text/html", "text/markdown"))
    assert not [b for b in BAD if b in shown]
    seeds = ", ".join(str(it["provenance"]["seed"]) for it in CELLS[cell])
    assert "The board, seeds pooled" in shown and f"seeds ({seeds})" in shown
    assert "--set 'seeds=" in shown                    # each seed's command names the seed it trained
