"""The run matrix: every params file on every profile, through ``sercore run``, on corpora in their
official layouts (:func:`sercore.data.fixtures.write_fixtures`) or the synthetic corpus.

One test per cell, named ``paper/dataset/profile``. ``smoke`` runs as written. ``paper`` (and
``reference`` where a file has it) runs the paper's protocol with only sizes overridden
(:data:`SHRINK`): one epoch, two training utterances per class per fold, small batches and a tiny
local wav2vec 2.0 where the profile fine-tunes one; every fold, ablation and variant the profile
names still runs, and test sets are whole. ``quick`` (what ``make book`` runs where the corpus is
found) runs its own folds, ablations and tables with the same sizes shrunk, never more folds than
it names. The data root is given as a relative path, as a user
types it. The session's summary prints the matrix with each cell's seconds.

Each paper's ``synthetic``/``smoke`` cell (:data:`KERNEL_CELLS`, what a new user runs first) executes its
notebook in a fresh Jupyter kernel, as ``sercore run`` does. The other cells use ``sercore run
--in-process`` (:mod:`sercore.runs.inprocess`): the same notebook, injected parameters and code in the
test's own process, without the kernel's start-up and imports (about 5 s a cell, most of a small cell's
time); ``tests/test_runs_inprocess.py`` checks that both write the same kinds of output.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sercore import experiment, runs
from sercore.reproduction import CHECK_METRICS

ROOT = Path(__file__).resolve().parent.parent

#: size overrides of the paper-scale profiles, per paper (never the protocol, folds or test sets)
SHRINK: dict[str, dict] = {
    "ctmam": {"epochs": 1, "n_per_class": 2, "batch_size": 8, "max_segments": 2},
    "ca_ser": {"epochs": 1, "n_per_class": 2, "batch_size": 2, "grad_accum": 1, "lstm_hidden": 32,
               "lstm_layers": 1, "d_model": 32, "sa_layers": 1, "sa_heads": 2, "sa_ff": 64, "ca_heads": 2,
               "ca_dim": 32, "ffn_dim": 64},
    "mlcct": {"epochs": 1, "n_per_class": 2, "batch_size": 8},
    # MCWSA-CMHA's paper profile trains every Table II/III fusion and column on each of its 10 folds
    # (about 30 models a fold): two folds train here; every fold is still built and checked below
    "mcwsa_cmha": {"epochs": 1, "pretrain_epochs": 1, "n_per_class": 2, "batch_size": 8, "mine_steps": 5,
                   "dcca_steps": 5, "digits_epochs": 1, "digits_train": 64, "max_folds": 2,
                   "latent_dim": 16, "heads": 2, "audio_channels": 2, "video_hidden": 16, "text_layers": 1,
                   "text_ff": 32, "head_hidden": 16, "tfn_rank": 3},
    # k-shot adapts on k utterances per class of a whole target: the fixture corpora hold 9-20 per class
    "mdat": {"epochs": 1, "ft_epochs": 1, "n_per_class": 2, "batch_size": 8, "kshot_seeds": [0], "kshot_ks": [0, 5]},
    # the board's paper profile trains every method at its chapter's paper size on every fold (about
    # 80 models on Emo-DB): one fold trains here; every fold is still built and checked below. The
    # chapters train at their own shrunk sizes (chapter_sets, as a user shrinks a board on a slow
    # machine), and two utterances a fold are timed for ms / utt
    "leaderboard": {"epochs": 1, "baseline_epochs": 1, "n_per_class": 2, "seeds": [0], "max_folds": 1,
                    "latency_utterances": 2},
}
#: the chapters' model sizes a board's paper-scale cell trains them at (their SHRINK sizes)
SIZES = {"ca_ser", "ctmam", "mcwsa_cmha"}
SHRINK["leaderboard"]["chapter_sets"] = [
    f"{paper}.{k}={json.dumps(v)}" for paper in sorted(SIZES) for k, v in SHRINK[paper].items()
    if k not in ("epochs", "pretrain_epochs", "n_per_class", "max_folds", "digits_epochs", "digits_train")]

def _cells() -> list[tuple[str, str, str]]:
    out = []
    for paper in runs.RUNNABLE:
        if paper in runs.SPECIAL:
            continue
        for ds in runs.datasets_with_params(paper):
            for prof in runs.profiles(paper, ds):
                out.append((paper, ds, prof))
    return out


CELLS = _cells()
#: the cells that run in a fresh kernel: one per paper, its synthetic corpus on the smoke profile
KERNEL_CELLS = {(p, "synthetic", "smoke") for p, _, _ in CELLS}


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> Path:
    """Every corpus the book knows, small, in its official layout, under ``<tmp>/corpora``."""
    import fcntl

    from sercore import data
    from sercore.data.fixtures import default_root, write_fixtures

    root = default_root()               # in the cache: written once, stamped, reused by later sessions
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / ".matrix.lock", "w") as lock:     # one writer when pytest-xdist runs workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_fixtures(root)
        data.load("synthetic")          # the generated corpus too, before two workers ask for it at once
    return root


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """A randomly initialised 32-dim wav2vec 2.0 (seeded, no download) with the real model's frame rate:
    its convolutions stride 320 samples in all, 50 frames a second at 16 kHz, as wav2vec2-base's do."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=10, num_attention_heads=2, intermediate_size=48,
                         conv_dim=(16, 16, 16, 16), conv_stride=(5, 4, 4, 4), conv_kernel=(10, 8, 8, 8),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="layer",
                         vocab_size=8)
    folder = tmp_path_factory.mktemp("w2v") / "tiny-wav2vec2"
    Wav2Vec2Model(cfg).save_pretrained(folder)
    return str(folder)


def _overrides(paper: str, profile: str, P: dict, encoder: str) -> dict:
    if profile == "smoke":
        return {}
    out = {k: v for k, v in SHRINK[paper].items() if k in P}
    if profile == "quick" and P.get("max_folds") is not None and out.get("max_folds", 0) >= P["max_folds"]:
        out.pop("max_folds")            # a shrink never runs more folds than the profile names
    if P.get("encoder") or paper == "leaderboard" and P["profile"] != "smoke":
        out["encoder"] = encoder        # a tiny local wav2vec 2.0 where a profile fine-tunes one
    return out


def test_each_paper_runs_in_a_kernel_once():
    assert {p for p, _, _ in KERNEL_CELLS} == {p for p, _, _ in CELLS} and KERNEL_CELLS <= set(CELLS)


def test_matrix_covers_every_params_file():
    # _base.yaml and _manifest.yaml are not datasets
    files = sorted(f for f in ROOT.glob("params/*/*.yaml") if not f.stem.startswith("_"))
    covered = {(p, d) for p, d, _ in CELLS}
    missing = [str(f.relative_to(ROOT)) for f in files
               if f.parent.name not in runs.SPECIAL and (f.parent.name, f.stem) not in covered]
    assert not missing, f"params files outside the matrix: {missing}"


@pytest.mark.parametrize("cell", CELLS, ids=["/".join(c) for c in CELLS])
def test_cell(cell, request, tiny_encoder, tmp_path, monkeypatch, capsys, record_property):
    from sercore import cli
    from sercore.results import read_metrics

    paper, ds, profile = cell
    P = runs.resolve(paper, ds, profile)
    corpora = request.getfixturevalue("corpora")
    if P["corpus"] == "synthetic":          # generated, not read from the data root
        corpora = tmp_path / "corpora"
        corpora.mkdir()
    sets = _overrides(paper, profile, P, tiny_encoder)
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(corpora.parent)                   # --data-root as a user types it: relative
    argv = ["run", paper, "--dataset", ds, "--profile", profile, "--data-root", corpora.name]
    if cell not in KERNEL_CELLS:
        argv.append("--in-process")
    for k, v in sets.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    t0 = time.time()
    rc = cli.main(argv)
    record_property("matrix_seconds", round(time.time() - t0, 1))     # tests/conftest.py prints the matrix
    err = capsys.readouterr().err
    assert rc == 0, f"sercore {' '.join(argv)} exited {rc}: {err[-2000:]}"

    out = tmp_path / "results" / paper / ds / profile
    m = read_metrics(out / "metrics.json")
    assert m["synthetic"] == (P["corpus"] == "synthetic")
    for k in ("wa", "ua", "macro_f1"):
        assert m["metrics"][k] is not None and 0 <= m["metrics"][k] <= 100
    if paper == "leaderboard":          # no paper: every method on the board, each with its folds and seeds
        board = m["extra"]["leaderboard"]
        assert board and all(r["method"] for r in board), board
    else:   # the comparisons hold rows of the paper's tables, measured beside a reported number
        rows = [c for c in m["comparisons"] if c["reported"] is not None and c["measured"] is not None]
        assert rows, f"{paper}/{ds}/{profile}: no comparison row with both a reported and a measured number"
    if m["synthetic"]:                                  # never presented as comparable with the paper
        assert not any(c["comparable"] for c in m["comparisons"]), m["scope"]
    if not m["scope"]["complete"]:   # fewer folds than the protocol: only a row tested on its own whole test
        # set (a cross-language row: every utterance of the target corpus) may be comparable, and a count
        # (parameters), which stands on no test set and is checked equal / not equal
        assert not any(c["comparable"] for c in m["comparisons"]
                       if not (c.get("test_set") or {}).get("complete") and c["metric"] not in CHECK_METRICS), m["scope"]
        assert all(c["verdict"] in ("equal", "not equal") or c["verdict"].startswith("not comparable")
                   for c in m["comparisons"] if c["metric"] in CHECK_METRICS)

    # test sets are whole: the run's test folds are the protocol's, on the whole corpus
    full_P = {**P, **sets, "data_root": str(corpora)}
    whole = experiment.prepare(P["corpus"], label_map=P["label_map"], data_root=str(corpora),
                               languages=P.get("languages"))
    expected = experiment.folds(whole.manifest, {**full_P, "n_per_class": None})
    ran = m["protocol"]["folds"]
    assert [f["sizes"]["test"] for f in ran] == [len(f.test) for f in expected[:len(ran)]]
    every = experiment.folds(whole.manifest, {**full_P, "n_per_class": None, "max_folds": None})
    assert m["protocol"]["n_folds_total"] == len(every)        # every fold is built, and fit to measure
    if profile in ("paper", "reference") and "max_folds" not in sets:
        assert len(ran) == len(every) and m["scope"]["complete"], "a paper-scale run skipped folds"
