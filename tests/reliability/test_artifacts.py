"""Every artifact is bound to what made it: a feature-cache entry to its input and settings, the corpus
fingerprint to the files' contents, a checkpoint's config to its weights (one manifest), a record's headline
to its own test predictions, an exported number to a numeric value. A swap, an edit or a value of the wrong
type is a clear error naming the file (or, for the cache, a warning and a correct recomputation); never a
silent change of a number."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sercore import cli, records, results, runs
from sercore.features import FeatureCache, extract, get_extractor
from sercore.models.ca_ser import CASER, CASERConfig
from sercore.paths import file_sha256, project_root
from sercore.predict import CheckpointError, load_checkpoint, predict, save_checkpoint

ROOT = project_root()
TINY = dict(lstm_hidden=8, lstm_layers=1, d_model=16, sa_layers=1, sa_heads=2, sa_ff=32, ca_heads=2,
            ca_dim=16, ffn_dim=32, dropout=0.0)
LABELS = ["neutral", "happy", "sad", "angry"]


def _wav(path: Path, seconds=0.6, sr=16000, f0=220.0, seed=0) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sr, subtype="PCM_16")
    return path


# ============================================================================ feature cache

def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name(a.name + ".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


@pytest.mark.parametrize("what", ["array and sidecar", "array and sidecar, sidecar keys edited"])
def test_swapped_cache_entries_of_the_same_shape_are_recomputed_not_served(tmp_path, what):
    rows = [{"utt_id": f"u{i}", "path": str(_wav(tmp_path / f"u{i}.wav", f0=200.0 + 150 * i, seed=i))}
            for i in range(2)]
    store = FeatureCache(tmp_path / "cache")
    ext = get_extractor("mfcc")
    good = extract(rows, ext, cache=store, progress=False)
    assert good[0].shape == good[1].shape and not np.array_equal(good[0], good[1])
    k0, k1 = (ext.key(r) for r in rows)
    side0 = json.loads(store.sidecar("mfcc", k0).read_text())
    assert side0["key"] == k0 and side0["made_of"]["input"]["sha1"] and len(side0["input_sha256"]) == 64
    _swap(store.path("mfcc", k0), store.path("mfcc", k1))
    _swap(store.sidecar("mfcc", k0), store.sidecar("mfcc", k1))
    if "edited" in what:              # the keys in the sidecars put back: what they record no longer hashes to it
        for k in (k0, k1):
            s = json.loads(store.sidecar("mfcc", k).read_text())
            store.sidecar("mfcc", k).write_text(json.dumps({**s, "key": k}))
    with pytest.warns(UserWarning, match="feature cache entry mfcc/.* is damaged") as rec:
        again = extract(rows, ext, cache=store, progress=False)
    assert re.search("another input or settings|do not hash to its key", " ".join(str(w.message) for w in rec))
    assert again.stats.misses == 2 and again.stats.hits == 0
    for a, b in zip(again, good):
        np.testing.assert_array_equal(a, b)                        # the correct result, not the swapped one


def test_a_cache_entry_written_before_binding_is_bound_on_first_read(tmp_path):
    rows = [{"utt_id": "u0", "path": str(_wav(tmp_path / "u0.wav"))}]
    store = FeatureCache(tmp_path / "cache")
    ext = get_extractor("mfcc")
    extract(rows, ext, cache=store, progress=False)
    key = ext.key(rows[0])
    side = store.sidecar("mfcc", key)
    old = {k: v for k, v in json.loads(side.read_text()).items() if k in ("format", "sha256", "bytes", "shape", "dtype")}
    side.write_text(json.dumps(old))                              # as the earlier sercore wrote it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert extract(rows, ext, cache=store, progress=False).stats.hits == 1
    assert json.loads(side.read_text())["key"] == key


def test_a_cache_that_cannot_be_written_warns_once_and_the_run_goes_on(tmp_path, monkeypatch):
    import errno

    from sercore.features import cache as C

    rows = [{"utt_id": f"u{i}", "path": str(_wav(tmp_path / f"u{i}.wav", seed=i))} for i in range(2)]

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "cache" / "x.tmp"))
    monkeypatch.setattr(C, "atomic_write", full)
    monkeypatch.setattr(C, "_WARNED", set())
    with pytest.warns(UserWarning, match="cannot be written .No space left on device") as rec:
        out = extract(rows, get_extractor("mfcc"), cache=FeatureCache(tmp_path / "cache"), progress=False)
    assert len(out) == 2 and out.stats.misses == 2 and len(rec) == 1


# ============================================================================ corpus fingerprint

def test_swapped_file_contents_change_the_corpus_fingerprint(tmp_path, monkeypatch):
    """Two files of the same size whose contents are swapped, their times set back: a new fingerprint
    (and a new Corpus.version); a corpus read before is not read again."""
    from sercore import digests, experiment

    monkeypatch.setenv("SERCORE_CACHE", str(tmp_path / "cache"))
    wav = tmp_path / "data/emodb/wav"
    a, b = _wav(wav / "03a01Fa.wav", f0=200.0), _wav(wav / "03a01Wa.wav", f0=300.0)
    assert a.stat().st_size == b.stat().st_size
    runs.runkey._CORPUS_MEMO.clear()
    first = runs.corpus_fingerprint("emodb", tmp_path / "data")
    corpus = experiment.prepare("emodb", label_map="emodb7", data_root=str(tmp_path / "data"))
    v1 = corpus.version()

    reads = []
    real = digests.sha256_file
    monkeypatch.setattr(digests, "sha256_file", lambda p: reads.append(p) or real(p))
    runs.runkey._CORPUS_MEMO.clear()
    assert runs.corpus_fingerprint("emodb", tmp_path / "data") == first and reads == []   # remembered

    times = [(p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in (a, b)]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    for p, (at, mt) in zip((a, b), times):
        os.utime(p, ns=(at, mt))
    assert [p.stat().st_mtime_ns for p in (a, b)] == [t[1] for t in times]
    runs.runkey._CORPUS_MEMO.clear()
    second = runs.corpus_fingerprint("emodb", tmp_path / "data")
    assert second["sha256"] != first["sha256"] and (second["files"], second["bytes"]) == (first["files"], first["bytes"])
    assert len(reads) == 2                                       # only the two changed files were read
    assert corpus.version() != v1


# ============================================================================ checkpoints

@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, tiny_wav2vec2):
    """Two frozen checkpoints of the same model (two runs) and one good audio file."""
    from sercore.chapters import ca_ser as chapter

    root = tmp_path_factory.mktemp("artifact_ck")
    w2v = tiny_wav2vec2(root / "w2v", layers=3)
    fc = chapter.feature_config({"mode": "frozen", "encoder": w2v, "ssl_layer": 2, "max_s": 1.0, "min_s": 0.5})
    out = {"root": root, "wav": str(_wav(root / "good.wav", 0.8)), "fc": fc}
    for i in range(2):
        torch.manual_seed(i)
        out[f"run{i}"] = save_checkpoint(CASER(CASERConfig(ssl_dim=32, n_classes=4, **TINY)).eval(),
                                         root / f"run{i}", LABELS, fc, encoder=fc["encoder"])
    return out


def _edit(folder: Path, change) -> None:
    meta = json.loads((folder / "config.json").read_text())
    change(meta)
    (folder / "config.json").write_text(json.dumps(meta))


def _with_checksums(folder: Path) -> None:
    """What a careful forger does after a change: config.json's weights checksum and the manifest's file
    digests updated to the files as they are now."""
    _edit(folder, lambda m: m.update(weights_sha256=file_sha256(folder / "model.safetensors"),
                                     weights_bytes=(folder / "model.safetensors").stat().st_size))
    man = json.loads((folder / "manifest.json").read_text())
    man["files"] = {n: file_sha256(folder / n) for n in man["files"]}
    (folder / "manifest.json").write_text(json.dumps(man))


def _set(path: str, value):
    def change(m):
        obj = m
        *keys, last = path.split(".")
        for k in keys:
            obj = obj[k]
        obj[last] = value
    return change


def _other_runs_weights(ck):
    def damage(folder):
        shutil.copy2(ck["run1"] / "model.safetensors", folder / "model.safetensors")
        _edit(folder, lambda m: m.update(weights_sha256=file_sha256(folder / "model.safetensors")))
    return damage


def _other_runs_weights_all_checksums(ck):
    def damage(folder):
        shutil.copy2(ck["run1"] / "model.safetensors", folder / "model.safetensors")
        _with_checksums(folder)
    return damage


def _bound_edit(change):
    """A change to config.json with config.json's and the manifest's checksums updated too."""
    def damage(folder):
        _edit(folder, change)
        _with_checksums(folder)
    return damage


#: case -> (damage(folder), what the one-line error must say)
BINDING = {
    "labels reversed": (_bound_edit(_set("labels", LABELS[::-1])), "its labels changed"),
    "labels permuted": (_bound_edit(_set("labels", ["happy", "neutral", "sad", "angry"])), "its labels changed"),
    "a label renamed": (_bound_edit(_set("labels", ["calm", "happy", "sad", "angry"])), "its labels changed"),
    "labels changed, checksums not": (lambda f: _edit(f, _set("labels", LABELS[::-1])), "its labels changed"),
    "sample rate": (_bound_edit(lambda m: [m["features"]["mfcc"].update(sr=8000),
                                           m["features"]["ssl"]["config"].update(sr=8000)]),
                    "its features.mfcc, features.ssl changed"),
    "hop length": (_bound_edit(_set("features.mfcc.hop_length", 320)), "its features.mfcc changed"),
    "n_fft": (_bound_edit(_set("features.mfcc.n_fft", 512)), "its features.mfcc changed"),
    "n_mels": (_bound_edit(_set("features.mfcc.n_mels", 64)), "its features.mfcc changed"),
    "normalisation": (_bound_edit(_set("model_config.mfcc_norm", "none")), "its model_config changed"),
    "encoder layer": (_bound_edit(_set("features.ssl.config.layer", 1)), "its features.ssl changed"),
    "weights of another run, config checksum updated": (None, "weights in model.safetensors belong to another "
                                                              "checkpoint"),
    "weights of another run, every checksum updated": (None, "weights in model.safetensors belong to another "
                                                             "checkpoint"),
    "n_mfcc of the features only": (_bound_edit(_set("features.mfcc.n_mfcc", 20)),
                                    r"features.mfcc.n_mfcc is 20 but the model takes model_config.n_mfcc 40"),
    "max_s negative": (_bound_edit(_set("features.mfcc.max_s", -1.0)), r"features.mfcc.max_s is -1.0; a positive"),
    "max_s under one window": (_bound_edit(lambda m: [m["features"]["mfcc"].update(max_s=0.001, min_s=None),
                                                      m["features"]["ssl"]["config"].update(max_s=0.001, min_s=None)]),
                               r"features.mfcc.max_s is 0.001; at least 0.025 s"),
    "min_s above max_s": (_bound_edit(_set("features.ssl.config.min_s", 5.0)), "min_s 5.0 is above max_s 1.0"),
    "sample rate of 1 Hz": (_bound_edit(_set("features.mfcc.sr", 1)), r"features.mfcc.sr is 1; a sample rate"),
    "branches at two rates": (_bound_edit(_set("features.mfcc.sr", 8000)), "two branches read audio at different"),
    "an unbound entry edited": (lambda f: _edit(f, _set("extra", {"note": "edited"})),
                                "config.json does not match manifest.json"),
    "manifest missing": (lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
    "manifest not JSON": (lambda f: (f / "manifest.json").write_text("{"), "manifest.json is not valid JSON"),
    "manifest of another checkpoint": (None, "manifest.json is of checkpoint"),
    "weights metadata of another config": (None, "does not match the weights it came with"),
}


@pytest.mark.parametrize("case", list(BINDING))
def test_a_checkpoint_whose_parts_do_not_belong_together_is_refused(case, ckpts, tmp_path, capsys):
    damage, why = BINDING[case]
    folder = Path(shutil.copytree(ckpts["run0"], tmp_path / "ck"))
    if case == "weights of another run, config checksum updated":
        damage = _other_runs_weights(ckpts)
    elif case == "weights of another run, every checksum updated":
        damage = _other_runs_weights_all_checksums(ckpts)
    elif case == "manifest of another checkpoint":
        def damage(f):
            shutil.copy2(ckpts["run1"] / "manifest.json", f / "manifest.json")
    elif case == "weights metadata of another config":
        def damage(f):                           # the forger rewrote the weights with this id, not the binding
            from safetensors.torch import load_file, save_file
            meta = json.loads((f / "config.json").read_text())
            save_file(load_file(str(f / "model.safetensors")), str(f / "model.safetensors"),
                      metadata={"sercore_checkpoint_id": meta["checkpoint_id"], "sercore_bound_sha256": "0" * 64})
            _with_checksums(f)
    damage(folder)
    with pytest.raises(CheckpointError, match=why) as e:
        load_checkpoint(folder)
    assert str(e.value).startswith(f"checkpoint {folder}: ") and "\n" not in str(e.value)
    assert cli.main(["predict", ckpts["wav"], "--checkpoint", str(folder), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: checkpoint {folder}: ") and err.count("\n") == 1


def test_an_untouched_checkpoint_predicts_and_is_written_in_one_step(ckpts, tmp_path):
    p = predict(ckpts["wav"], ckpts["run0"])
    assert p[0]["label"] in LABELS
    names = sorted(x.name for x in ckpts["run0"].iterdir())
    assert names == ["config.json", "manifest.json", "model.safetensors"]
    assert not [x for x in ckpts["root"].iterdir() if x.name.startswith(".")]     # no writing folder left


def test_save_checkpoint_refuses_settings_a_model_cannot_be_fed_with(ckpts, tmp_path):
    fc = json.loads(json.dumps(ckpts["fc"]))
    fc["mfcc"]["max_s"] = 0.0
    fc["ssl"]["config"]["max_s"] = 0.0
    with pytest.raises(CheckpointError, match="features.mfcc.max_s is 0.0; a positive value"):
        save_checkpoint(CASER(CASERConfig(ssl_dim=32, n_classes=4, **TINY)), tmp_path / "bad", LABELS, fc)
    assert not (tmp_path / "bad").exists()


# ============================================================================ records

def _copy_record(src: str, dest_root: Path) -> Path:
    rel = Path(src)
    dest = dest_root / rel
    shutil.copytree(ROOT / "records" / rel, dest)
    return dest


def _rehash(folder: Path) -> None:
    """provenance.json's file checksums updated to the files as they are now (a careful edit)."""
    prov = json.loads((folder / "provenance.json").read_text())
    prov["files"] = {n: file_sha256(folder / n) for n in prov["files"]}
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2))


def _edit_metrics(folder: Path, change) -> None:
    m = json.loads((folder / "metrics.json").read_text())
    change(m)
    (folder / "metrics.json").write_text(json.dumps(m))
    _rehash(folder)


def _wa_and_interval(m):
    m["metrics"]["wa"] = 93.13
    m["intervals"]["wa"].update(estimate=93.13, low=90.0, high=95.0)


def _flip_predictions(folder: Path) -> None:
    f = folder / "test_predictions.csv"
    lines = f.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    fixed = []
    for i, row in enumerate(rows):
        parts = row.split(",")
        if i < 40:
            parts[-1] = parts[-2]                           # y_pred := y_true: a better headline than recorded
        fixed.append(",".join(parts))
    f.write_text("\n".join([head, *fixed]) + "\n")
    _rehash(folder)


def _published(with_intervals: bool = True) -> str:
    """A record of this repository to tamper with (whichever records/ holds now): one that keeps its 95% intervals
    and its test predictions (test_predictions.csv)."""
    for d in sorted((ROOT / "records").glob("*/*/*/seed-*")):
        m = json.loads((d / "metrics.json").read_text())
        if m.get("intervals") and (d / "test_predictions.csv").is_file():
            return str(d.relative_to(ROOT / "records"))
    pytest.fail("records/ holds no record with intervals and test predictions to tamper with")


def _older_than_intervals(folder: Path) -> None:
    """Turn a copied record into one made before intervals were kept: no ``intervals``, and its headline model's
    test predictions as the old predictions.csv (variant, fold, row, y_true, y_pred by label name)."""
    import pandas as pd

    m = json.loads((folder / "metrics.json").read_text())
    labels = m["confusion"]["labels"]
    df = pd.read_csv(folder / "test_predictions.csv", dtype={"fold": str})
    df = df[df["method"] == (m["extra"]["predictions"].get("headline_method") or m["paper"])]
    pd.DataFrame({"variant": "proposed", "fold": df["fold"], "row": df["row"],
                  "y_true": [labels[i] for i in df["y_true"]], "y_pred": [labels[i] for i in df["y_pred"]]}
                 ).to_csv(folder / "predictions.csv", index=False)
    (folder / "test_predictions.csv").unlink()
    m.pop("intervals"), m["extra"].pop("predictions")
    (folder / "metrics.json").write_text(json.dumps(m))
    prov = json.loads((folder / "provenance.json").read_text())
    prov["files"] = {("predictions.csv" if n == "test_predictions.csv" else n): "" for n in prov["files"]}
    (folder / "provenance.json").write_text(json.dumps(prov))
    _rehash(folder)


def _headline(folder: Path, key: str) -> str:
    return f"{json.loads((folder / 'metrics.json').read_text())['metrics'][key]:.2f}"


#: case -> (prepare the copied record or None, tamper, the message expected given the record before tampering)
RECORD_TAMPER = {
    "WA edited, checksum updated": (None, lambda f: _edit_metrics(f, lambda m: m["metrics"].update(wa=93.13)),
                                    lambda f: "metrics.wa 93.13 is not the estimate of its own 95% interval"),
    "WA and its interval edited": (None, lambda f: _edit_metrics(f, _wa_and_interval),
                                   lambda f: f"says WA 93.13 but its test_predictions.csv gives {_headline(f, 'wa')}"),
    "UA of a record without intervals": (_older_than_intervals, lambda f: _edit_metrics(
        f, lambda m: m["metrics"].update(ua=99.5)), lambda f: f"says UA 99.50 but its predictions.csv gives {_headline(f, 'ua')}"),
    "predictions edited": (None, _flip_predictions, lambda f: "but its test_predictions.csv gives"),
    "a string for WA": (None, lambda f: _edit_metrics(f, lambda m: m["metrics"].update(wa="lots")),
                        lambda f: "metrics.wa must be a finite percentage, got 'lots'"),
    "a string for a measured value": (None, lambda f: _edit_metrics(
        f, lambda m: m["comparisons"][0].update(measured="lots")),
        lambda f: r"comparisons\[0\].measured must be a finite number"),
    "started not a date": (None, lambda f: _edit_metrics(f, lambda m: m.update(started="yesterday")),
                           lambda f: "started must be an ISO date"),
}


@pytest.mark.parametrize("case", list(RECORD_TAMPER))
def test_a_tampered_record_is_an_error_naming_it(case, tmp_path, monkeypatch, capsys):
    prepare, tamper, why = RECORD_TAMPER[case]
    rec = _copy_record(_published(), tmp_path / "records")
    if prepare:
        prepare(rec)
    records.check_record(rec)                                       # sound as published
    why = why(rec)
    tamper(rec)
    with pytest.raises(records.RecordError, match=why) as e:
        records.check_record(rec)
    assert str(rec) in str(e.value) and "\n" not in str(e.value)
    # records --check: one line for it, a non-zero exit, no traceback
    monkeypatch.setenv("SERCORE_RECORDS", str(tmp_path / "records"))
    assert records.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert f"{rec}: INVALID: " in out and "1 problem(s)" in out
    # the book: one line naming the record, exit 1 (nothing is built)
    import sercore.book as B
    monkeypatch.setattr(B, "_run_or_reuse", lambda *a, **k: "reused")
    monkeypatch.setattr(B, "project_root", lambda: tmp_path / "root")
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    assert cli.main(["book"]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and str(rec) in lines[0] and "Traceback" not in err


def test_the_book_with_a_string_in_a_results_metrics_json_goes_on_and_shows_the_record(tmp_path, monkeypatch, capsys):
    """A run in results/ whose metrics.json holds a string (and a date that is not one) is no fresher result
    than the record of the same cell: no traceback, the record's page is staged."""
    import nbformat

    import sercore.book as B

    src = _published()
    paper, dataset, profile = Path(src).parts[:3]
    _copy_record(src, tmp_path / "records")
    res = tmp_path / "results" / paper / dataset / profile
    res.mkdir(parents=True)
    m = json.loads((ROOT / "records" / src / "metrics.json").read_text())
    m["metrics"]["wa"], m["started"] = "lots", "soon"
    (res / "metrics.json").write_text(json.dumps(m))
    nbformat.write(nbformat.v4.new_notebook(), res / f"{paper}.ipynb")
    monkeypatch.setenv("SERCORE_RECORDS", str(tmp_path / "records"))
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    assert records.fresher_result((paper, dataset, profile),
                                  records.published_cells(tmp_path / "records")[(paper, dataset, profile)],
                                  tmp_path / "results") is None
    staged = B.stage_book(tmp_path / "root", tmp_path / "results")
    assert any(p.name == f"{dataset}-{profile}-published.ipynb" for p in staged)
    assert "Traceback" not in capsys.readouterr().err


def test_records_check_fails_on_a_commit_not_in_the_history(tmp_path, monkeypatch, capsys):
    rec = _copy_record(_published(), tmp_path / "records")
    prov = json.loads((rec / "provenance.json").read_text())
    prov["commit"] = "f" * 40
    (rec / "provenance.json").write_text(json.dumps(prov))
    monkeypatch.setenv("SERCORE_RECORDS", str(tmp_path / "records"))
    assert records.main(["--check"]) == 1
    assert f"{rec}: INVALID: commit {'f' * 40} is not in the history" in capsys.readouterr().out
    assert records.main(["--check"]) == 1


def test_records_check_of_sound_records_exits_0_and_bad_arguments_2(tmp_path, monkeypatch, capsys):
    _copy_record(_published(), tmp_path / "records")
    monkeypatch.setenv("SERCORE_RECORDS", str(tmp_path / "records"))
    assert records.main(["--check"]) == 0
    assert "1 record(s) checked, 0 problem(s)" in capsys.readouterr().out
    assert records.main([]) == 2
    assert records.main([str(tmp_path / "no-such-run")]) == 1
    err = capsys.readouterr().err
    assert "no-such-run: not a finished run" in err and "Traceback" not in err


def test_records_cli_never_shows_a_traceback(tmp_path):
    bad = tmp_path / "records/ctmam/emodb/reference/seed-0"
    bad.mkdir(parents=True)
    (bad / "provenance.json").write_text("[1, 2]")
    proc = subprocess.run([sys.executable, "-m", "sercore.records", "--check"], capture_output=True, text=True,
                          env={**os.environ, "SERCORE_RECORDS": str(tmp_path / "records"),
                               "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert f"{bad}: INVALID: " in proc.stdout


# ============================================================================ metrics.json and export

def _run_with(tmp_path, fast_runs, project, change=None) -> Path:
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=tmp_path / "res")
    if change:
        m = json.loads((out / "metrics.json").read_text())
        change(m)
        (out / "metrics.json").write_text(json.dumps(m))
    return out


METRIC_TAMPER = {
    "a string measured value": (lambda m: m["comparisons"].append(
        {"table": "T", "row": "R", "metric": "wa", "reported": 1.0, "measured": "lots", "note": "",
         "interval": None, "inside": None, "verdict": None}), r"comparisons\[0\].measured: expected a number or null, "
                                                             r"got 'lots'"),
    "a string WA": (lambda m: m["metrics"].update(wa="93.1"), "metrics.wa: expected a number or null, got '93.1'"),
    "a string in the confusion matrix": (lambda m: m["confusion"]["matrix"][0].__setitem__(0, "x"),
                                         r"confusion.matrix\[0\]\[0\]: expected a number"),
    "a list for per_class": (lambda m: m.update(per_class=[1, 2]), "per_class: expected dict"),
    "a string interval bound": (lambda m: m["intervals"].update(
        wa={"estimate": 50.0, "low": "a", "high": 60.0, "confidence": 0.95, "method": "x", "n": 2, "folds": 1,
            "seeds": 1, "n_resamples": 10}), r"intervals.wa.low: expected a number"),
}


@pytest.mark.parametrize("case", list(METRIC_TAMPER))
def test_a_metrics_json_with_a_value_of_the_wrong_type_is_named_never_exported(case, tmp_path, fast_runs, project,
                                                                               capsys):
    change, why = METRIC_TAMPER[case]
    out = _run_with(tmp_path, fast_runs, project, change)
    with pytest.raises(results.MetricsError, match=why):
        results.read_metrics(out / "metrics.json")
    assert cli.main(["results", "export", str(tmp_path / "x.csv"), "--results", str(tmp_path / "res")]) == 1
    err = capsys.readouterr().err
    assert str(out / "metrics.json") in err and "Traceback" not in err and not (tmp_path / "x.csv").exists()
    assert cli.main(["results", "export", str(tmp_path / "x.csv"), "--results", str(tmp_path / "res"),
                     "--skip-invalid"]) == 0
    assert "left out 1 invalid run(s)" in capsys.readouterr().err
    assert "lots" not in (tmp_path / "x.csv").read_text()


class _Toy:
    synthetic, note = True, None

    def record(self):
        return {"name": "toy"}


@pytest.mark.parametrize("tamper, why", [
    (lambda t: t.replace("random,1,0,1", "random,1,0,0"), "its headline .* is not what its test_predictions.csv gives"),
    (lambda t: t.replace("random,1,0,1", "random,1,0,x"), "not whole numbers"),
    (lambda t: t.replace("random,1,0,1", "random,1,0,7"), r"class indices outside 0..1"),
    (lambda t: "garbage\n", "lacks the columns"),
], ids=["a prediction changed", "a prediction not a number", "a class that does not exist", "not the format"])
def test_export_refuses_predictions_that_do_not_give_the_headline(tmp_path, capsys, tamper, why):
    import pandas as pd

    from sercore.metrics import classification_report

    y_true, y_pred = [0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 0, 0]
    rep = classification_report(y_true, y_pred, ["a", "b"])
    pred = pd.DataFrame({"method": "ctmam", "seed": 0, "fold": "random", "row": range(6), "y_true": y_true,
                         "y_pred": y_pred})
    out = tmp_path / "res/ctmam/synthetic/smoke"
    P = {"paper": "ctmam", "dataset": "synthetic", "profile": "smoke", "seed": 0, "results_dir": str(out)}
    results.Run(P).write(results.ChapterResult({"name": "random"}, rep["metrics"], rep["per_class"], rep["confusion"],
                                               predictions=pred), corpus=_Toy())
    assert cli.main(["results", "export", str(tmp_path / "ok.csv"), "--results", str(tmp_path / "res")]) == 0
    f = out / "test_predictions.csv"
    f.write_text(tamper(f.read_text()))
    assert cli.main(["results", "export", str(tmp_path / "x.csv"), "--results", str(tmp_path / "res")]) == 1
    err = capsys.readouterr().err
    assert re.search(why, err) and str(out / "metrics.json") in err and "Traceback" not in err
