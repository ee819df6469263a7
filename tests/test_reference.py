"""The papers' reported numbers (sercore.reference): schema, lookups and spot values checked by hand
against the papers' texts."""

from __future__ import annotations

import csv
import math
from importlib import resources

import pandas as pd
import pytest

from sercore import reference as ref


@pytest.fixture(scope="module", params=ref.PAPERS)
def paper(request):
    return request.param


# ------------------------------------------------------------------ schema

def test_csv_shipped_as_package_data(paper):
    res = resources.files("sercore.reference").joinpath(f"{paper}.csv")
    assert res.is_file()
    with res.open("r", encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == ref.COLUMNS


def test_schema(paper):
    df = ref.load(paper)
    assert tuple(df.columns) == ref.COLUMNS
    assert len(df) > 0
    assert (df["paper"] == paper).all()
    assert pd.api.types.is_float_dtype(df["value"])
    assert df["value"].map(math.isfinite).all()
    assert set(df["metric"]) <= ref.METRICS, set(df["metric"]) - ref.METRICS
    assert set(df["dataset"]) <= ref.DATASETS, set(df["dataset"]) - ref.DATASETS
    for col in ("table", "row", "metric", "dataset"):
        assert (df[col].str.strip() != "").all(), f"empty {col}"
        assert (df[col] == df[col].str.strip()).all(), f"stray whitespace in {col}"


def test_no_duplicate_keys(paper):
    df = ref.load(paper)
    key = ["paper", "table", "row", "column", "dataset", "metric"]
    dup = df[df.duplicated(key, keep=False)]
    assert dup.empty, dup[key].to_string()


def test_printed_values_are_plain_numbers(paper):
    raw = ref.load(paper, as_printed=True)
    assert raw["value"].str.fullmatch(r"\d+(\.\d+)?").all(), raw.loc[
        ~raw["value"].str.fullmatch(r"\d+(\.\d+)?"), "value"].tolist()


def test_value_ranges(paper):
    df = ref.load(paper)
    pct = df[df["metric"].isin({"wa", "ua", "accuracy", "precision", "recall", "acc2", "acc6"})]
    assert pct["value"].between(0, 100).all()
    f1 = df[df["metric"].isin({"f1", "macro_f1", "weighted_f1"})]
    assert f1["value"].between(0, 100).all()
    ints = df[df["metric"].isin({"params", "count"})]
    assert (ints["value"] == ints["value"].round()).all() and (ints["value"] > 0).all()


def test_cross_language_cells_name_target_dataset():
    df = ref.load("mdat")
    pairs = df[df["column"].str.contains("->")]
    assert len(pairs) > 0
    targets = pairs["column"].str.split(",").str[0].str.split("->").str[1].str.lower()
    assert (targets == pairs["dataset"]).all()


def test_tables_in_order():
    assert ref.tables("ctmam")[:6] == ["Table I", "Table II", "Table III", "Table IV", "Table V", "Table VI"]
    assert ref.tables("ca_ser")[:2] == ["Table 1", "Table 2"]
    assert ref.tables("mlcct")[:8] == [f"Table {i}" for i in range(1, 9)]
    assert ref.tables("mcwsa_cmha")[:3] == ["Table I", "Table II", "Table III"]
    assert ref.tables("mdat")[:5] == ["Table II", "Table III", "Table IV", "Table V", "Table VI"]


def test_load_all():
    df = ref.load_all()
    assert list(dict.fromkeys(df["paper"])) == list(ref.PAPERS)
    assert len(df) == sum(len(ref.load(p)) for p in ref.PAPERS)


# ------------------------------------------------------------------ errors

def test_unknown_paper_lists_known_ones():
    with pytest.raises(KeyError, match="ca_ser"):
        ref.load("nope")
    with pytest.raises(KeyError, match="mdat"):
        ref.tables("nope")


def test_get_no_match_says_what_was_asked():
    with pytest.raises(ValueError, match=r"0 reported values match .*row='CA-SER'.*rows of Table 1"):
        ref.get("ca_ser", "Table 1", "CA-SER", "wa")


def test_get_several_matches_says_how_many():
    with pytest.raises(ValueError, match=r"^5 reported values match"):
        ref.get("mcwsa_cmha", "Table II", "The proposed CMHA", "ua", dataset="iemocap")


def test_get_empty_column_is_explicit():
    assert ref.get("ca_ser", "Table 2", "CA-SER [OURS]", "wa", column="") == 74.60
    with pytest.raises(ValueError):
        ref.get("ca_ser", "Table 2", "CA-SER [OURS]", "wa", column="audio")


# ------------------------------------------------------------------ spot values (checked against the papers)

SPOT = [
    # ctmam
    ("ctmam", "Table I", "Proposed", "wa", None, "iemocap", 71.64),
    ("ctmam", "Table I", "Proposed", "ua", None, "iemocap", 72.72),
    ("ctmam", "Table I", "Latif et al. [56]", "ua", None, "iemocap", 64.10),
    ("ctmam", "Table II", "Proposed", "ua", None, "emodb", 89.51),
    ("ctmam", "Table III", "Neutral", "recall", None, "iemocap", 62.32),
    ("ctmam", "Table IV", "Fear", "f1", None, "emodb", 80.00),
    ("ctmam", "Table V", "W/o LCT", "wa", None, "iemocap", 67.12),
    ("ctmam", "Table VI", "Proposed", "params", None, "iemocap", 1031674),
    ("ctmam", "Table VI", "W/ConvFFN-LCT-L", "params", None, "iemocap", 10390522),
    # ca_ser
    ("ca_ser", "Table 1", "CA-SER [OURS]", "wa", None, "iemocap", 72.34),
    ("ca_ser", "Table 1", "CA-SER [OURS]", "ua", None, "iemocap", 71.53),
    ("ca_ser", "Table 2", "CA-SER [OURS]", "wa", None, "iemocap", 74.60),
    ("ca_ser", "Table 2", "CA-SER [OURS]", "ua", None, "iemocap", 73.50),
    ("ca_ser", "Table 1", "HuBERT Large + SN [6]", "wa", None, "iemocap", 74.2),
    ("ca_ser", "Table 2", "MHSA-FACA [13]", "ua", None, "iemocap", 72.83),
    # mlcct
    ("mlcct", "Table 1", "Neutral", "count", "Testing", "iemocap", 220),
    ("mlcct", "Table 2", "Happy", "count", "Training", "mosei", 7136),
    ("mlcct", "Table 3", "MLCCT", "accuracy", "multimodal", "iemocap", 75.92),
    ("mlcct", "Table 4", "MLCCT", "f1", "Angry", "iemocap", 72.1),
    ("mlcct", "Table 5", "MLCCT", "f1", "multimodal", "meld", 62.4),
    ("mlcct", "Table 6", "MLCCT", "accuracy", "multimodal", "mosei", 51.2),
    ("mlcct", "Table 7", "D", "f1", None, "mosei", 82.03),
    ("mlcct", "Table 8",
     "cross-modal blocks=2, self-attention blocks=4, cross-modal heads=4, self-attention heads=8",
     "acc2", None, "mosei", 83.6),
    # mcwsa_cmha
    ("mcwsa_cmha", "Table I", "MCWSA-CMHA (Proposed)", "ua", None, "iemocap", 86.3),
    ("mcwsa_cmha", "Table I", "MCWSA-CMHA (Proposed)", "ua", None, "msp_improv", 71.8),
    ("mcwsa_cmha", "Table II", "The proposed CMHA", "f1", "A+V+T", "iemocap", 0.865),
    ("mcwsa_cmha", "Table II", "Concat [8]", "ua", "A+V+T (NP)", "msp_improv", 66.5),
    ("mcwsa_cmha", "Table III", "VGG-Face [59]", "ua", "A+V+T", "msp_improv", 70.4),
    ("mcwsa_cmha", "Fig. 4", "The proposed CMHA", "recall", "Sad", "iemocap", 92.0),
    # mdat
    ("mdat", "Table II", "MDAT", "ua", None, "iemocap", 75.58),
    ("mdat", "Table II", "HCAM [81]", "ua", None, "emovo", 76.66),
    ("mdat", "Table III", "Dutta et al. (2023) [81]", "ua", None, "iemocap", 73.67),
    ("mdat", "Table IV", "MDAT", "ua", "IEMOCAP->EMOVO", "emovo", 85.51),
    ("mdat", "Table IV", "HCAM [81]", "ua", "EMOVO->URDU", "urdu", 58.92),
    ("mdat", "Table V", "MDAT", "ua", "IEMOCAP->EMODB, k=15", "emodb", 91.48),
    ("mdat", "Table V", "Baseline", "ua", "IEMOCAP->URDU, k=0", "urdu", 61.18),
    ("mdat", "Table V", "MDAT", "ua", "EMODB->EMOVO, k=10", "emovo", 89.36),
    ("mdat", "Table VI", "Model 5", "ua", "IEMOCAP->URDU", "urdu", 36.23),
]


@pytest.mark.parametrize("paper_, table, row, metric, column, dataset, expected", SPOT,
                         ids=[f"{s[0]}:{s[1]}:{s[2][:20]}:{s[3]}" for s in SPOT])
def test_spot_values(paper_, table, row, metric, column, dataset, expected):
    assert ref.get(paper_, table, row, metric, column=column, dataset=dataset) == pytest.approx(expected)


def test_printed_form_kept():
    raw = ref.load("ca_ser", as_printed=True)
    cell = raw[(raw["table"] == "Table 2") & (raw["row"] == "CA-SER [OURS]") & (raw["metric"] == "wa")]
    assert cell["value"].tolist() == ["74.60"]


def test_text_deltas_match_tables():
    """Differences the papers quote in their text, recomputed from the tables."""
    g = ref.get
    # ca_ser: "+2.59% on WA and 0.67% on UA" over MHSA-FACA (CV-10)
    assert g("ca_ser", "Table 2", "CA-SER [OURS]", "wa") - g("ca_ser", "Table 2", "MHSA-FACA [13]", "wa") == pytest.approx(2.59)
    assert g("ca_ser", "Table 2", "CA-SER [OURS]", "ua") - g("ca_ser", "Table 2", "MHSA-FACA [13]", "ua") == pytest.approx(0.67)
    # ctmam: removing LCT costs 4.52 WA / 3.79 UA
    assert g("ctmam", "Table V", "Proposed", "wa") - g("ctmam", "Table V", "W/o LCT", "wa") == pytest.approx(4.52)
    assert g("ctmam", "Table V", "Proposed", "ua") - g("ctmam", "Table V", "W/o LCT", "ua") == pytest.approx(3.79)
    # ctmam Tables III/IV: UA is the mean per-class recall (not precision, despite Eq. 25)
    for table, ds in (("Table III", "iemocap"), ("Table IV", "emodb")):
        df = ref.load("ctmam")
        rec = df[(df["table"] == table) & (df["metric"] == "recall")]["value"]
        assert rec.mean() == pytest.approx(g("ctmam", table, "UA", "ua", dataset=ds), abs=0.01)
    # mdat: 15-shot MDAT beats the baseline by >9 (EMODB->EMOVO) and >12 points (URDU->IEMOCAP)
    for pair, gap in (("EMODB->EMOVO", 9), ("URDU->IEMOCAP", 12)):
        col = f"{pair}, k=15"
        assert g("mdat", "Table V", "MDAT", "ua", column=col) - g("mdat", "Table V", "Baseline", "ua", column=col) > gap


def test_same_number_in_two_tables():
    g = ref.get
    assert g("mlcct", "Table 6", "MLCCT", "accuracy", column="multimodal") == g(
        "mlcct", "Table 8",
        "cross-modal blocks=2, self-attention blocks=4, cross-modal heads=2, self-attention heads=4", "acc6")
    for ds in ("iemocap", "msp_improv"):
        assert g("mcwsa_cmha", "Table I", "MCWSA-CMHA (Proposed)", "ua", dataset=ds) == g(
            "mcwsa_cmha", "Table II", "The proposed CMHA", "ua", column="A+V+T", dataset=ds)
    for t in ("EMODB", "EMOVO", "URDU"):
        assert g("mdat", "Table VI", "Model 1", "ua", column=f"IEMOCAP->{t}") == g(
            "mdat", "Table IV", "MDAT", "ua", column=f"IEMOCAP->{t}")


def test_row_counts():
    counts = {p: len(ref.load(p)) for p in ref.PAPERS}
    assert counts == {"ctmam": 113, "ca_ser": 29, "mlcct": 171, "mcwsa_cmha": 108, "mdat": 210}
