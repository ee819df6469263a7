"""Published runs: runs too long for ``make book``, kept in ``records/`` with their provenance.

Layout: ``records/<paper>/<dataset>/<profile>/seed-<s>/`` holds what a finished run wrote
(``metrics.json``, the executed ``<paper>.ipynb``, ``run.log``, ``config.json``, the prediction files)
and ``provenance.json``:

``schema``            1
``paper``, ``dataset``, ``profile``, ``seed``   the cell and seed
``commit``            the 40-hex commit the run's code was (a run from a tree with uncommitted changes is
                      refused: its code could not be checked out again)
``command``           the ``sercore run`` command that made it; ``reproduce``: the one command that
                      makes it again from a checkout of ``commit``
``device``, ``wall_time_s``, ``started``, ``recorded``   (``wall_time_s``: the run's ``runtime_s``, or, when
                      its training epochs took longer, their seconds summed over its folds' histories: a run
                      resumed from checkpoints reports only its last process as ``runtime_s``)
``corpus_fingerprint`` :meth:`sercore.experiment.Corpus.version` of the data it read
``corpus_copy``        which copy of the corpus that was, in words (:func:`corpus_copy`)
``params``            the run's resolved parameters (without the paths of the machine it ran on)
``files``             ``{name: sha256}`` of every other file of the record

:func:`record_run` copies a finished results folder into ``records/``; :func:`check_record` checks a
record's schema and files; :func:`commit_exists` that its commit is in the history;
:func:`stale_params` what differs from what ``params/`` resolves to now. The book reads records
through :func:`published_cells` (pages rendered from the records' data: :mod:`sercore.record_page`, :func:`sercore.book.stage_published`), :func:`with_published` (the
scoreboard) and :func:`three_columns` (each chapter: the paper's number, the published runs'
mean ± std over seeds, this build's run).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from .paths import file_sha256, project_root, records_dir, results_dir

SCHEMA_VERSION = 1
#: parameters that say where a run read and wrote on its machine, not what it computed
MACHINE_KEYS = ("data_root", "results_dir", "skip_bad")
#: files a record must hold besides provenance.json ({paper} is the paper key)
REQUIRED_FILES = ("metrics.json", "{paper}.ipynb")
#: files copied when the results folder has them
OPTIONAL_FILES = ("run.log", "config.json", "predictions.csv", "test_predictions.csv")
#: provenance.json: key -> type(s)
PROVENANCE = {"schema": int, "paper": str, "dataset": str, "profile": str, "seed": int, "commit": str,
              "command": str, "reproduce": str, "device": str, "wall_time_s": (int, float), "started": str,
              "recorded": str, "corpus_fingerprint": str, "params": dict, "files": dict}
#: provenance.json keys added since schema 1 (a record made before lacks them): key -> type
PROVENANCE_OPTIONAL = {"corpus_copy": str}
_SHA = re.compile(r"^[0-9a-f]{40}$")


class RecordError(ValueError):
    """A record (or a results folder to record) is not valid; the message names the folder and what is wrong."""


#: what a record's metrics.json must hold: the contract of every sercore version (docs/contracts.md; a record
#: made at an older commit lacks keys added since, e.g. intervals; the book reads those as absent)
METRICS_KEYS = ("paper", "dataset", "profile", "protocol", "synthetic", "seed", "git_sha", "started",
                "runtime_s", "device", "metrics", "comparisons")


def read_record_metrics(path: str | os.PathLike) -> dict:
    """A record's ``metrics.json``, checked against :data:`METRICS_KEYS`: WA and UA finite percentages,
    comparison rows with table, row, metric, reported and measured. Raises :class:`RecordError`."""
    import math

    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RecordError(f"{path}: cannot be read as JSON ({e})") from None
    if not isinstance(d, dict):
        raise RecordError(f"{path}: expected a JSON object, got {type(d).__name__}")
    miss = [k for k in METRICS_KEYS if k not in d]
    if miss:
        raise RecordError(f"{path}: missing key(s) {miss}")
    for k, tp in (("metrics", dict), ("comparisons", list), ("protocol", dict), ("started", str), ("device", str),
                  ("paper", str), ("dataset", str), ("profile", str)):
        if not isinstance(d[k], tp):
            raise RecordError(f"{path}: {k} must be a {tp.__name__}, got {_short(d[k])}")
    if isinstance(d["seed"], bool) or not isinstance(d["seed"], int):
        raise RecordError(f"{path}: seed must be an integer, got {_short(d['seed'])}")
    if isinstance(d["runtime_s"], bool) or not isinstance(d["runtime_s"], (int, float)):
        raise RecordError(f"{path}: runtime_s must be a number of seconds, got {_short(d['runtime_s'])}")
    try:
        datetime.fromisoformat(d["started"])
    except ValueError:
        raise RecordError(f"{path}: started must be an ISO date and time, got {_short(d['started'])}") from None
    for k in ("wa", "ua", "macro_f1", "weighted_f1"):
        v = d["metrics"].get(k)
        if v is None and k not in ("wa", "ua"):
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 100:
            raise RecordError(f"{path}: metrics.{k} must be a finite percentage, got {_short(v)}")
    for i, c in enumerate(d["comparisons"]):
        if not isinstance(c, dict):
            raise RecordError(f"{path}: comparisons[{i}] must be a mapping, got {_short(c)}")
        miss = [k for k in ("table", "row", "metric", "reported", "measured") if k not in c]
        if miss:
            raise RecordError(f"{path}: comparisons[{i}] misses {miss}")
        for k in ("reported", "measured"):
            v = c[k]
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise RecordError(f"{path}: comparisons[{i}].{k} must be a finite number or null, got {_short(v)}")
    intervals = d.get("intervals") or {}
    if not isinstance(intervals, dict):
        raise RecordError(f"{path}: intervals must be a mapping, got {_short(intervals)}")
    for k, iv in intervals.items():
        head = d["metrics"].get(k)
        try:
            est, lo, hi = (float(iv[x]) for x in ("estimate", "low", "high"))
        except (KeyError, TypeError, ValueError):
            raise RecordError(f"{path}: intervals.{k} must hold the numbers estimate, low and high") from None
        if head is not None and (abs(est - float(head)) > 1e-6 * max(1.0, abs(float(head))) or not lo <= est <= hi):
            raise RecordError(f"{path}: the headline metrics.{k} {float(head):.2f} is not the estimate of its own "
                              f"95% interval ({est:.2f} in [{lo:.2f}, {hi:.2f}]): the headline or the interval was "
                              "changed after the run")
    return d


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


#: how far a recorded headline may be from the one its predictions give (percentage points; float sums)
HEADLINE_TOLERANCE = 1e-4


def _record_predictions(folder: Path, metrics: dict):
    """``(y_true, y_pred, fold, n_classes, file name)`` of the headline model's test predictions a record
    keeps (``test_predictions.csv`` named in ``extra.predictions``; else a chapter's own
    ``predictions.csv``, its first variant being the headline), or None when it keeps none."""
    import numpy as np
    import pandas as pd

    labels = list((metrics.get("confusion") or {}).get("labels") or [])
    rec = (metrics.get("extra") or {}).get("predictions") if isinstance(metrics.get("extra"), dict) else None
    if isinstance(rec, dict) and rec.get("file"):
        name = str(rec["file"])
        df = pd.read_csv(folder / name, dtype={"fold": str})
        miss = [c for c in ("method", "fold", "row", "y_true", "y_pred") if c not in df.columns]
        if miss:
            raise ValueError(f"{name} lacks the columns {miss}")
        head = rec.get("headline_method") or metrics.get("paper")
        df = df[df["method"] == head]
        if df.empty:
            raise ValueError(f"{name} holds no prediction of the headline method {head!r}")
        if "seed" in df.columns and df["seed"].nunique() > 1:
            df = df[df["seed"] == df["seed"].iloc[0]]
        y_true, y_pred = (pd.to_numeric(df[c], errors="raise").to_numpy() for c in ("y_true", "y_pred"))
        if not all(np.equal(np.mod(y, 1), 0).all() for y in (y_true, y_pred)):
            raise ValueError(f"{name}: y_true and y_pred must be class indices")
        return y_true.astype(int), y_pred.astype(int), df["fold"].astype(str).to_numpy(), len(labels), name
    if (folder / "predictions.csv").is_file():
        df = pd.read_csv(folder / "predictions.csv", dtype={"fold": str})
        miss = [c for c in ("fold", "y_true", "y_pred") if c not in df.columns]
        if miss:
            raise ValueError(f"predictions.csv lacks the columns {miss}")
        if "variant" in df.columns:
            df = df[df["variant"] == df["variant"].iloc[0]]
        index = {lab: i for i, lab in enumerate(labels)}
        unknown = sorted((set(df["y_true"].astype(str)) | set(df["y_pred"].astype(str))) - set(index))
        if unknown:
            raise ValueError(f"predictions.csv holds labels {unknown[:5]} that are not the record's "
                             f"confusion.labels {labels}")
        return (df["y_true"].astype(str).map(index).to_numpy(int), df["y_pred"].astype(str).map(index).to_numpy(int),
                df["fold"].astype(str).to_numpy(), len(labels), "predictions.csv")
    return None


def check_headline(folder: str | os.PathLike, metrics: dict) -> None:
    """The record's headline WA, UA and macro F1 computed again from its own test predictions
    (:func:`sercore.stats.point_estimates`: per fold, then the mean over folds); a record whose
    headline is not what its predictions give raises :class:`RecordError` naming it. A record that keeps
    no predictions has nothing to check here."""
    from . import stats

    folder = Path(folder)
    try:
        got = _record_predictions(folder, metrics)
        if got is None:
            return
        y_true, y_pred, fold, n, name = got
        if n < 1 or len(y_true) == 0:
            raise ValueError(f"{name} and confusion.labels give no test prediction to check the headline with")
        keys = [k for k in ("wa", "ua", "macro_f1") if metrics["metrics"].get(k) is not None]
        est = stats.point_estimates(y_true, y_pred, fold, n_classes=n, metrics=keys)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RecordError(f"{folder}: its test predictions cannot be read to check the headline ({e})") from None
    off = [k for k in keys if abs(est[k] - float(metrics["metrics"][k])) > HEADLINE_TOLERANCE]
    if off:
        raise RecordError(f"{folder}: metrics.json says " + ", ".join(f"{k.upper()} {float(metrics['metrics'][k]):.2f}"
                                                                  for k in off)
                          + f" but its {name} gives " + ", ".join(f"{est[k]:.2f}" for k in off)
                          + ": the headline was changed after the run (or the predictions were)")


#: (metrics.json, its mtime, headline, labels, seed) -> (intervals, per-class intervals) derived from a record's predictions
_DERIVED: dict = {}


def _derived(folder: Path, metrics: dict) -> tuple[dict, dict] | None:
    """Every interval a record's test predictions give (:func:`sercore.results.run_intervals`, the way a
    run computes them now): ``(intervals, per_class_intervals)``, or None when the record keeps no
    predictions or they do not give its recorded WA and UA again. Cached per folder, headline and process."""
    f = Path(folder) / "metrics.json"
    key = (str(f.resolve()), f.stat().st_mtime if f.exists() else None, json.dumps(metrics.get("metrics"), sort_keys=True),
           json.dumps((metrics.get("confusion") or {}).get("labels")), metrics.get("seed"))
    if key in _DERIVED:
        return _DERIVED[key]
    import pandas as pd

    from .results import run_intervals

    try:
        got = _record_predictions(Path(folder), metrics)
    except (OSError, ValueError, KeyError) as e:
        raise RecordError(f"{folder}: its test predictions cannot be read to derive intervals ({e})") from None
    out = None
    if got is not None and got[3] > 0 and len(got[0]):
        y_true, y_pred, fold, n, _ = got
        labels = list(metrics["confusion"]["labels"])
        pred = pd.DataFrame({"method": "headline", "seed": int(metrics.get("seed", 0)), "fold": fold,
                             "row": range(len(y_true)), "y_true": y_true, "y_pred": y_pred})
        keys = [k for k in ("wa", "ua", "macro_f1", "weighted_f1") if metrics["metrics"].get(k) is not None]
        ivs, per_class = run_intervals(pred, labels, metrics=keys)
        if all(abs(ivs[k]["estimate"] - float(metrics["metrics"][k])) <= 0.01 for k in ("wa", "ua")):
            for iv in [*ivs.values(), *(v for d in per_class.values() for v in d.values())]:
                iv["method"] += "; derived from the record's test predictions when read"
            out = (ivs, per_class)
    _DERIVED[key] = out
    return out


def derived_intervals(folder: str | os.PathLike, metrics: dict) -> dict | None:
    """A record's 95% intervals of its headline metrics: those its ``metrics.json`` holds, and those it
    predates (all of them, or weighted F1) derived from its test predictions (``test_predictions.csv``, or a
    chapter's own ``predictions.csv``: :func:`_derived`); the record's files are not changed. None when it
    holds none and there is nothing to derive them from."""
    held = dict(metrics.get("intervals") or {})
    want = [k for k in ("wa", "ua", "macro_f1", "weighted_f1") if metrics["metrics"].get(k) is not None]
    if all(k in held for k in want):
        return held or None
    got = _derived(Path(folder), metrics)
    return {**got[0], **held} if got else (held or None)


def derived_per_class_intervals(folder: str | os.PathLike, metrics: dict) -> dict | None:
    """A record's per-class 95% intervals (``{label: {"precision" | "recall" | "f1": interval}}``): those its
    ``metrics.json`` holds, else derived from its test predictions (:func:`_derived`, the same resamples as
    :func:`derived_intervals`'); None when there is nothing to derive them from."""
    if metrics.get("per_class_intervals"):
        return metrics["per_class_intervals"]
    got = _derived(Path(folder), metrics)
    return got[1] if got else None


def with_intervals(folder: str | os.PathLike, metrics: dict) -> dict:
    """A record's ``metrics.json`` dict (a copy) with every interval it holds or its predictions give
    (:func:`derived_intervals`, :func:`derived_per_class_intervals`) and its comparison rows decided again
    with them (:func:`sercore.results.attach_intervals`), so a record made before a kind of interval
    existed is read the way a run made now is."""
    from .results import attach_intervals

    d = dict(metrics)
    d["intervals"] = derived_intervals(folder, d) or {}
    d["per_class_intervals"] = derived_per_class_intervals(folder, d) or {}
    if d["intervals"] or d["per_class_intervals"]:      # else nothing to decide again with: the rows as recorded
        d["comparisons"] = attach_intervals(d["comparisons"], d["metrics"], d["intervals"], bool(d.get("synthetic")),
                                            d.get("paper"), d.get("dataset"),
                                            per_class_intervals=d["per_class_intervals"])
    return d


def commit_exists(sha: str, root: Path | None = None) -> bool:
    """Whether ``sha`` is a commit of the repository at ``root`` (``git cat-file -e <sha>^{commit}``)."""
    if not _SHA.match(str(sha)):
        return False
    proc = subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=root or project_root(),
                          capture_output=True)
    return proc.returncode == 0


def machine_free(params: dict) -> dict:
    """``params`` without :data:`MACHINE_KEYS` (what the run computed, not where it ran)."""
    return {k: v for k, v in params.items() if k not in MACHINE_KEYS}


def run_command(paper: str, dataset: str, profile: str, seed: int, sets: Sequence[str] = ()) -> str:
    """``sercore run`` for one cell and seed, with ``--set KEY=VALUE`` for each of ``sets`` (shell-quoted)."""
    import shlex

    return (f"sercore run {paper} --dataset {dataset} --profile {profile} --seed {seed}"
            + "".join(f" --set {shlex.quote(x)}" for x in sets))


#: parameters a run is given, not set by a user: never a --set of its command
_RUN_KEYS = {"paper", "dataset", "profile", "seed", "data_root", "results_dir", "results_root"}


def run_sets(paper: str, dataset: str, profile: str, seed: int, params: dict, root: Path | None = None) -> list[str]:
    """``KEY=VALUE`` (VALUE as JSON, which ``--set`` reads as YAML) for every parameter of a run that its params
    file does not give on that profile: what the run was started with ``--set`` (a board's
    ``--set seeds=[1]``, one record per seed). Empty when the cell cannot be resolved here."""
    from . import runs

    try:
        base = runs.resolve(paper, dataset, profile, {"seed": seed}, root=root)
    except Exception:      # noqa: BLE001 - a cell this checkout no longer has: the plain command
        return []
    return [f"{k}={json.dumps(v)}" for k, v in params.items()
            if k not in _RUN_KEYS and k in base and base[k] != v]


def command_of(prov: dict) -> str:
    """The ``sercore run`` command a record's provenance names (its ``command``, else made from the cell)."""
    return prov.get("command") or run_command(prov["paper"], prov["dataset"], prov["profile"], prov["seed"])


def reproduce_command(prov: dict) -> str:
    """The one command that makes the record again: a worktree at its commit, the same ``sercore run``."""
    return (f"git worktree add ../sercore-{prov['commit'][:8]} {prov['commit']} && cd ../sercore-{prov['commit'][:8]}"
            f" && SERCORE_DATA=<your data root> {command_of(prov)}")


#: loaders' notes as earlier runs wrote them -> today's words (same meaning; "None" read as Python)
_OLD_WORDING = {"so path and video are None for those splits.":
                "so those splits' utterances have no audio and no video.",
                ", their rows have path None.": ", so those utterances have no audio.",
                "URDU has no transcripts: text is None.": "URDU has no transcripts: its utterances have no text.",
                "folder: their text is None.": "folder, so their utterances have no text.",
                ": text is None.": ": the utterances have no text."}


def corpus_copy(metrics: dict) -> str:
    """Which copy of the corpus a run read, in words: the loader's caveat when it found the files differ
    from the corpus's official release (e.g. Emo-DB's 22,050 Hz, 2.0 s copy), else that it found none.
    Beside ``corpus_fingerprint`` (the content digest), so a reader need not know the digests."""
    if metrics.get("synthetic"):
        return "the synthetic corpus (generated; not a recording)"
    note = metrics.get("corpus_note")
    for old, new in _OLD_WORDING.items():
        note = note.replace(old, new) if note else note
    return (f"differs from the official release: {note}" if note else
            f"{metrics['dataset']} as found under the data root: the loader checked its files against the "
            "official release's layout (and, where it knows them, its sample rate and lengths) and found no difference")


def _corpus_fingerprint(metrics: dict, params: dict) -> str:
    """The data version the run recorded, else computed now from its parameters (the manifest only)."""
    version = (metrics.get("corpus") or {}).get("version")
    if version:
        return str(version)
    from . import experiment

    return experiment.load_corpus(params).version()


def _cv_results(extra: dict) -> list[dict]:
    """The cross-validation results a run's ``metrics.json`` ``extra`` holds: every protocol's (a
    chapter that ran several), else the headline ``cv``."""
    protos = [p for p in (extra.get("protocols") or {}).values() if isinstance(p, dict) and "folds" in p]
    if protos:
        return protos
    cv = extra.get("cv")
    return [cv] if isinstance(cv, dict) and "folds" in cv else []


def trained_seconds(metrics: dict) -> float:
    """Seconds of every training epoch the run's folds record (``fit.history[*].seconds``), summed.

    A fold resumed from its checkpoint keeps the history of the epochs an earlier process trained, so
    this counts the whole training of a run that was stopped and resumed (or whose folds were trained
    by several processes), which ``runtime_s``, the wall time of its last process, does not.
    """
    total = 0.0
    for cv in _cv_results(metrics.get("extra") or {}):
        for fold in cv["folds"]:
            for row in ((fold.get("fit") or {}).get("history") or []):
                total += float(row.get("seconds") or 0.0)
    return total


#: what a record says instead of the absolute paths of the machine that made it
DATA_NAME, RESULTS_NAME = "$SERCORE_DATA", "$SERCORE_RESULTS"
_STAGING = re.compile(r"/\.([^/\"\\]+)\.running-\d+")
_BOOK = re.compile(r'"input_path": "([^"]*)/book/[^"/]+\.ipynb"')


def machine_paths(text: str, params: dict, paper: str, dataset: str) -> dict[str, str]:
    """The absolute paths of the machine that made a run, in its files (``text``: their contents) and
    parameters, each with the name a record keeps instead: its data root -> ``$SERCORE_DATA``, its results
    root -> ``$SERCORE_RESULTS`` (results folders then read ``$SERCORE_RESULTS/<paper>/<dataset>/...``), the
    project root its notebook ran from -> nothing (``book/<paper>.ipynb``). Longest first."""
    out = {}
    if params.get("data_root"):
        out[str(params["data_root"]).rstrip("/")] = DATA_NAME
    rd = str(params.get("results_dir") or "")
    cut = rd.find(f"/{paper}/{dataset}/")
    if cut > 0:
        out[rd[:cut]] = RESULTS_NAME
    for m in _BOOK.finditer(text):
        if m.group(1):
            out[m.group(1) + "/"] = ""
    return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))


def machine_free_text(text: str, places: dict[str, str]) -> str:
    """``text`` with the paths of :func:`machine_paths` replaced by their names, and the staging folder a
    run wrote into (``.<profile>.running-<pid>``) by the folder it became (``<profile>``)."""
    text = _STAGING.sub(lambda m: "/" + m.group(1), text)
    for path, name in places.items():
        text = text.replace(path, name)
    return text


def record_run(results: str | os.PathLike, records_root: Path | None = None, *, root: Path | None = None,
               command: str | None = None, overwrite: bool = False) -> Path:
    """Copy the finished run in ``results`` (a folder with ``metrics.json`` and ``config.json``) into
    ``records/<paper>/<dataset>/<profile>/seed-<s>/`` with its ``provenance.json``; returns the record.
    The copies keep no path of the machine that made the run (:func:`machine_free_text`: the data root
    is ``$SERCORE_DATA``, results folders are ``$SERCORE_RESULTS/<paper>/<dataset>/...``, the notebook
    ``book/<paper>.ipynb``).

    Raises :class:`RecordError` when the folder is not a finished run, its commit is not a clean
    commit of this repository's history, or the record exists (unless ``overwrite``).
    """
    src = Path(results)
    root = root or project_root()
    if not (src / "metrics.json").exists() or not (src / "config.json").exists():
        raise RecordError(f"{src}: not a finished run (expected metrics.json and config.json written by "
                          "`sercore run`)")
    metrics = read_record_metrics(src / "metrics.json")
    params = json.loads((src / "config.json").read_text())["params"]
    paper, dataset, profile, seed = metrics["paper"], metrics["dataset"], metrics["profile"], int(metrics["seed"])
    sha = str(metrics.get("git_sha", ""))
    if not _SHA.match(sha):
        raise RecordError(f"{src}: its code was not a clean commit (git_sha {sha!r}); a record must name a "
                          "commit its run can be made again from: commit, then run in a worktree of that commit")
    if not commit_exists(sha, root):
        raise RecordError(f"{src}: commit {sha} is not in the history of {root}")
    nb = src / f"{paper}.ipynb"
    if not nb.exists():
        raise RecordError(f"{src}: no executed notebook {nb.name}")
    dest = (records_root or records_dir(root)) / paper / dataset / profile / f"seed-{seed}"
    if dest.exists():
        if not overwrite:
            raise RecordError(f"{dest} exists; pass overwrite=True to replace it")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    names = [n.format(paper=paper) for n in REQUIRED_FILES] + [n for n in OPTIONAL_FILES if (src / n).exists()]
    texts = {n: (src / n).read_text(encoding="utf-8") for n in names if Path(n).suffix in (".json", ".ipynb", ".log")}
    places = machine_paths("".join(texts.values()), params, paper, dataset)
    for n in names:
        shutil.copy2(src / n, dest / n)
        if n in texts:      # no path of this machine in the record: names relative to the data and results roots
            (dest / n).write_text(machine_free_text(texts[n], places), encoding="utf-8")
    prov = {"schema": SCHEMA_VERSION, "paper": paper, "dataset": dataset, "profile": profile, "seed": seed,
            "commit": sha, "reproduce": "",
            "command": command or run_command(paper, dataset, profile, seed,
                                              run_sets(paper, dataset, profile, seed, params, root)),
            "device": str(metrics["device"]), "wall_time_s": round(max(float(metrics["runtime_s"]), trained_seconds(metrics)), 1),
            "started": str(metrics["started"]),
            "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "corpus_fingerprint": _corpus_fingerprint(metrics, params), "corpus_copy": corpus_copy(metrics),
            "params": machine_free(params),
            "files": {n: file_sha256(dest / n) for n in names}}
    prov["reproduce"] = reproduce_command(prov)
    (dest / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    check_record(dest)
    return dest


def read_provenance(folder: Path) -> dict:
    try:
        prov = json.loads((Path(folder) / "provenance.json").read_text())
    except (OSError, ValueError) as e:
        raise RecordError(f"{folder}: provenance.json cannot be read ({e})") from None
    if not isinstance(prov, dict):
        raise RecordError(f"{folder}/provenance.json: expected a JSON object, got {type(prov).__name__}")
    return prov


def check_record(folder: str | os.PathLike) -> dict:
    """A record's provenance, after checking it: every key of :data:`PROVENANCE` with its type, the
    folder named after its paper/dataset/profile/seed, the required files present and every file's
    sha256 as recorded, a valid ``metrics.json`` of the same cell and seed. Raises :class:`RecordError`."""
    folder = Path(folder)
    prov = read_provenance(folder)
    for key, tp in PROVENANCE.items():
        if key not in prov:
            raise RecordError(f"{folder}/provenance.json: key {key!r} is missing")
        if not isinstance(prov[key], tp) or isinstance(prov[key], bool):
            raise RecordError(f"{folder}/provenance.json: key {key!r}: expected {tp}, got {prov[key]!r}")
    for key, tp in PROVENANCE_OPTIONAL.items():
        if key in prov and not isinstance(prov[key], tp):
            raise RecordError(f"{folder}/provenance.json: key {key!r}: expected {tp}, got {prov[key]!r}")
    extra = sorted(set(prov) - set(PROVENANCE) - set(PROVENANCE_OPTIONAL))
    if extra:
        raise RecordError(f"{folder}/provenance.json: unknown key(s) {extra}")
    if prov["schema"] != SCHEMA_VERSION:
        raise RecordError(f"{folder}/provenance.json: schema {prov['schema']}, this sercore reads {SCHEMA_VERSION}")
    if not _SHA.match(prov["commit"]):
        raise RecordError(f"{folder}/provenance.json: commit {prov['commit']!r} is not a 40-hex commit")
    expected = Path(prov["paper"]) / prov["dataset"] / prov["profile"] / f"seed-{prov['seed']}"
    if folder.parts[-4:] != expected.parts:
        raise RecordError(f"{folder}: its provenance says {expected}; the folder must be named so")
    for n in REQUIRED_FILES:
        n = n.format(paper=prov["paper"])
        if n not in prov["files"]:
            raise RecordError(f"{folder}: provenance lists no {n}")
    for n, digest in prov["files"].items():
        if not isinstance(n, str) or Path(n).name != n or n in (".", ".."):
            raise RecordError(f"{folder}/provenance.json: files lists {n!r}, not a file name in the record")
        f = folder / n
        if not f.exists():
            raise RecordError(f"{folder}: {n} is missing (listed in provenance.json)")
        if file_sha256(f) != digest:
            raise RecordError(f"{folder}: {n} changed since it was recorded (sha256 differs)")
    m = read_record_metrics(folder / "metrics.json")
    if (m["paper"], m["dataset"], m["profile"], int(m["seed"])) != (prov["paper"], prov["dataset"],
                                                                    prov["profile"], prov["seed"]):
        raise RecordError(f"{folder}: metrics.json is of {m['paper']}/{m['dataset']}/{m['profile']} seed "
                          f"{m['seed']}, not of the record's cell")
    check_headline(folder, m)
    return prov


def stale_params(prov: dict, root: Path | None = None) -> list[str]:
    """What differs between a record's parameters and what ``params/`` resolves to now for its cell,
    as ``"key: recorded -> now"`` lines (empty: the params file still gives the same run)."""
    from .runs import resolve
    from .schemas import ParamsError

    try:
        now = machine_free(resolve(prov["paper"], prov["dataset"], prov["profile"], {"seed": prov["seed"]},
                                   root=root))
    except ParamsError as e:
        return [f"the current params file does not resolve this cell: {e}"]
    import dataclasses

    from .schemas import schema

    # a key added to the schema since the record was made, at its default, is the same run
    defaults = {f.name: f.default for f in dataclasses.fields(schema(prov["paper"]))
                if f.default is not dataclasses.MISSING}
    then = prov["params"]
    out = []
    for k in list(then) + [k for k in now if k not in then]:
        a, b = then.get(k, "<absent>"), now.get(k, "<absent>")
        if a == "<absent>" and k in defaults and b == defaults[k]:
            continue
        if a != b:
            out.append(f"{k}: {a!r} -> {b!r}")
    return out


def list_records(records_root: Path | None = None) -> list[Path]:
    """Every record folder (``<paper>/<dataset>/<profile>/seed-<s>`` with a provenance.json), sorted."""
    base = Path(records_root) if records_root else records_dir()
    return sorted(p.parent for p in base.glob("*/*/*/seed-*/provenance.json"))


def published_cells(records_root: Path | None = None, paper: str | None = None,
                    dataset: str | None = None) -> dict[tuple[str, str, str], list[dict]]:
    """Valid records grouped by cell ``(paper, dataset, profile)``, seeds in order; each item:
    ``{"folder", "provenance", "metrics"}``. An invalid record raises :class:`RecordError` (the book
    must not show it, nor skip it silently)."""
    cells: dict = {}
    for folder in list_records(records_root):
        prov = check_record(folder)
        if (paper and prov["paper"] != paper) or (dataset and prov["dataset"] != dataset):
            continue
        cells.setdefault((prov["paper"], prov["dataset"], prov["profile"]), []).append(
            {"folder": folder, "provenance": prov, "metrics": read_record_metrics(folder / "metrics.json")})
    for items in cells.values():
        items.sort(key=lambda r: r["provenance"]["seed"])
    return cells


def _started(metrics: dict) -> datetime:
    return datetime.fromisoformat(str(metrics["started"]))


def fresher_result(cell: tuple[str, str, str], items: list[dict], results_root: Path | None = None) -> Path | None:
    """The results folder of the same cell when it holds a run started after every record of the
    cell (it replaces them in the book), else None."""
    res = (Path(results_root) if results_root else results_dir()) / cell[0] / cell[1] / cell[2] / "metrics.json"
    if not res.exists():
        return None
    try:
        m = read_record_metrics(res)
    except RecordError:
        return None
    return res.parent if _started(m) > max(_started(r["metrics"]) for r in items) else None


def span(seconds: float) -> str:
    """A run's length for people: ``"52 min"``, or hours from 90 minutes on (``"4.6 h"``)."""
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def wall_seconds(item: dict) -> float:
    """A record's wall time: its ``wall_time_s``, or the seconds its folds' epochs trained when more
    (a record made before ``wall_time_s`` counted them holds only its last process's time when that
    run was resumed). ``item`` is one of :func:`published_cells`' items."""
    return max(float(item["provenance"]["wall_time_s"]), trained_seconds(item["metrics"]))


def published_banner(items: list[dict], root: Path | None = None) -> str:
    """Markdown for the top of a published run's page (:mod:`sercore.record_page`): a published run
    rendered from its records, when, how, the command that makes it again, every seed's headline and
    their mean ± std, and any parameter the params file has changed since."""
    p0 = items[0]["provenance"]
    seeds = ", ".join(str(r["provenance"]["seed"]) for r in items)
    lines = [f"```{{admonition}} Published run ({p0['profile']} profile, not re-run by this build)",
             ":class: important",
             f"This page is rendered by this build's code from the data of a run kept in "
             f"`records/{p0['paper']}/{p0['dataset']}/{p0['profile']}/` (seeds {seeds}): its metrics, "
             "predictions, training history and provenance. "
             f"Made {p0['started']} at commit `{p0['commit'][:12]}` on {p0['device']} in "
             f"{span(wall_seconds(items[0]))}, data version `{p0['corpus_fingerprint']}`.",
             "", f"Reproduce: `{p0['reproduce']}`", ""]
    mets = [r["metrics"]["metrics"] for r in items]
    for k in ("wa", "ua"):
        vals = [m[k] for m in mets]
        lines.append(f"- {k.upper()}: " + ", ".join(f"{v:.2f}" for v in vals)
                     + (f" (mean {statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f} over "
                        f"{len(vals)} seeds)" if len(vals) > 1 else ""))
    stale = stale_params(p0, root)
    if stale:
        lines += ["", "**The params file has changed since this run** (recorded -> now): "
                  + "; ".join(f"`{s}`" for s in stale[:8]) + (f"; and {len(stale) - 8} more" if len(stale) > 8 else "")]
    lines.append("```")
    return "\n".join(lines)


def published_runs_page(records_root: Path | None = None) -> str:
    """Markdown of the book's page of published runs: per cell (paper, dataset, profile) its device and
    wall time, and one row per record (seed, the ``sercore run`` command that makes it, its commit, wall
    time (:func:`wall_seconds`) and start); a sentence when there is none. A record's own page
    reproduces it from a checkout of its commit (``provenance.json``'s ``reproduce``)."""
    cells = published_cells(records_root)
    lines = ["# Published runs", "",
             "Runs too long for `make book` (the `reference` profile: every fold, the paper's epochs, several "
             "seeds) are kept in `records/<paper>/<dataset>/<profile>/seed-<s>/` with their `metrics.json`, "
             "predictions, executed notebook and `provenance.json`. The reproduction summary and the "
             "scoreboard pool their seeds. Each command below makes one seed again; run it from a checkout of "
             "the commit shown (`git worktree add ../sercore-<commit> <commit>`), with `SERCORE_DATA` "
             "pointing at your corpora.", ""]
    if not cells:
        return "\n".join(lines + ["There is no published run in `records/` in this checkout.", ""])
    total = sum(wall_seconds(r) for items in cells.values() for r in items)
    n = sum(len(items) for items in cells.values())
    lines += [f"{n} run(s) in {len(cells)} cell(s), {span(total)} of wall time in all.", ""]
    for (paper, dataset, profile), items in sorted(cells.items()):
        devices = ", ".join(dict.fromkeys(r["provenance"]["device"] for r in items))
        lines += [f"## {paper} on {dataset}, {profile} profile", "",
                  f"`records/{paper}/{dataset}/{profile}/`: {len(items)} seed(s) on {devices}, "
                  f"{span(sum(wall_seconds(r) for r in items))} of wall time.", "",
                  "| seed | command | commit | wall time | started |", "|---|---|---|---|---|"]
        for r in items:
            p = r["provenance"]
            lines.append(f"| {p['seed']} | `{command_of(p)}` | "
                         f"`{p['commit'][:12]}` | {span(wall_seconds(r))} | {p['started'][:10]} |")
        lines.append("")
    return "\n".join(lines)


def with_published(runs: list[dict], results_root: Path | None = None,
                   records_root: Path | None = None) -> list[dict]:
    """The scoreboard's runs (:func:`sercore.results.collect`) plus every published record whose cell
    has no fresher run in ``results/``; a record's ``profile`` reads ``<profile> (published, seed s)``,
    its ``runtime_s`` is :func:`wall_seconds`, and it carries ``_published`` (its provenance)."""
    out = list(runs)
    for cell, items in sorted(published_cells(records_root).items()):
        if fresher_result(cell, items, results_root) is not None:
            continue
        for r in items:
            d = with_intervals(r["folder"], r["metrics"])
            d["profile"] = f"{cell[2]} (published, seed {r['provenance']['seed']})"
            d["runtime_s"] = round(wall_seconds(r), 1)       # the whole run's, not its last process's
            d["_path"] = str(r["folder"] / "metrics.json")
            d["_published"] = r["provenance"]
            out.append(d)
    return out


def _num(v, metric: str | None = None) -> str:
    """A number as a cell: a count (``metric`` a parameter or utterance count) whole with separators,
    else :func:`sercore.results.fmt_num`; blank when absent."""
    from .results import CHECK_METRICS, fmt_num, fmt_value

    return fmt_value(v, count=True) if metric in CHECK_METRICS and v is not None else fmt_num(v)


def _mean_std(vals: list[float], metric: str | None = None) -> str:
    if not vals:
        return ""
    if len(vals) == 1:
        return f"{_num(vals[0], metric)} (1 seed)"
    if len(set(vals)) == 1:                     # a parameter count: no spread to show
        return f"{_num(vals[0], metric)} (same in {len(vals)} seeds)"
    return f"{_num(statistics.mean(vals), metric)} ± {_num(statistics.stdev(vals), metric)} ({len(vals)} seeds)"


def _tested(metrics: dict) -> str:
    """"N test utterances" from a record's pooled confusion matrix (records older than ``scope``)."""
    matrix = (metrics.get("confusion") or {}).get("matrix")
    return f"{int(sum(map(sum, matrix)))} test utterances" if matrix else ""


def three_columns(out: dict, profile: str = "reference", records_root: Path | None = None):
    """A chapter's comparison rows in three columns: the paper's number, the published runs of
    ``profile`` for the same paper and dataset (mean ± std over seeds), and this build's run (``out``,
    the chapter's ``metrics.json`` dict). Each measured column comes with its 95% interval (each seed's,
    for the published runs) and the test data it stands on (the comparison's ``scope``). Rows only some
    side has are kept (blank elsewhere). Cells are text for display (:func:`_num`): a parameter count
    beside percentages must not turn a column into scientific notation.
    Test-set-selected numbers a record keeps (``extra["test_selection"]``) are separate rows marked
    as such: they are not results. A test-data column whose rows all stand on the same test data is
    dropped and said once in ``attrs["note"]``."""
    import pandas as pd

    from .results import fmt_interval, row_key, row_label, said_once

    here = {row_key(c): c for c in out.get("comparisons", [])}
    label = {k: row_label(c) for k, c in here.items()}
    items = published_cells(records_root, out["paper"], out["dataset"]).get((out["paper"], out["dataset"], profile), [])
    pub: dict = {}
    for r in items:
        m = with_intervals(r["folder"], r["metrics"])        # a record older than some intervals gets them
        comps = m["comparisons"]
        data = (m.get("scope") or {}).get("text") or _tested(m)
        for c in comps:
            if c.get("measured") is not None:
                pub.setdefault(row_key(c), []).append({**c, "scope": c.get("scope") or data})
                label.setdefault(row_key(c), row_label(c))
    reported = {row_key(c): c.get("reported") for r in items for c in r["metrics"]["comparisons"]}
    reported.update({k: c.get("reported") for k, c in here.items()})
    P, B = f"published {profile}", f"this build ({out['profile']})"
    rows = []
    for k in dict.fromkeys([*here, *pub]):
        cs, c = pub.get(k, []), here.get(k, {})
        rows.append({"table": k[0], "row": label.get(k, k[1]), "metric": k[2], "paper": _num(reported.get(k), k[2]),
                     f"{P} (mean ± std)": _mean_std([float(x["measured"]) for x in cs], k[2]),
                     f"{P}: 95% interval of each seed": "; ".join(filter(None, (fmt_interval(x.get("interval"))
                                                                                for x in cs))),
                     f"{P}: test data": " / ".join(dict.fromkeys(x["scope"] for x in cs if x.get("scope"))),
                     B: _num(c.get("measured"), k[2]), f"{B}: 95% interval": fmt_interval(c.get("interval")),
                     f"{B}: test data": (c.get("scope") or "") if c.get("measured") is not None else ""})
    sel = [r["metrics"].get("extra", {}).get("test_selection") for r in items]
    sel = [s for s in sel if s]
    for m in ("wa", "ua"):
        if sel:
            rows.append({"table": "epoch chosen on the test set (authors' practice; NOT a result)",
                         "row": "Proposed", "metric": m, f"{P} (mean ± std)": _mean_std([s[m] for s in sel])})
    cols = ["table", "row", "metric", "paper", f"{P} (mean ± std)", f"{P}: 95% interval of each seed",
            f"{P}: test data", B, f"{B}: 95% interval", f"{B}: test data"]
    df = pd.DataFrame(rows, columns=cols).fillna("")
    said = []                       # a test-data column that holds one text says it once, in the note
    for col in (f"{P}: test data", f"{B}: test data"):
        text, df = said_once(df, col)
        if text:
            said.append(f"{col.split(':')[0]}: every row on {text}")
    if items:
        p0 = items[0]["provenance"]
        stale = stale_params(p0)
        seeds = ", ".join(str(r["provenance"]["seed"]) for r in items)
        commits = ", ".join(dict.fromkeys(r["provenance"]["commit"][:12] for r in items))
        days = ", ".join(dict.fromkeys(r["provenance"]["started"][:10] for r in items))
        df.attrs["note"] = (f"published: records/{out['paper']}/{out['dataset']}/{profile}/ (seeds {seeds}, "
                            f"commit {commits}, {days})")
        if stale:
            df.attrs["note"] += f"; **the params file has changed since** (recorded -> now): {'; '.join(stale[:5])}"
    else:
        df.attrs["note"] = f"no published {profile} run of {out['paper']} on {out['dataset']} in records/"
    if said:
        df.attrs["note"] += "; " + "; ".join(said)
    return df


def _clauses(note: str) -> list[str]:
    """A comparison note's clauses: split at the semicolons outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in str(note):
        depth += ch == "("
        depth -= ch == ")"
        if ch == ";" and depth <= 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [c.strip().rstrip(".") for c in [*out, cur] if c.strip()]


def gap_text(out: dict, profile: str = "reference", records_root: Path | None = None) -> str:
    """Markdown under the three columns: for each headline row (WA/UA/accuracy equal to the record's
    headline) the paper's number, the published mean ± std and the gap, how much of it choosing the
    epoch on the test set would close (where a record keeps that curve), then what is known to differ,
    read from the records themselves: the corpus caveat, the scope and the notes of those rows. Without
    a record, or when the paper's headline numbers are on another corpus, one sentence says so (never
    empty: an empty Markdown output renders as its Python repr). Computed from the records, so it never
    says more than they hold."""
    items = published_cells(records_root, out["paper"], out["dataset"]).get((out["paper"], out["dataset"], profile), [])
    if not items:
        return (f"There is no published {profile} run of {out['paper']} on {out['dataset']} in `records/`, so "
                "this page does not break down a gap to the paper.")
    from .results import HEADLINE_TOLERANCE, METRIC_ALIASES, paper_corpus, run_corpora

    ours = run_corpora(out["dataset"])
    rows: dict = {}
    notes: list[str] = []
    elsewhere: set[str] = set()             # corpora of the paper's headline numbers that are not ours
    for r in items:
        m = r["metrics"]
        for c in m["comparisons"]:
            key = METRIC_ALIASES.get(c["metric"], c["metric"])
            head = m["metrics"].get(key) if key in ("wa", "ua") else None
            if (head is None or c.get("reported") is None or c.get("measured") is None
                    or abs(float(c["measured"]) - float(head)) > HEADLINE_TOLERANCE):
                continue
            theirs = paper_corpus(out["paper"], c)
            if theirs and ours and theirs not in ours:
                elsewhere.add(theirs)
                continue
            k = (key, float(c["reported"]))            # Tables II and IV may print the same number twice
            if k in rows and (len(rows[k]["vals"]) >= len(items) or rows[k]["table"] != c["table"]):
                continue
            rows.setdefault(k, {"table": c["table"], "row": c["row"], "metric": c["metric"], "paper": k[1],
                                "vals": [], "key": key})["vals"].append(float(c["measured"]))
            notes += _clauses(c.get("note") or "")
    if not rows:
        if elsewhere:
            return (f"The paper's headline numbers are on {', '.join(sorted(elsewhere))}; the published run is on "
                    f"{', '.join(sorted(ours))}. The table above shows them side by side, but a gap between "
                    "different corpora measures the corpora as much as the method, so it is not broken down here.")
        return ("No row of the published run puts its headline WA or UA beside a number of the paper, so "
                "there is no gap to break down.")
    sel = [r["metrics"].get("extra", {}).get("test_selection") for r in items]
    sel = [x for x in sel if x]
    lines = [f"**What the gap between the paper and the published run is made of** (computed from "
             f"`records/{out['paper']}/{out['dataset']}/{profile}/`):", ""]
    for v in list(rows.values())[:4]:
        mean = statistics.mean(v["vals"])
        lines.append(f"- {v['table']}, {v['row']}, {v['metric']}: paper {v['paper']:.2f}; published {_mean_std(v['vals'])}; "
                     f"gap {mean - v['paper']:+.2f} points.")
        if sel and v["key"] in sel[0]:
            s_mean = statistics.mean(x[v["key"]] for x in sel)
            lines.append(f"  Choosing the epoch on the test set, as the authors' release does, would give "
                         f"{s_mean:.2f} ({s_mean - mean:+.2f} points): a protocol difference, not a result.")
    m0 = items[0]["metrics"]
    known = [m0.get("corpus_note")] if m0.get("corpus_note") else []
    scope = m0.get("scope", {}).get("text") if isinstance(m0.get("scope"), dict) else None
    if scope:
        known.append(f"measured on {scope}")
    known += [n for n in dict.fromkeys(notes) if n not in " ".join(known)]
    if known:
        lines += ["", "Known differences, as the records state them:", ""] + [f"- {k}" for k in known[:8]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m sercore.records RESULTS_FOLDER...``: record finished runs; ``--check``: check every record.

    Exit status: 0 when every record asked about is valid (and every folder was recorded), 1 when any
    problem was printed (an invalid record, a commit not in the history, a folder that could not be
    recorded), 2 for bad arguments. Each problem is one line naming the folder."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sercore.records", description=main.__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", help="finished results folders to record")
    ap.add_argument("--check", action="store_true", help="check every record under records/")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    if not args.folders and not args.check:
        ap.print_usage(sys.stderr)
        print(f"{ap.prog}: error: give results folders to record, or --check", file=sys.stderr)
        return 2
    problems = 0
    for f in args.folders:
        try:
            print(f"recorded {record_run(f, overwrite=args.overwrite)}")
        except (RecordError, OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            problems += 1
    if args.check:
        base = records_dir()
        folders = list_records()
        if not folders:
            print(f"no record under {base}")
        for folder in folders:
            try:
                prov = check_record(folder)
            except (RecordError, OSError, ValueError) as e:
                print(f"{folder}: INVALID: {e}")
                problems += 1
                continue
            in_history = commit_exists(prov["commit"])
            problems += not in_history
            try:
                stale = stale_params(prov)
            except Exception as e:  # noqa: BLE001 - the params of today cannot be read: said, not fatal
                stale = [f"the current params cannot be compared ({e})"]
            print(f"{folder}: " + ("valid, commit in history" if in_history
                                   else f"INVALID: commit {prov['commit']} is not in the history of this repository")
                  + (f"; note: params changed since: {'; '.join(stale)}" if stale else ""))
        print(f"{len(folders)} record(s) checked, {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())


# ----------------------------------------------------------------------------- superseded records

#: where a cell keeps what its records measured before they were replaced (git history keeps the records)
SUPERSEDED = "superseded"


def supersede(cell_folder: str | os.PathLike, label: str, why: str, root: Path | None = None) -> Path:
    """Keep what the records of one cell measured before they are removed (e.g. runs on an older copy of a
    corpus): ``<cell>/superseded/<label>.json`` with, per seed, the headline metrics and their 95% intervals
    (re-derived from the records' predictions when the record predates them), the commit, the data version
    and the record's path, and ``why``; the repository commit that still holds the records is added, so
    ``git show <commit>:<path>`` gives each whole record back. Returns the file written. The records
    themselves are removed by the caller (``git rm``)."""
    cell = Path(cell_folder).resolve()
    items = []
    for folder in sorted(cell.glob("seed-*")):
        prov = check_record(folder)
        m = read_record_metrics(folder / "metrics.json")
        ivs = derived_intervals(folder, m) or {}
        items.append({"seed": prov["seed"], "commit": prov["commit"], "corpus_fingerprint": prov["corpus_fingerprint"],
                      "record": folder.relative_to((root or project_root()).resolve()).as_posix(),
                      "metrics": {k: m["metrics"].get(k) for k in ("wa", "ua", "macro_f1", "weighted_f1")},
                      "intervals": {k: {"low": v["low"], "high": v["high"]} for k, v in ivs.items()},
                      "test_selection": (m.get("extra") or {}).get("test_selection"),
                      "wall_time_s": prov["wall_time_s"]})
    if not items:
        raise RecordError(f"{cell}: no record to supersede")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root or project_root(), capture_output=True,
                          text=True).stdout.strip()
    out = cell / SUPERSEDED / f"{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"label": label, "why": why, "paper": prov["paper"],
                               "dataset": prov["dataset"], "profile": prov["profile"],
                               "records_at_commit": head, "seeds": items}, indent=2) + "\n")
    return out


def superseded(paper: str, dataset: str, profile: str = "reference", records_root: Path | None = None) -> list[dict]:
    """Every superseded summary (:func:`supersede`) of a cell, as written."""
    base = (Path(records_root) if records_root else records_dir()) / paper / dataset / profile / SUPERSEDED
    return [json.loads(p.read_text()) for p in sorted(base.glob("*.json"))]


def data_effect(label: str, dataset: str, papers: list[str] | None = None, profile: str = "reference",
                records_root: Path | None = None):
    """What replacing a corpus copy did to the published numbers: per paper whose records of ``dataset``
    were superseded under ``label`` (:func:`supersede`), WA and UA mean ± std over the superseded seeds and
    over today's records of the same cell, and the difference of the means (today − superseded). A
    measured data effect: same recipes, another copy of the data (the commits may differ; the table says
    which). A paper with no record today shows its superseded numbers only."""
    import pandas as pd

    rows = []
    cells = published_cells(records_root)
    for paper in papers or sorted({p.parents[3].name
                                   for p in (Path(records_root) if records_root else records_dir()).glob(
                                       f"*/{dataset}/{profile}/{SUPERSEDED}/{label}.json")}):
        old = [s for s in superseded(paper, dataset, profile, records_root) if s["label"] == label]
        if not old:
            continue
        new = cells.get((paper, dataset, profile), [])
        for m in ("wa", "ua"):
            a = [s["metrics"][m] for s in old[0]["seeds"]]
            b = [i["metrics"]["metrics"][m] for i in new]
            rows.append({"paper": paper, "metric": m.upper(),
                         "superseded copy": _mean_std(a), "seeds (copy)": len(a),
                         "today's records": _mean_std(b) if b else "–", "seeds (today)": len(b),
                         "difference (today − copy)": (f"{statistics.mean(b) - statistics.mean(a):+.2f}" if b else "–"),
                         "copy's commits": ", ".join(sorted({s["commit"][:8] for s in old[0]["seeds"]})),
                         "today's commits": ", ".join(sorted({i["provenance"]["commit"][:8] for i in new})) or "–"})
    return pd.DataFrame(rows)
