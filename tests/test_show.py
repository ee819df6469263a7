"""The notebooks' display layer (sercore.show): the preamble, every reported-vs-measured row with its
notes as footnotes, paper | published | this build, provenance; cells by type; no notebook repeats the glue."""
import json
import math
import re

import pandas as pd
import pytest

from sercore import results, runs, show
from sercore.paths import project_root
from sercore.results import ABSENT

ROOT = project_root()
CHAPTERS = ("ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat", "leaderboard")
LONG = ("the paper's Tables V/VI do not name their corpus (their 'Proposed' row equals Table I; read as "
        "IEMOCAP), so the reported numbers are read as IEMOCAP")


def _rows():
    """Six comparison rows: two distinct long notes repeated, one row without a note, a count row."""
    c = results.comparison
    return [dict(c("Table II", "Proposed", "wa", 90.65, 66.355140, note=LONG), interval=[60.0, 70.0]),
            c("Table II", "Proposed", "ua", 89.51, 65.0, note=LONG),
            c("Table IV", "Neutral", "f1", 92.86, None, note="not measured by this run"),
            c("Table IV", "Happy", "f1", 80.0, 70.0, note=LONG),
            c("Table IV", "Sad", "f1", 80.0, 75.5),
            c("Table VI", "Proposed", "params", 190790.0, 220875.0, note="not measured by this run")]


def test_repeated_notes_become_one_numbered_footnote_each():
    rows = _rows()
    table, notes = show.comparison_table(rows)
    distinct = list(dict.fromkeys(r["note"] for r in rows if r.get("note")))
    assert notes == distinct and len(notes) == 2
    # every row with a note references its footnote; the row without one shows a dash
    for r, ref in zip(rows, table["note"]):
        assert (notes[int(ref) - 1] == r["note"]) if r.get("note") else ref == ABSENT
    assert LONG not in table.to_string()
    text = show.footnotes_text(notes)
    assert text.count(LONG) == 1 and f"1. {LONG}." in text and "2. not measured by this run." in text
    assert show.footnotes_text([]) == ""


def test_a_note_made_of_clauses_references_one_footnote_per_clause():
    c = results.comparison
    rows = [c("T", "a", "wa", 1.0, 2.0, note="emodb, 1 epoch(s); trimmed to 3 per class."),
            c("T", "a", "ua", 1.0, 2.0, note="emodb, 1 epoch(s); trimmed to 3 per class.; read as IEMOCAP"),
            c("T", "b", "wa", 1.0, 2.0, note="preset small (Bi-LSTM 64; no sizes given); read as IEMOCAP")]
    table, notes = show.comparison_table(rows)
    assert notes == ["emodb, 1 epoch(s)", "trimmed to 3 per class", "read as IEMOCAP",
                     "preset small (Bi-LSTM 64; no sizes given)"]       # a semicolon in parentheses stays
    assert list(table["note"]) == ["1, 2", "1, 2, 3", "4, 3"]


def test_cells_are_formatted_by_type_and_an_absent_value_is_a_dash():
    table, _ = show.comparison_table(_rows())
    wa, nf1, params = table.iloc[0], table.iloc[2], table.iloc[5]
    assert (wa["measured"], wa["deviation"], wa["95% interval"]) == ("66.36", "-24.29", "[60.00, 70.00]")
    assert (params["reported"], params["measured"], params["deviation"]) == ("190,790", "220,875", "+30,085")
    assert (nf1["measured"], nf1["deviation"], nf1["95% interval"]) == (ABSENT, ABSENT, ABSENT)
    assert table.iloc[4]["test data"] == ABSENT
    assert not table.isin(["", None, "None", "nan", "NaN"]).any().any()
    assert results.fmt_value(190790, count=True) == "190,790" and results.fmt_value(66.355140) == "66.36"
    assert results.fmt_value(30085.0, count=True, signed=True) == "+30,085"
    assert results.fmt_value(-1.5, signed=True) == "-1.50"
    assert results.fmt_value(None) == ABSENT == results.fmt_value(math.nan, count=True) == "\u2013"


def test_frame_html_formats_numbers_by_type_in_a_scrolling_box():
    df = pd.DataFrame({"n": pd.array([190790, None], dtype="Int64"), "ua": [66.355140, math.nan],
                       "lr": [1e-06, 0.5], "who": [None, pd.NA], "mixed": [66.355140, "x"]})
    html = results.frame_html(df)
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells == ["190,790", "66.36", "1e-06", ABSENT, "66.36", ABSENT, ABSENT, "0.50", ABSENT, "x"]
    assert html.startswith('<div class="sercore-table">') and "&lt;NA&gt;" not in html
    assert "sercore-table" in (ROOT / "_static" / "book.css").read_text()


def test_preamble_returns_the_resolved_parameters_and_shows_the_run(monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(show, "_display", lambda *parts: shown.extend(parts))
    ns = {**runs.notebook_defaults(ROOT / "book" / "ctmam.ipynb"), "results_dir": str(tmp_path), "show": show}
    P, run = show.preamble(ns)
    assert P == runs.notebook_params(ns) and P["paper"] == "ctmam"
    assert (run.paper, run.dataset, run.profile, run.out_dir) == ("ctmam", P["dataset"], P["profile"], tmp_path)
    assert shown == [f"**Run:** `ctmam` on `{P['dataset']}`, profile `{P['profile']}`, seed {P['seed']}, "
                     f"model `{P['model']}`."]
    show.preamble(ns, describe=lambda p: f"{p['epochs']} epoch(s)")
    assert shown[-1] == f"{P['epochs']} epoch(s)"
    with pytest.raises(Exception, match="epoch"):
        show.preamble({**ns, "epoch": 3})                   # a misspelt parameter stops the page


def test_paper_vs_published_without_records_says_so_and_has_no_blank_cell(tmp_path):
    out = {"paper": "ctmam", "dataset": "emodb", "profile": "quick", "comparisons": _rows()}
    heading, table, gap = show.paper_vs_published_parts(out, records_root=tmp_path / "records")
    assert "no published reference run of ctmam on emodb" in heading and "no published reference run" in gap
    assert len(table) == len(_rows()) and not table.isin(["", None]).any().any()
    assert table[table.metric == "params"].iloc[0]["paper"] == "190,790"


def _code(name: str) -> str:
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_chapter_notebook_repeats_the_display_glue(name):
    code = _code(name)
    for glue in ("records.three_columns", "records.gap_text", "experiment.provenance", "results.comparison_frame",
                 "runs.notebook_params", "results.readable_tables", "results.Run("):
        assert glue not in code, f"book/{name}.ipynb calls {glue} itself; sercore.show owns it"
    assert code.count("show.preamble(globals()") == 1 and code.count("show.provenance(out)") == 1
    if name != "leaderboard":                   # the leaderboard compares methods, not a paper's numbers
        assert code.count("show.comparisons(out)") == 1 and code.count("show.paper_vs_published(out)") == 1


def test_shown_comparisons_say_shared_test_data_once_and_list_the_footnotes(monkeypatch):
    shown = []
    monkeypatch.setattr(show, "_display", lambda *parts: shown.extend(parts))
    rows = [{**r, "scope": "107 test utterances"} for r in _rows()]
    show.comparisons({"comparisons": rows})
    head, table, notes = shown
    assert head == "**Test data of every row:** 107 test utterances." and "test data" not in table.columns
    assert len(table) == len(rows) and notes == show.footnotes_text(show.comparison_table(rows)[1])
    shown.clear()
    show.comparisons({"comparisons": _rows()[:2] + [{**_rows()[4], "scope": "49 test utterances"}]})
    assert isinstance(shown[0], pd.DataFrame) and "test data" in shown[0].columns      # rows differ: a column


def test_the_run_line_names_every_training_seed_of_a_run_that_trains_several():
    one = {"paper": "ctmam", "dataset": "emodb", "profile": "quick", "seed": 3}
    assert show.run_line(one).endswith("profile `quick`, seed 3.")
    board = {"paper": "leaderboard", "dataset": "emodb", "profile": "quick", "seed": 0, "seeds": [0, 1, 2]}
    assert show.run_line(board).endswith("profile `quick`, training seeds 0, 1, 2.")
