"""``benchmarks/run --quick`` end to end on a tiny setting (a functional test, not a timed one),
the CTMAM reference point's equivalence to ours, and the make-book section's chapter shares."""
import json
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench as mod
        yield mod
    finally:
        sys.path.remove(str(BENCH))


def test_run_quick_writes_json_and_page(tmp_path, bench, monkeypatch):
    """What `benchmarks/run --quick ...` runs (the script execs bench.py; in-process here to save
    a second interpreter start)."""
    assert os.access(BENCH / "run", os.X_OK) and "bench.py" in (BENCH / "run").read_text()
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    out, page = tmp_path / "b.json", tmp_path / "book" / "benchmarks.md"
    assert bench.main(["--quick", "--models", "mlp_stats", "--extractors", "mfcc", "--out", str(out),
                       "--page", str(page), "--make-book-seconds", "400", "--make-book-warm-seconds", "75"]) == 0
    d = json.loads(out.read_text())
    assert d["quick"] is True and d["machine"]["cpu_count"] >= 1 and d["machine"]["torch"] == torch.__version__
    (m,) = d["models"]
    assert m["model"] == "mlp_stats" and m["parameters"] > 0 and m["batch_used"] == 2
    assert m["train"]["utt_per_s"] > 0 and m["infer"]["utt_per_s"] > 0 and m["peak_rss_mb"] > 0
    (f,) = d["features"]["extractors"]
    assert f["extractor"] == "mfcc" and f["utt_per_s"] > 0
    assert f["cache"]["first_misses"] == f["cache"]["second_hits"] == d["features"]["utterances"]
    (r,) = d["ctmam_reference"]
    assert r["parameters_ours"] == r["parameters_reference"] == 544_361      # ctmam_emodb
    assert r["train_speedup"] > 0 and r["max_abs_logit_diff"] < 1e-4
    if not torch.cuda.is_available():
        assert d["fast_path"]["measured"] is False
    assert d["make_book"]["seconds"] == 400 and d["make_book"]["meets_target"] is True
    assert d["make_book"]["warm_seconds"] == 75 and d["make_book"]["warm_meets_target"] is False
    enc = d["encoders"]
    assert enc["text"]["batched_utt_per_s"] > 0 and enc["text"]["max_abs_diff"] < 1e-5, enc
    assert enc["ge2e"]["batched_realtime"] > 0 and enc["ge2e"]["max_abs_diff"] < 1e-5, enc
    assert len(enc["load_before"]) == 3
    text = page.read_text()
    assert "| mlp_stats |" in text and "CTMAM against a direct implementation" in text
    assert "## Encoders: one by one versus batched" in text and "took **75 s** (target: under 60 s; NOT met)" in text
    assert (page.parent / "benchmarks_files" / "throughput.png").stat().st_size > 1000
    assert (page.parent / "benchmarks_files" / "cache.png").exists()


def test_model_failure_is_recorded_not_fatal(bench):
    rows = bench.bench_models(["ca_ser_finetune", "no_such_preset"], torch.device("cpu"), quick=True)
    assert "wav2vec" in rows[0]["skipped"]
    assert rows[1]["error"].startswith("KeyError")


def test_reference_ctmam_matches_ours_with_naive_attention():
    sys.path.insert(0, str(BENCH))
    try:
        import ctmam_reference as R
    finally:
        sys.path.remove(str(BENCH))
    ours, ref = R.build("ctmam")
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in ours.parameters()) == 1_031_674
    assert ref.naive_blocks == 3                                   # one CA-LMAM per LCT block
    x = torch.randn(3, 26, 57)
    assert R.check(ours, ref, x) < 1e-4
    # the reference really takes another path: breaking its softmax changes its output only
    ref2 = R.reference_from(ours)
    orig = R._softmax_explicit
    try:
        R._softmax_explicit = lambda s: torch.full_like(s, 1.0 / s.shape[-1])
        with pytest.raises(AssertionError, match="disagrees"):
            R.check(ours, ref2, x)
    finally:
        R._softmax_explicit = orig


def test_make_book_shares(tmp_path, bench):
    for paper, ds, t in (("ctmam", "emodb", 120.0), ("ctmam", "synthetic", 60.0), ("mdat", "emodb", 30.0)):
        p = tmp_path / paper / ds / "quick" / "metrics.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"paper": paper, "runtime_s": t}))
    s = bench.make_book_section(600.0, tmp_path)
    assert [(c["paper"], c["quick_runtime_s"], c["share"]) for c in s["chapters"]] == [
        ("ctmam", 180.0, 0.3), ("mdat", 30.0, 0.05)]
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "make_book.json").write_text('{"seconds": 1500}')
    s2 = bench.make_book_section(None, tmp_path)
    assert s2["seconds"] == 1500 and s2["meets_target"] is False


def test_make_book_section_lists_notebooks_the_leaderboard_and_warm_time(tmp_path, bench):
    for paper, ds, t in (("leaderboard", "emodb", 100.0), ("leaderboard", "synthetic", 90.0),
                         ("ctmam", "emodb", 30.0)):
        p = tmp_path / paper / ds / "quick" / "metrics.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"paper": paper, "runtime_s": t}))
    (tmp_path / "ctmam/emodb/quick/run_key.json").write_text("{}")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "make_book.json").write_text('{"seconds": 470, "warm_seconds": 41}')
    s = bench.make_book_section(None, tmp_path)
    assert (s["seconds"], s["meets_target"], s["warm_seconds"], s["warm_meets_target"]) == (470, True, 41, True)
    assert s["leaderboard_s"] == 190.0 and s["leaderboard_meets_target"] is False   # budget: 160 s
    assert [(r["notebook"], r["runtime_s"], r["run_key"]) for r in s["notebooks"]] == [
        ("leaderboard/emodb", 100.0, False), ("leaderboard/synthetic", 90.0, False), ("ctmam/emodb", 30.0, True)]
    from sercore.bench_page import render
    text = render({"machine": {"cpu_count": 2, "torch": torch.__version__, "torch_threads": 1, "device": "cpu"},
                   "make_book": s})
    assert "| ctmam/emodb | 30.0 | yes |" in text and "leaderboard notebooks took **190 s**" in text


def test_book_benchmark_is_small_measured_and_shows_no_machine_path(tmp_path, bench, monkeypatch):
    """`benchmarks/run --book` (what `make book` runs first): models and the CTMAM reference point only, at
    real batch sizes; its page says what it is and names the JSON inside the project; a full run already
    in results/ is kept."""
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    assert "benchmarks/run --book" in (ROOT / "Makefile").read_text()
    out = tmp_path / "res" / "benchmarks" / "benchmarks.json"
    page = tmp_path / "book" / "_generated" / "benchmarks.md"
    assert bench.main(["--book", "--models", "mlp_stats", "--out", str(out), "--page", str(page)]) == 0
    d = json.loads(out.read_text())
    assert d["book"] is True and d["quick"] is False
    assert set(d) & {"features", "encoders", "make_book", "fast_path"} == set()
    (m,) = d["models"]
    assert m["batch_used"] == 32 and m["train"]["steps"] >= 2 and m["train"]["utt_per_s"] > 0
    (r,) = d["ctmam_reference"]
    assert r["model"] == "ctmam_emodb" and r["max_abs_logit_diff"] < 1e-4
    text = page.read_text()
    assert "the small benchmark every `make book` runs" in text and "| mlp_stats |" in text
    assert str(tmp_path) not in text and "results/benchmarks/benchmarks.json" in text
    # a full run in results/ is not replaced by --book
    out.write_text(json.dumps({**d, "book": False, "started": "full"}))
    assert bench.main(["--book", "--models", "mlp_stats", "--page", "none"]) == 0
    assert json.loads(out.read_text())["started"] == "full"
