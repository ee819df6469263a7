"""One leaderboard for every method: the same folds, seeds and label map per corpus.

None of the five papers compares all five methods on identical splits; this module
does. For one prepared corpus (:func:`sercore.experiment.prepare`) and one list of
folds, every :class:`sercore.chapters.Method` — the five chapters' models and the
baselines below — is trained once per seed, and each (method, seed) gives one row:

    method, paper, modalities, seed, wa, ua, macro_f1, weighted_f1,   (percent, mean over folds)
    n_params, train_s (training + evaluation wall time over all folds),
    latency_ms (median wall time to classify one test utterance, batch of one, on the device),
    skipped (None, or why the method could not run on this corpus)

A method that needs a modality the corpus lacks (text on a corpus without
transcripts, video on an audio-only corpus) is not run; its row says so and
:func:`summary` counts it. Nothing is dropped silently.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import train
from .runs import study_chapter_params as chapter_params   # the board's view of a chapter's params
from .chapters import Method
from .data import modalities
from .paths import show_progress
from .results import ChapterResult, cv_predictions, prediction_arrays

METRICS = ("ua", "wa", "macro_f1", "weighted_f1")


# ----------------------------------------------------------------------------- baselines

def baseline_methods(P: dict) -> list[Method]:
    """The floor every paper model should beat: MFCC statistics + MLP, MFCC BiLSTM, text MLP,
    trained for the board's shared ``epochs`` (or ``baseline_epochs`` when each method keeps its own)."""
    from . import models
    from .experiment import frame_features

    def mfcc(manifest):
        return frame_features(manifest, "mfcc", n_mfcc=40, progress=show_progress())

    def minilm(manifest):
        return [np.asarray(f, dtype=np.float32) for f in
                frame_features(manifest, "minilm", progress=show_progress())]

    cfg = train.TrainConfig(epochs=P["epochs"] or P["baseline_epochs"], batch_size=32, lr=1e-3, early_stop_metric="ua", progress=False)
    return [
        Method("MFCC stats + MLP", "baseline", ("audio",), mfcc,
               lambda k: models.create("mlp_stats", input_dim=40, n_classes=k), cfg,
               note="masked mean and std of 40 MFCCs, batch-normalised, two-layer MLP"),
        Method("MFCC BiLSTM", "baseline", ("audio",), mfcc,
               lambda k: models.create("bilstm_pool", input_dim=40, n_classes=k), cfg,
               note="per-utterance CMVN, one BiLSTM layer (64 per direction), masked mean pooling"),
        Method("MiniLM tokens + MLP", "baseline", ("text",), minilm,
               lambda k: models.create("mlp_stats", input_dim=384, n_classes=k), cfg,
               note="MiniLM token states (the offline RoBERTa stand-in), masked mean and std, MLP"),
    ]


# ----------------------------------------------------------------------------- modalities

def missing_modalities(method: Method, manifest: pd.DataFrame) -> list[str]:
    have = modalities(manifest)
    return [m for m in method.modalities if m not in have]


# ----------------------------------------------------------------------------- running

def _latency_ms(model: torch.nn.Module, method: Method, features, y, rows: Sequence[int],
                cfg: train.TrainConfig, n_classes: int, n: int = 20) -> float:
    """Median wall time (ms) to classify one utterance (all its segments), batch of one."""
    device = train.resolve_device(cfg.device)
    model.eval()
    times = []
    one = replace(cfg, batch_size=1_000_000, progress=False)   # one batch holds every segment of the utterance
    for i in list(rows)[:n]:
        ds = train.FeatureDataset(features, y, [i], method.segmented)
        t0 = time.perf_counter()
        train.predict_proba(model, ds, one, n_classes)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000) if times else float("nan")


def run_method(method: Method, manifest: pd.DataFrame, labels: Sequence[str], folds: Sequence,
               seed: int, features=None) -> dict:
    """Train and test ``method`` on every fold with ``seed``; one leaderboard row."""
    row = {"method": method.name, "paper": method.paper, "modalities": "+".join(method.modalities),
           "seed": int(seed), "skipped": None, "note": method.note}
    missing = missing_modalities(method, manifest)
    if missing:
        row["skipped"] = f"corpus has no {' / '.join(missing)}"
        return row
    feats = features if features is not None else method.features(manifest)
    y = manifest["y"].to_numpy()
    cfg = replace(method.train, seed=int(seed))
    # a last training batch of one item cannot pass batch norm in training mode: grow the batch by
    # one until no fold ends on a single item (the batch size used is in the row)
    cfg = train.avoid_single_item_batches(
        cfg, [len(train.FeatureDataset(feats, y, f.train, method.segmented)) for f in folds])
    row["batch_size"] = cfg.batch_size
    lat: list[float] = []

    def on_fold_end(item, model):
        lat.append(_latency_ms(model, method, feats, y, item["report"]["rows"], cfg, len(labels)))

    runner = method.run_cv or train.cross_validate
    t0 = time.time()
    cv = runner(lambda: method.build(len(labels)), feats, y, folds, cfg, labels,
                segmented=method.segmented, on_fold_end=on_fold_end)
    row["train_s"] = round(time.time() - t0, 2)
    for k in METRICS:
        row[k] = cv.summary["mean"].get(k)
    row["n_params"] = train.count_parameters(method.build(len(labels)))
    row["latency_ms"] = round(float(np.mean(lat)), 3) if lat else None
    row["folds"] = len(cv.folds)
    row["_pooled"] = {"per_class": cv.pooled["per_class"], "confusion": cv.pooled["confusion"]}
    row["_predictions"] = cv_predictions(cv, method.name, seed)     # for intervals and paired tests
    return row


def train_all(methods: Sequence[Method], manifest: pd.DataFrame, labels: Sequence[str], folds: Sequence,
              seeds: Sequence[int] = (0, 1, 2), progress: bool | None = None) -> pd.DataFrame:
    """Every method × seed on the same folds; one row each (see the module docstring)."""
    rows = []
    bar = tqdm(total=len(methods) * len(seeds), desc="leaderboard", disable=not show_progress(progress))
    shared: dict = {}                          # one extraction per feature function (the baselines share MFCCs)
    for m in methods:
        feats = None
        if not missing_modalities(m, manifest):
            if m.features not in shared:       # once per method: every seed sees the same features; the
                shared[m.features] = m.features(manifest)   # chapters' runs filled the feature cache already
            feats = shared[m.features]
        for s in seeds:
            bar.set_postfix_str(f"{m.name}, seed {s}")
            rows.append(run_method(m, manifest, labels, folds, s, features=feats))
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- tables

def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds per method, best UA first; skipped methods last, with the reason."""
    ran = rows[rows["skipped"].isna()]
    out = []
    for name, g in ran.groupby("method", sort=False):
        r = {"method": name, "paper": g["paper"].iloc[0], "modalities": g["modalities"].iloc[0],
             "seeds": len(g)}
        for k in METRICS:
            r[k] = g[k].mean()
            r[f"{k}_std"] = g[k].std(ddof=1) if len(g) > 1 else float("nan")
        r.update(n_params=int(g["n_params"].iloc[0]), train_s=g["train_s"].mean(),
                 latency_ms=g["latency_ms"].mean(), skipped=None)
        out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df = df.sort_values("ua", ascending=False)
    skipped = rows[rows["skipped"].notna()].drop_duplicates("method")
    for _, s in skipped.iterrows():
        df = pd.concat([df, pd.DataFrame([{"method": s["method"], "paper": s["paper"],
                                           "modalities": s["modalities"], "seeds": 0,
                                           "skipped": s["skipped"]}])], ignore_index=True)
    return df.reset_index(drop=True)


def _skip_reason(r) -> str:
    """The row's reason for not running, or "" when it ran (None and NaN both mean it ran)."""
    v = r.get("skipped")
    return v if isinstance(v, str) and v else ""


def display_table(summ: pd.DataFrame, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """The summary as the book prints it: ``mean ± std`` strings (std over seeds), parameter counts
    with separators; with ``intervals`` (:func:`compare`'s), each method's UA 95% interval."""
    out = pd.DataFrame(index=summ["method"])
    out["paper"] = summ["paper"].to_numpy()
    out["modalities"] = summ["modalities"].to_numpy()
    for k, label in (("ua", "UA"), ("wa", "WA"), ("macro_f1", "macro F1")):
        vals = []
        for _, r in summ.iterrows():
            if _skip_reason(r):
                vals.append("–")
            elif np.isnan(r.get(f"{k}_std", np.nan)):
                vals.append(f"{r[k]:.2f}")
            else:
                vals.append(f"{r[k]:.2f} ± {r[f'{k}_std']:.2f}")
        out[label] = vals
        if k == "ua" and intervals is not None:
            col = intervals["95% interval"]
            out["UA 95% interval"] = [col.get(m, "–") for m in summ["method"]]
    out["seeds"] = summ["seeds"].astype(int).to_numpy()
    out["parameters"] = [("–" if _skip_reason(r) else f"{int(r['n_params']):,}") for _, r in summ.iterrows()]
    out["train s"] = [("–" if _skip_reason(r) else f"{r['train_s']:.1f}") for _, r in summ.iterrows()]
    out["ms / utt"] = [("–" if _skip_reason(r) or r["latency_ms"] is None or np.isnan(r["latency_ms"])
                        else f"{r['latency_ms']:.2f}") for _, r in summ.iterrows()]
    out["not run because"] = [_skip_reason(r) for _, r in summ.iterrows()]
    return out


def plot(summ: pd.DataFrame, ax=None, title: str | None = None, intervals: pd.DataFrame | None = None):
    """UA per method that ran, a horizontal bar each: whiskers are the 95% interval when ``intervals``
    (:func:`compare`'s) is given, else the std over seeds."""
    import matplotlib.pyplot as plt

    ran = summ[summ["skipped"].isna()].iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * max(len(ran), 1) + 1))
    colors = ["tab:gray" if p == "baseline" else "tab:blue" for p in ran["paper"]]
    if intervals is not None:
        lo = intervals["low"].reindex(ran["method"]).to_numpy()
        hi = intervals["high"].reindex(ran["method"]).to_numpy()
        err = np.nan_to_num(np.stack([ran["ua"].to_numpy() - lo, hi - ran["ua"].to_numpy()]).clip(0))
        label = "UA (%), whiskers: 95% interval"
    else:
        err, label = ran["ua_std"].fillna(0), "UA (%), whiskers: std over seeds"
    ax.barh(ran["method"], ran["ua"], xerr=err, color=colors, capsize=3)
    ax.set_xlabel(label)
    ax.set_xlim(0, 100)
    if title:
        ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------- the method list

def methods(P: dict, have: Sequence[str]) -> list[Method]:
    """The board's methods (``P["methods"]``: ``"baselines"`` or chapter keys), each built by its chapter
    from :func:`~sercore.runs.study_chapter_params` and adapted by the chapter to the corpus's modalities ``have``."""
    from . import chapters

    out: list[Method] = []
    for name in P["methods"]:
        if name == "baselines":
            out.extend(baseline_methods(P))
            continue
        cp, source = chapter_params(name, P)
        m = chapters.method(name, cp, have)
        out.append(replace(m, note=f"{m.note} [settings: {source}]"))
    return out


def run(P: dict, corpus) -> ChapterResult:
    """Every method of ``P["methods"]`` × every seed of ``P["seeds"]`` on the same folds of ``corpus``.

    The headline ``metrics`` are the top method's (mean over seeds); its per-class table and confusion
    matrix pool the test predictions of its first seed. ``extra`` carries every (method, seed) row
    and the summary; ``figures`` the frames the notebook shows and the methods' notes.
    """
    from .experiment import describe_folds, folds as make_folds

    fold_list = make_folds(corpus.manifest, P)
    method_list = methods(P, modalities(corpus.manifest))
    rows = train_all(method_list, corpus.manifest, corpus.labels, fold_list, seeds=P["seeds"])
    summ = summary(rows)
    rec = record(rows, summ)
    sizes = pd.DataFrame([f.sizes() for f in fold_list], index=[f.name for f in fold_list])
    return ChapterResult(protocol=describe_folds(fold_list, P), comparisons=[], **rec, predictions=predictions(rows),
                         figures={"rows": rows, "summary": summ, "folds": sizes,
                                  "notes": pd.DataFrame({"note": {m.name: m.note for m in method_list}})})


def record(rows: pd.DataFrame, summ: pd.DataFrame) -> dict:
    """Keyword arguments for :meth:`sercore.results.Run.write`.

    The run's headline ``metrics`` are the top method's (mean over seeds); its
    per-class table and confusion matrix pool the test predictions of its first
    seed. ``extra["leaderboard"]`` carries every (method, seed) row and the summary.
    """
    ran = summ[summ["skipped"].isna()]
    if ran.empty:
        raise ValueError("no method ran on this corpus; see the 'skipped' column")
    top = ran.iloc[0]
    first = rows[(rows["method"] == top["method"]) & rows["skipped"].isna()].iloc[0]
    public = rows.drop(columns=[c for c in rows.columns if c.startswith("_")])
    return {"metrics": {k: float(top[k]) for k in METRICS},
            "per_class": first["_pooled"]["per_class"], "confusion": first["_pooled"]["confusion"],
            "extra": {"leaderboard": public.to_dict("records"), "summary": summ.to_dict("records"),
                      "headline_method": top["method"]}}


def predictions(rows: pd.DataFrame) -> pd.DataFrame | None:
    """Every (method, seed)'s test predictions, one row per utterance (``results.PREDICTION_COLUMNS``)."""
    if "_predictions" not in rows.columns:
        return None
    parts = [p for p in rows["_predictions"] if isinstance(p, pd.DataFrame)]
    return pd.concat(parts, ignore_index=True) if parts else None


# ----------------------------------------------------------------------------- paired comparisons

def compare(pred: pd.DataFrame, n_classes: int, metric: str = "ua", order: Sequence[str] | None = None,
            n_resamples: int = 2000, alpha: float = 0.05) -> dict:
    """Every pair of methods that ran, on the same test utterances and seeds.

    ``pred``: :func:`predictions` (or ``predictions.csv`` read back). Returns {"pairs": one row per pair
    (:func:`sercore.stats.pairwise`: difference, paired-bootstrap interval, permutation p, Holm p,
    significant), "matrix": the differences as a square table (row minus column), "text": the prose
    that reads them (:func:`sercore.stats.interpret`), "intervals": per method, the bootstrap interval
    of ``metric``}. Methods whose seeds differ from the others' are compared on the seeds they share.
    """
    from . import stats

    names = list(order) if order is not None else list(dict.fromkeys(pred["method"]))
    names = [n for n in names if n in set(pred["method"])]
    shared = set.intersection(*[set(pred.loc[pred["method"] == n, "seed"]) for n in names]) if names else set()
    pred = pred[pred["seed"].isin(shared)]
    arrays = {n: prediction_arrays(pred, n) for n in names}
    ref = arrays[names[0]] if names else None
    for n, a in arrays.items():
        if len(a["rows"]) != len(ref["rows"]) or (a["rows"] != ref["rows"]).any():
            raise ValueError(f"{n} was tested on other utterances than {names[0]}: methods can only be "
                             "paired on the same test set")
    pairs = (stats.pairwise(ref["y_true"], {n: a["y_pred"] for n, a in arrays.items()}, ref["fold"],
                            n_classes=n_classes, metric=metric, n_resamples=n_resamples, alpha=alpha)
             if len(names) > 1 else pd.DataFrame(columns=["a", "b", "diff", "low", "high", "p", "n", "seeds",
                                                          "p_holm", "significant"]))
    label = {"ua": "UA", "wa": "WA", "macro_f1": "macro F1"}.get(metric, metric)
    ivs = {n: stats.bootstrap_ci(ref["y_true"], a["y_pred"], ref["fold"], n_classes=n_classes,
                                 metrics=[metric], n_resamples=n_resamples)[metric] for n, a in arrays.items()}
    table = pd.DataFrame({f"{label} (%)": {n: iv["estimate"] for n, iv in ivs.items()},
                          "95% interval": {n: f"[{iv['low']:.1f}, {iv['high']:.1f}]" for n, iv in ivs.items()},
                          "low": {n: iv["low"] for n, iv in ivs.items()},
                          "high": {n: iv["high"] for n, iv in ivs.items()}})
    return {"pairs": pairs, "matrix": stats.difference_matrix(pairs, names) if len(names) > 1 else pd.DataFrame(),
            "text": stats.interpret(pairs, label) if len(names) > 1 else "Fewer than two methods ran.",
            "intervals": table.round(2), "seeds": sorted(int(s) for s in shared), "metric": metric}


def across_corpora(runs: Sequence[dict], profile: str | None = None, metric: str = "ua") -> dict:
    """Methods ranked over every corpus with a leaderboard run (``results.collect()`` entries of paper
    ``leaderboard``; one profile, the given one or the most common), with the Friedman test and Nemenyi's
    critical difference (:func:`sercore.stats.friedman_nemenyi`).

    Returns {"table": corpus x method of ``metric`` (mean over seeds), "result": the test or None,
    "text": what can be said (why nothing, when fewer than 2 corpora or 3 methods)}.
    """
    from . import stats

    boards = [r for r in runs if "error" not in r and r.get("paper") == "leaderboard" and not r.get("synthetic")]
    if profile is None and boards:
        profile = pd.Series([r["profile"] for r in boards]).mode().iloc[0]
    boards = [r for r in boards if r["profile"] == profile]
    table = pd.DataFrame({r["dataset"]: {s["method"]: s.get(metric) for s in r["extra"].get("summary", [])
                                         if not s.get("skipped")} for r in boards}).T
    label = {"ua": "UA", "wa": "WA", "macro_f1": "macro F1"}.get(metric, metric)
    if len(boards) < 2:
        return {"table": table, "result": None,
                "text": f"No ranking across corpora: it needs leaderboard runs on at least 2 real corpora with "
                        f"profile {profile!r}; found {len(boards)} ({', '.join(sorted(table.index)) or 'none'})."}
    try:
        res = stats.friedman_nemenyi(table)
    except ValueError as e:
        return {"table": table, "result": None,
                "text": f"No ranking across corpora: {e} (leaderboard runs on real corpora, profile {profile!r}: "
                        f"{sorted(table.index) or 'none'})."}
    sig = "differ" if res["p"] <= res["alpha"] else "do not differ significantly"
    text = (f"Mean rank by {label} over {res['n']} corpora ({', '.join(table.dropna().index)}; profile {profile}); "
            f"Friedman chi2 = {res['statistic']:.2f}, p = {res['p']:.3g}: the methods' ranks {sig} at alpha "
            f"{res['alpha']}. Nemenyi critical difference {res['cd']:.2f}: two methods whose mean ranks differ by "
            f"less are joined by a bar and are not told apart"
            + (f"; {res['dropped']} corpora with a method missing were left out." if res["dropped"] else "."))
    return {"table": table, "result": res, "text": text}


def plot_across(across: dict, ax=None):
    """The critical-difference diagram of :func:`across_corpora` (None when no ranking was possible)."""
    from . import stats

    if across["result"] is None:
        return None
    return stats.plot_cd(across["result"], ax=ax, title=f"mean rank over {across['result']['n']} corpora")


def setting_note(P: dict) -> str:
    """One line saying what this board trained: corpus, profile, seeds and the epoch budget."""
    budget = (f"every method trains the same {P['epochs']} epoch(s)" if P["epochs"] else
              f"each method trains its own chapter's epochs for the {P['profile']} profile "
              f"(baselines: {P['baseline_epochs']})")
    return (f"**Run:** leaderboard on `{P['dataset']}` (corpus `{P['corpus']}`), profile `{P['profile']}`, "
            f"training seeds {P['seeds']}; {budget}.")
