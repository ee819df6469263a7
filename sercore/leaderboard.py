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
               seed: int, features=None, latency_utterances: int = 20) -> dict:
    """Train and test ``method`` on every fold with ``seed``; one leaderboard row. Its ``latency_ms`` is the
    mean over folds of the median time of the first ``latency_utterances`` test utterances, one at a time."""
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
        lat.append(_latency_ms(model, method, feats, y, item["report"]["rows"], cfg, len(labels),
                               n=latency_utterances))

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
              seeds: Sequence[int] = (0, 1, 2), progress: bool | None = None,
              latency_utterances: int = 20, where: str = "leaderboard") -> pd.DataFrame:
    """Every method × seed on the same folds; one row each (see the module docstring). ``where`` begins
    each progress line (:func:`sercore.train.progress_stage`), followed by the method and the seed:
    ``leaderboard/emodb/quick | method ctmam (2/6) | seed 0 | fold speaker03 | epoch 1/3 | ...``."""
    rows = []
    bar = tqdm(total=len(methods) * len(seeds), desc="leaderboard", disable=not show_progress(progress))
    shared: dict = {}                          # one extraction per feature function (the baselines share MFCCs)
    for i, m in enumerate(methods, 1):
        feats = None
        stage = f"{where} | method {m.name} ({i}/{len(methods)})"
        if not missing_modalities(m, manifest):
            if m.features not in shared:       # once per method: every seed sees the same features; the
                with train.progress_stage(f"{stage} | features"):     # chapters' runs filled the cache already
                    shared[m.features] = m.features(manifest)
            feats = shared[m.features]
        for s in seeds:
            bar.set_postfix_str(f"{m.name}, seed {s}")
            with train.progress_stage(f"{stage} | seed {s}"):
                rows.append(run_method(m, manifest, labels, folds, s, features=feats,
                                       latency_utterances=latency_utterances))
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


def display_table(summ: pd.DataFrame, intervals: pd.DataFrame | None = None,
                  collapsed: dict | None = None, label_free: dict | None = None) -> pd.DataFrame:
    """The summary as the book prints it: ``mean ± std`` strings (std over seeds), parameter counts
    with separators; with ``intervals`` (:func:`compare`'s), each method's UA 95% interval; with
    ``collapsed`` (:func:`collapsed_methods`), a flag on each method that predicted one class on a test
    set; with ``label_free`` (:func:`label_free_methods`), a flag on each method that reads only a modality
    without label information here. A method that could not run (its modality is absent) reads "absent"
    with the reason, never a score."""
    collapsed, label_free = collapsed or {}, label_free or {}
    out = pd.DataFrame(index=summ["method"])
    out["paper"] = summ["paper"].to_numpy()
    out["modalities"] = summ["modalities"].to_numpy()
    for k, label in (("ua", "UA"), ("wa", "WA"), ("macro_f1", "macro F1")):
        vals = []
        for _, r in summ.iterrows():
            if _skip_reason(r):
                vals.append("absent")
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
    import re

    def short(why: str) -> str:          # "predicts only 'angry', 3 of 3 seed(s)": the prose has the rest
        return re.sub(r" on \d+ of \d+ test set\(s\) in", ",", why)

    flags = ["; ".join(x for x in (
        f"absent: {_skip_reason(r)}" if _skip_reason(r) else "",
        f"collapsed: {short(collapsed[r['method']])}" if r["method"] in collapsed else "",
        "guessing: its only modality carries no label here" if r["method"] in label_free else "") if x)
        for _, r in summ.iterrows()]
    # the flag beside the scores it qualifies, where a reader sees it
    out.insert(out.columns.get_loc("UA 95% interval" if "UA 95% interval" in out.columns else "UA") + 1,
               "flag", flags)
    return out


def rows_display(rows: pd.DataFrame) -> pd.DataFrame:
    """Every (method, seed) row as the book prints it: metrics to 2 decimals, counts whole with
    separators, "absent" with the reason for a method that could not run (its note is in the notes table)."""
    def f2(v):
        return f"{v:.2f}" if v is not None and pd.notna(v) else "\u2013"

    def whole(v):
        return f"{int(v):,}" if v is not None and pd.notna(v) else "\u2013"

    out = []
    for _, r in rows.iterrows():
        why = _skip_reason(r)
        out.append({"method": r["method"], "seed": int(r["seed"]),
                    **{label: ("absent" if why else f2(r.get(k))) for k, label in
                       (("ua", "UA"), ("wa", "WA"), ("macro_f1", "macro F1"), ("weighted_f1", "weighted F1"))},
                    "folds": whole(r.get("folds")), "batch size": whole(r.get("batch_size")),
                    "parameters": whole(r.get("n_params")), "train s": f2(r.get("train_s")),
                    "ms / utt": f2(r.get("latency_ms")), "absent because": why or "\u2013"})
    return pd.DataFrame(out)


def plot(summ: pd.DataFrame, ax=None, title: str | None = None, intervals: pd.DataFrame | None = None,
         n_classes: int | None = None, collapsed: dict | None = None, label_free: dict | None = None):
    """UA per method, a horizontal bar each: whiskers are the 95% interval when ``intervals``
    (:func:`compare`'s) is given, else the std over seeds. With ``n_classes`` K, a dashed line at chance
    (100/K: the UA of any constant or random guess). A collapsed method (``collapsed``,
    :func:`collapsed_methods`) is hatched and labelled; one that reads only a label-free modality
    (``label_free``, :func:`label_free_methods`) is labelled "guessing"; a method that could not run is
    listed as absent, with no bar (its score is not chance, it does not exist)."""
    import matplotlib.pyplot as plt

    collapsed = collapsed or {}
    ran = summ[summ["skipped"].isna()]
    absent = summ[summ["skipped"].notna()]
    rows = [*list(ran["method"]), *list(absent["method"])][::-1]          # best at the top
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * max(len(rows), 1) + 1.3))
    ypos = {m: i for i, m in enumerate(rows)}
    colors = ["tab:gray" if p == "baseline" else "tab:blue" for p in ran["paper"]]
    if intervals is not None:
        lo = intervals["low"].reindex(ran["method"]).to_numpy()
        hi = intervals["high"].reindex(ran["method"]).to_numpy()
        err = np.nan_to_num(np.stack([ran["ua"].to_numpy() - lo, hi - ran["ua"].to_numpy()]).clip(0))
        label = "UA (%), whiskers: 95% interval"
    else:
        err, label = ran["ua_std"].fillna(0).to_numpy(), "UA (%), whiskers: std over seeds"
    ys = [ypos[m] for m in ran["method"]]
    bars = ax.barh(ys, ran["ua"], xerr=err, color=colors, capsize=3)
    upper = np.asarray(err)[1] if np.ndim(err) == 2 else np.asarray(err)
    for bar, m, up in zip(bars, ran["method"], upper):
        if m in collapsed:
            bar.set_hatch("///")
            bar.set_facecolor("white")
            bar.set_edgecolor("tab:red")
            ax.text(bar.get_width() + float(up) + 1.5, bar.get_y() + bar.get_height() / 2, "collapsed: one class",
                    va="center", fontsize=8, color="tab:red")
    for _, r in absent.iterrows():
        ax.text(1, ypos[r["method"]], f"absent: {_skip_reason(r)}", va="center", fontsize=8, color="dimgray",
                style="italic", zorder=5, bbox=dict(facecolor="white", edgecolor="none", pad=1))
    label_free = label_free or {}
    ax.set_yticks(range(len(rows)), [f"{m} (collapsed)" if m in collapsed else f"{m} (guessing)" if m in label_free
                                     else m for m in rows])
    if n_classes:
        chance = 100.0 / n_classes
        ax.axvline(chance, color="tab:red", ls="--", lw=1, label=f"chance: 1/{n_classes} = {chance:.1f}%",
                   gid="chance")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(label)
    ax.set_xlim(0, 100)
    if title:
        import textwrap

        ax.set_title("\n".join(textwrap.wrap(title, 75)), fontsize=10)
    return ax


def epochs_text(P: dict) -> str:
    """The board's epoch budget in words: "3 epochs" (one shared budget) or each chapter's own."""
    if P.get("epochs"):
        return f"{P['epochs']} epoch{'s' if P['epochs'] != 1 else ''}"
    return f"each method's own epochs (baselines: {P.get('baseline_epochs')})"


def board_scope(protocol: dict, P: dict, n_test: int | None = None) -> dict:
    """What a board measured, from its protocol record (:func:`sercore.experiment.describe_folds`) and
    parameters: ``{"folds", "total", "n_test", "epochs", "seeds", "text"}``; ``text`` reads
    "1 of 10 folds, 49 test utterances, 3 epochs, 3 seeds (0, 1, 2)" (the protocol's whole set of
    folds reads "all 5 folds")."""
    n = int(protocol.get("n_folds") or len(protocol.get("folds", [])) or 0)
    total = int(protocol.get("n_folds_total") or n)
    if n_test is None:
        n_test = sum(int(f["sizes"]["test"]) for f in protocol.get("folds", []))
    seeds = [int(s) for s in (P.get("seeds") or [P.get("seed", 0)])]
    folds = (f"{n} of {total} fold{'s' if total != 1 else ''}" if n < total else
             f"all {n} folds" if n > 1 else "1 test set")
    text = (f"{folds}, {n_test:,} test utterances, {epochs_text(P)}, {len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
            f"({', '.join(map(str, seeds))})")
    return {"folds": n, "total": total, "n_test": int(n_test), "epochs": P.get("epochs"), "seeds": seeds,
            "text": text}


def board_title(P: dict, scope: dict) -> str:
    """The board's title, as the summary table's caption and the plot's title."""
    return f"UA on {P['dataset']} ({P['profile']} profile): {scope['text']}"


# ----------------------------------------------------------------------------- the speaker confound

def speaker_confound(P: dict, corpus, summ: pd.DataFrame | None = None) -> str:
    """What a speaker-only predictor (:func:`sercore.confounds.speaker_only`) scores on this board's folds,
    in one paragraph: flagged "speaker and emotion confounded: a speaker-only predictor scores X" where it
    comes within :data:`sercore.confounds.MARGIN` points of the board's best method (``summ``,
    :func:`summary`), else the number beside chance. Empty when the corpus has no speaker ids."""
    from . import confounds
    from .experiment import folds as make_folds

    m = corpus.manifest
    if "speaker" not in m.columns or m["speaker"].isna().all():
        return ""
    res = confounds.speaker_only(m, make_folds(m, P), corpus.labels)
    ran = summ[summ["skipped"].isna()] if summ is not None else None
    best = (float(ran["ua"].max()), ran.loc[ran["ua"].idxmax(), "method"]) if ran is not None and len(ran) else None
    unseen = (f"; {res['unseen_utterances']:,} of its {res['n_test']:,} test utterances are of speakers training "
              "never heard, and get the training majority class" if res["unseen_utterances"] else "")
    if best and res["ua"] >= best[0] - confounds.MARGIN:
        return (f"**Speaker and emotion confounded: a speaker-only predictor scores {res['ua']:.1f}** UA on these "
                f"folds (WA {res['wa']:.1f}), against {best[0]:.1f} for the best method here, {best[1]}, and "
                f"{res['chance_ua']:.1f} for chance. It never hears an utterance: it gives each test utterance "
                f"the class its speaker has most often in training{unseen}. On this corpus the board ranks how "
                "well methods recognise speakers as much as emotion.")
    against = f"against {res['chance_ua']:.1f} for chance" + (f" and {best[0]:.1f} for the best method here, "
                                                               f"{best[1]}" if best else "")
    near_chance = res["ua"] <= res["chance_ua"] + confounds.MARGIN
    return (f"A speaker-only predictor (each test utterance gets the class its speaker has most often in "
            f"training{unseen}) scores {res['ua']:.1f} UA on these folds, {against}"
            + (": the folds do not let a method score by recognising speakers." if near_chance else "."))


# ----------------------------------------------------------------------------- label-free modalities

def label_free_modalities(manifest: pd.DataFrame, labels: Sequence[str] | None = None) -> dict[str, str]:
    """Modalities the corpus has but whose content says nothing about the label: today the text of a
    scripted corpus, where every sentence is spoken in every class (Emo-DB's ten sentences, EMOVO's
    fourteen). A method that reads only such a modality can do no better than guess; the board says so
    beside its score. Returns {modality: why}."""
    out = {}
    if "text" in modalities(manifest) and "y" in manifest.columns:
        texts = manifest["text"].astype(str).str.strip()
        per_text = manifest.groupby(texts)["y"].nunique()
        n_classes = manifest["y"].nunique()
        if len(per_text) and n_classes > 1 and (per_text == n_classes).all():
            out["text"] = (f"every one of its {len(per_text)} sentences is spoken in every class, so the "
                           "text alone carries no label information")
    return out


def label_free_methods(summ: pd.DataFrame, free: dict[str, str]) -> dict[str, str]:
    """Methods of the summary that read only label-free modalities (:func:`label_free_modalities`)."""
    out = {}
    for _, r in summ.iterrows():
        mods = [m for m in str(r.get("modalities") or "").split("+") if m]
        if mods and not _skip_reason(r) and all(m in free for m in mods):
            out[r["method"]] = f"reads only {' and '.join(mods)}: {'; '.join(free[m] for m in mods)}"
    return out


# ----------------------------------------------------------------------------- collapsed models

def collapsed_methods(pred: pd.DataFrame, labels: Sequence[str] | None = None) -> dict[str, str]:
    """Methods that collapsed: on some test set (a fold's test utterances, holding two classes or more)
    they predicted one class for every utterance. From the kept test predictions
    (:func:`predictions`); returns {method: what happened, in words}, e.g. "predicts only 'neutral' on
    1 of 1 test set(s) in 3 of 3 seed(s)". Such a model measures its class prior, not emotion: the board
    flags it and :func:`compare` leaves it out of the paired tests."""
    out = {}
    if pred is None or pred.empty:
        return out
    for method, g in pred.groupby("method", sort=False):
        n_seeds = g["seed"].nunique()
        per = g.groupby(["seed", "fold"]).agg(classes=("y_true", "nunique"), predicted=("y_pred", "nunique"),
                                              first=("y_pred", "first"))
        bad = per[(per["classes"] >= 2) & (per["predicted"] == 1)]
        if bad.empty:
            continue
        n_sets = g["fold"].nunique()
        bad_seeds = bad.index.get_level_values("seed").nunique()
        bad_sets = bad.index.get_level_values("fold").nunique()
        classes = sorted({int(c) for c in bad["first"]})
        names = [f"'{labels[c]}'" if labels is not None and c < len(labels) else str(c) for c in classes]
        out[method] = (f"predicts only {' / '.join(names)} on {bad_sets} of {n_sets} test set(s) in "
                       f"{bad_seeds} of {n_seeds} seed(s)")
    return out


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
    rows = train_all(method_list, corpus.manifest, corpus.labels, fold_list, seeds=P["seeds"],
                     latency_utterances=P["latency_utterances"],
                     where=f"leaderboard/{P['dataset']}/{P['profile']}")
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
            n_resamples: int = 2000, alpha: float = 0.05, labels: Sequence[str] | None = None) -> dict:
    """Every pair of methods that ran and did not collapse, on the same test utterances and seeds.

    ``pred``: :func:`predictions` (or ``predictions.csv`` read back). Returns {"pairs": one row per pair
    (:func:`sercore.stats.pairwise`: difference, paired-bootstrap interval, permutation p, Holm p,
    significant), "pairs_display": the same as the book prints it (p-values as ``< 0.001`` or to 3
    decimals), "matrix": the differences as a square table (row minus column), "text": the prose that
    reads them (:func:`sercore.stats.interpret`), "intervals": per method (collapsed ones too), the
    bootstrap interval of ``metric``, "collapsed": :func:`collapsed_methods`}. A collapsed method (one
    class predicted on a test set) is left out of the pairs, and the text says so. Methods whose seeds
    differ from the others' are compared on the seeds they share.
    """
    from . import stats

    names = list(order) if order is not None else list(dict.fromkeys(pred["method"]))
    names = [n for n in names if n in set(pred["method"])]
    collapsed = collapsed_methods(pred[pred["method"].isin(names)], labels)
    shared = set.intersection(*[set(pred.loc[pred["method"] == n, "seed"]) for n in names]) if names else set()
    pred = pred[pred["seed"].isin(shared)]
    arrays = {n: prediction_arrays(pred, n) for n in names}
    ref = arrays[names[0]] if names else None
    for n, a in arrays.items():
        if len(a["rows"]) != len(ref["rows"]) or (a["rows"] != ref["rows"]).any():
            raise ValueError(f"{n} was tested on other utterances than {names[0]}: methods can only be "
                             "paired on the same test set")
    tested = [n for n in names if n not in collapsed]
    pairs = (stats.pairwise(ref["y_true"], {n: arrays[n]["y_pred"] for n in tested}, ref["fold"],
                            n_classes=n_classes, metric=metric, n_resamples=n_resamples, alpha=alpha)
             if len(tested) > 1 else pd.DataFrame(columns=["a", "b", "diff", "low", "high", "p", "n", "seeds",
                                                           "p_holm", "significant"]))
    label = {"ua": "UA", "wa": "WA", "macro_f1": "macro F1"}.get(metric, metric)
    ivs = {n: stats.bootstrap_ci(ref["y_true"], a["y_pred"], ref["fold"], n_classes=n_classes,
                                 metrics=[metric], n_resamples=n_resamples)[metric] for n, a in arrays.items()}
    table = pd.DataFrame({f"{label} (%)": {n: iv["estimate"] for n, iv in ivs.items()},
                          "95% interval": {n: f"[{iv['low']:.1f}, {iv['high']:.1f}]" for n, iv in ivs.items()},
                          "low": {n: iv["low"] for n, iv in ivs.items()},
                          "high": {n: iv["high"] for n, iv in ivs.items()}})
    left_out = ""
    if collapsed:
        left_out = ("Left out of the paired tests, because a model that predicts one class for a whole test "
                    "set measures its class prior, not emotion: "
                    + "; ".join(f"{m} ({why})" for m, why in collapsed.items()) + ". ")
    text = (stats.interpret(pairs, label) if len(tested) > 1 else
            "Fewer than two methods ran without collapsing, so no pair was tested.")
    return {"pairs": pairs, "pairs_display": stats.pairs_display(pairs) if len(tested) > 1 else pd.DataFrame(),
            "matrix": stats.difference_matrix(pairs, tested) if len(tested) > 1 else pd.DataFrame(),
            "text": left_out + text, "intervals": table.round(2), "seeds": sorted(int(s) for s in shared),
            "metric": metric, "collapsed": collapsed, "tested": tested}


# ----------------------------------------------------------------------------- across corpora

def _profile_rank(profile: str) -> int:
    """0 for the most complete profile (reference), then paper, quick, smoke; unknown profiles last."""
    from .schemas.common import PROFILES

    order = list(reversed(PROFILES))
    return order.index(profile) if profile in order else len(order)


def method_key(row: dict) -> str:
    """A method's name across corpora: a chapter's method is one method on every corpus, whatever variant
    the corpus's modalities made of it ("MDAT" on Emo-DB, "MDAT (audio only)" on URDU), named without
    the variant; a baseline is its own name."""
    import re

    name = str(row["method"])
    if row.get("paper") in (None, "", "baseline"):
        return name
    return re.sub(r"\s*\([^()]*\bonly\)$", "", name)


def _board(dataset: str, profile: str, metrics: list[dict], source: str, published: bool,
           metric: str = "ua") -> dict:
    """One corpus's board from the metrics.json of its run(s) (several: the seed records of one
    published cell, pooled): each method's ``metric`` as the mean over every (run, training seed) row."""
    rows = [r for m in metrics for r in (m.get("extra") or {}).get("leaderboard", [])]
    if not rows:      # a metrics.json written before rows were kept: its summary (mean over seeds)
        rows = [dict(r, seed=0) for m in metrics for r in (m.get("extra") or {}).get("summary", [])]
    scores: dict[str, list[float]] = {}
    absent: dict[str, str] = {}
    variants: dict[str, str] = {}
    for r in rows:
        key = method_key(r)
        variants.setdefault(key, r["method"])
        why = r.get("skipped")
        if isinstance(why, str) and why:
            absent.setdefault(key, why)
        elif r.get(metric) is not None and np.isfinite(r.get(metric)):
            scores.setdefault(key, []).append(float(r[metric]))
    first = metrics[0]
    params = (first.get("extra") or {}).get("params") or {}
    seeds = sorted({int(r["seed"]) for r in rows if r.get("seed") is not None})   # every record's, pooled
    scope = board_scope(first.get("protocol") or {}, {**params, "profile": profile, **({"seeds": seeds} if seeds else {})})
    return {"dataset": dataset, "profile": profile, "source": source, "published": published,
            "scores": {m: float(np.mean(v)) for m, v in scores.items()},
            "absent": {m: why for m, why in absent.items() if m not in scores}, "variants": variants,
            "runs": len(metrics), "scope": scope["text"], "started": str(first.get("started", ""))}


class Boards(list):
    """:func:`find_boards`' boards, and ``invalid``: one line per leaderboard metrics.json that could not be read."""

    def __init__(self, boards=(), invalid=()):
        super().__init__(boards)
        self.invalid = list(invalid)


def find_boards(results_root=None, records_root=None, results: bool = True) -> Boards:
    """Every real corpus's leaderboard, one per corpus: the runs in ``results/leaderboard/<dataset>/<profile>/``
    and the published records in ``records/leaderboard/<dataset>/<profile>/seed-*`` (seeds pooled). Where a
    corpus has several, the most complete profile wins (reference, paper, quick, smoke), then the newer run.
    Boards on the synthetic corpus are not boards; an invalid leaderboard metrics.json is not either, and
    is named in the result's ``invalid``. ``results=False`` reads the published records only. Sorted by
    dataset."""
    from pathlib import Path

    from .paths import project_root
    from .records import published_cells
    from .results import collect

    cands: dict[str, list[dict]] = {}
    invalid = []
    root = Path(results_root) if results_root else None
    for d in (collect(root) if results else []):
        if "error" in d and Path(d["_path"]).parts[-4:-3] == ("leaderboard",):
            invalid.append(f"{Path(d['_path']).relative_to(Path(d['_path']).parents[3])}: "
                           f"{d['error'].splitlines()[-1].strip()}")
        if "error" in d or d.get("paper") != "leaderboard" or d.get("synthetic"):
            continue
        cands.setdefault(d["dataset"], []).append(
            _board(d["dataset"], d["profile"], [d], f"results/leaderboard/{d['dataset']}/{d['profile']}", False))
    rec_root = Path(records_root) if records_root else project_root() / "records"
    if rec_root.is_dir():
        for (paper, dataset, profile), items in published_cells(rec_root, paper="leaderboard").items():
            mets = [it["metrics"] for it in items]
            if any(m.get("synthetic") for m in mets):
                continue
            seeds = ", ".join(str(it["provenance"]["seed"]) for it in items)
            cands.setdefault(dataset, []).append(
                _board(dataset, profile, mets, f"records/leaderboard/{dataset}/{profile} (published, "
                       f"seed{'s' if len(items) > 1 else ''} {seeds})", True))
    out = Boards(invalid=invalid)
    for ds in sorted(cands):
        best = sorted(cands[ds], key=lambda b: b["started"], reverse=True)          # newer first ...
        best = sorted(best, key=lambda b: _profile_rank(b["profile"]))               # ... within the best profile
        if best[0]["scores"]:
            out.append(best[0])
    return out


def published_on_these_files(dataset: str, data_root: str | None = None, records_root=None) -> str | None:
    """Where the published reference board of ``dataset`` is (``records/leaderboard/<dataset>/reference``,
    with its seeds) when every one of its records read the very corpus files found under ``data_root``
    now (their ``corpus_fingerprint`` equals the version of the corpus loaded with the records'
    parameters, :meth:`sercore.experiment.Corpus.version`); else None (no such board, other files, or a
    corpus that cannot be loaded here). ``sercore book --run`` does not re-run such a board at quick size."""
    from . import experiment
    from .data import data_root as resolve_root
    from .records import published_cells

    items = published_cells(records_root, "leaderboard", dataset).get(("leaderboard", dataset, "reference"), [])
    if not items:
        return None
    P = {**items[0]["provenance"]["params"], "data_root": str(resolve_root(data_root))}
    try:
        version = experiment.load_corpus(P).version()
    except Exception:      # noqa: BLE001 - a corpus that does not load here is not the published one
        return None
    if any(str(it["provenance"]["corpus_fingerprint"]) != version for it in items):
        return None
    seeds = ", ".join(str(it["provenance"]["seed"]) for it in items)
    return f"records/leaderboard/{dataset}/reference, seed{'s' if len(items) > 1 else ''} {seeds}"


def rank_across(boards: Sequence[dict], metric: str = "ua", alpha: float = 0.05) -> dict:
    """Methods ranked over the corpora of ``boards`` (:func:`find_boards`): per corpus the methods' ranks by
    ``metric`` (1 = best), the Friedman test and Nemenyi's critical difference
    (:func:`sercore.stats.friedman_nemenyi`).

    Only methods with a score on every corpus are ranked; a method absent on some corpus (it needs a
    modality that corpus lacks) is left out of the ranking and named in ``left_out`` with the reason.
    Returns {"boards", "scores": corpus x method table (NaN where absent), "ranked": methods ranked,
    "left_out": {method: why}, "result": the test or None, "text": what can be said, in one paragraph;
    when fewer than two corpora have boards, one sentence that says how many do and what is needed}.
    """
    from . import stats

    label = {"ua": "UA", "wa": "WA", "macro_f1": "macro F1"}.get(metric, metric)
    boards = list(boards)
    names = [b["dataset"] for b in boards]
    scores = pd.DataFrame({b["dataset"]: b["scores"] for b in boards}).T if boards else pd.DataFrame()
    out = {"boards": boards, "scores": scores, "ranked": [], "left_out": {}, "result": None, "metric": metric}
    if len(boards) < 2:
        have = ("No real corpus has a leaderboard run" if not boards else
                f"1 real corpus has a leaderboard run ({names[0]})")
        out["text"] = (f"{have}: ranking the methods across corpora (Friedman test and Nemenyi's "
                       "critical-difference diagram) needs leaderboard runs on at least 2 real corpora.")
        return out
    methods = list(dict.fromkeys(m for b in boards for m in [*b["scores"], *b["absent"]]))
    left_out = {}
    for m in methods:
        missing = [b for b in boards if m not in b["scores"]]
        if missing:
            left_out[m] = "; ".join(f"absent on {b['dataset']}" + (f" ({b['absent'][m]})" if m in b["absent"]
                                                                   else " (not on that board)")
                                    for b in missing)
    ranked = [m for m in methods if m not in left_out]
    out.update(ranked=ranked, left_out=left_out)
    left = ("" if not left_out else
            " Left out of the ranking, because a rank needs a score on every corpus: "
            + "; ".join(f"{m}: {why}" for m, why in left_out.items()) + ".")
    if len(ranked) < 2:
        out["text"] = (f"{len(boards)} real corpora have leaderboard runs ({', '.join(names)}), but fewer than 2 "
                       f"methods have a score on all of them, so there is nothing to rank.{left}")
        return out
    res = stats.friedman_nemenyi(scores[ranked], alpha=alpha)
    out["result"] = res
    ff = (f"; Iman-Davenport F_F = {res['iman_davenport']:.2f}, p {stats._p_clause(res['p_f'])}"
          if res["iman_davenport"] is not None else
          " (every corpus ranks the methods in the same order, so Iman-Davenport's F_F is undefined)")
    verdict = ("the mean ranks differ" if res["p"] <= alpha else
               "the mean ranks do not differ significantly")
    groups = [g for g in res["cliques"]]
    apart = ("no two methods are told apart (one bar joins them all)" if groups and len(groups[0]) == len(ranked)
             else "methods joined by a bar are not told apart; any two not joined differ")
    which = ", ".join(f"{b['dataset']}: {b['profile']}" for b in boards)
    out["text"] = (
        f"{len(ranked)} methods ranked by {label} on each of {len(boards)} real corpora "
        f"({which}; 1 = best). "
        f"Friedman chi2_F = {res['statistic']:.2f} ({res['k'] - 1} degree{'s' if res['k'] != 2 else ''} of freedom), "
        f"p {stats._p_clause(res['p'])}{ff}: at alpha {alpha} {verdict}. Nemenyi's critical difference CD = {res['cd']:.2f} (q = {res['q']:.3f}, "
        f"{res['k']} methods, {res['n']} corpora): {apart}. With {res['n']} corpora the test has little power: "
        f"a difference of mean ranks below CD is no evidence of equality.{left}")
    return out


def lacking(board: dict) -> set[str]:
    """The modalities ``board``'s corpus lacks, read from why methods were absent there ("corpus has no
    audio", "corpus has no text / video")."""
    out: set[str] = set()
    for why in board.get("absent", {}).values():
        why = str(why)
        if why.startswith("corpus has no "):
            out.update(w.strip() for w in why[len("corpus has no "):].split("/"))
    return out


def rank_by_modality(boards: Sequence[dict], metric: str = "ua", alpha: float = 0.05,
                     whole: dict | None = None) -> dict[str, dict]:
    """:func:`rank_across` again over the corpora that have each modality (audio, text), where that leaves
    out some corpora but keeps two or more: a method that needs audio is absent on a text-only corpus and
    so left out of the all-corpora ranking, but it is ranked among the corpora with audio. ``{modality:
    ranking}``, only for the subsets that rank more methods than the all-corpora ranking."""
    boards = list(boards)
    whole = whole or rank_across(boards, metric=metric, alpha=alpha)      # the all-corpora ranking, if not given
    out = {}
    for mod in ("audio", "text"):
        sub = [b for b in boards if mod not in lacking(b)]
        if 2 <= len(sub) < len(boards):
            r = rank_across(sub, metric=metric, alpha=alpha)
            if len(r["ranked"]) > len(whole["ranked"]):
                out[mod] = r
    return out


def ranking_table(ranking: dict) -> pd.DataFrame:
    """The ranking as the book prints it: one row per method, best mean rank first, then per corpus
    "UA (rank)"; methods left out of the ranking last, "absent" where they have no score."""
    if ranking["result"] is None:
        return pd.DataFrame()
    res = ranking["result"]
    ranks = res["rank_table"]
    metric = {"ua": "UA", "wa": "WA", "macro_f1": "macro F1"}.get(ranking["metric"], ranking["metric"])
    rows = []
    for m in [*res["ranks"].index, *ranking["left_out"]]:
        r = {"method": m, "mean rank": f"{res['ranks'][m]:.2f}" if m in res["ranks"] else "not ranked"}
        for b in ranking["boards"]:
            ds = b["dataset"]
            if m in b["scores"]:
                rk = f" ({ranks.loc[ds, m]:g})" if m in ranks.columns else ""
                ran_as = b.get("variants", {}).get(m, m)
                r[f"{ds} {metric} (rank)"] = f"{b['scores'][m]:.2f}{rk}" + (f", as {ran_as}" if ran_as != m else "")
            else:
                r[f"{ds} {metric} (rank)"] = "absent"
        rows.append(r)
    return pd.DataFrame(rows).set_index("method")


def boards_table(boards: Sequence[dict]) -> pd.DataFrame:
    """Which run each corpus's board is: profile, where it lies, and what it measured."""
    return pd.DataFrame([{"corpus": b["dataset"], "profile": b["profile"], "run": b["source"],
                          "measured on": b["scope"]} for b in boards]).set_index("corpus") if boards else pd.DataFrame()


class Ranking(dict):
    """:func:`rank_across`'s dict, as :func:`show_across_corpora` returns it: it has already been displayed,
    so a notebook cell that ends with the call shows nothing more (no repr of the dict)."""

    def _ipython_display_(self):
        return None


def show_across_corpora(results_root=None, records_root=None, metric: str = "ua", alpha: float = 0.05) -> Ranking:
    """Display the cross-corpus ranking in a notebook: every leaderboard run in ``results/`` and every
    published one in ``records/leaderboard/`` (:func:`find_boards`); with boards on two or more real
    corpora, the reading (:func:`rank_across`), the critical-difference diagram
    (:func:`sercore.stats.plot_cd`), the ranking table and which run each corpus's board is; otherwise the
    one sentence that says how many corpora have boards and what is needed. Where a modality some corpora
    lack leaves methods out, the same again over the corpora that have it (:func:`rank_by_modality`).
    Returns :func:`rank_across`'s dict, with "figure" (the diagram, or None) and "by_modality", as a
    :class:`Ranking` (a cell ending with the call shows nothing more)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from . import stats

    boards = find_boards(results_root, records_root)
    ranking = Ranking(rank_across(boards, metric=metric, alpha=alpha))
    ranking["figure"], ranking["by_modality"] = None, {}
    display(Markdown(ranking["text"]))
    if boards.invalid:
        display(Markdown("Not read (invalid leaderboard metrics.json): " + "; ".join(f"`{x}`" for x in boards.invalid)))
    if ranking["result"] is None:
        return ranking
    label = metric.upper() if metric != "macro_f1" else "macro F1"

    def draw(r: dict, where: str):
        ax = stats.plot_cd(r["result"], title=f"Mean rank by {label} over {r['result']['n']} {where} "
                                              f"(Nemenyi CD at alpha {alpha})")
        display(ax.figure)
        plt.close(ax.figure)
        display(ranking_table(r))
        return ax.figure

    ranking["figure"] = draw(ranking, "corpora")
    display(boards_table(ranking["boards"]))
    # methods left out above (a modality some corpus lacks) ranked where they can run
    ranking["by_modality"] = rank_by_modality(boards, metric=metric, alpha=alpha, whole=ranking)
    for mod, r in ranking["by_modality"].items():
        names = ", ".join(b["dataset"] for b in r["boards"])
        display(Markdown(f"**Over the corpora with {mod}** ({names}): the methods that need {mod} are ranked "
                         f"here, where every one of them ran. {r['text']}"))
        if r["result"] is not None:
            r["figure"] = draw(r, f"corpora with {mod}")
    return ranking


def setting_note(P: dict, corpus=None) -> str:
    """One line saying what this board trained: corpus, profile, seeds and the epoch budget; with the
    loaded ``corpus``, also its folds (k of K) and test utterances (:func:`board_scope`)."""
    budget = (f"every method trains the same {epochs_text(P)}" if P["epochs"] else
              f"each method trains its own chapter's epochs for the {P['profile']} profile "
              f"(baselines: {P['baseline_epochs']})")
    line = (f"**Run:** leaderboard on `{P['dataset']}` (corpus `{P['corpus']}`), profile `{P['profile']}`, "
            f"training seeds {', '.join(map(str, P['seeds']))}; {budget}.")
    if corpus is not None:
        from .experiment import describe_folds, folds as make_folds

        sc = board_scope(describe_folds(make_folds(corpus.manifest, P), P), P)
        line += f" **Measured on:** {sc['text']}."
        if sc["folds"] < sc["total"]:
            line += (f" A board on {sc['folds']} of {sc['total']} folds ranks the methods on those test "
                     "utterances only; it is not the protocol's full result.")
    return line
