"""CTMAM chapter (Tang et al.): segmented MFCC features, the paper's training recipe, the ablation
(Table V) and efficiency (Table VI) grids, and every reported-vs-measured comparison row.

:func:`run` does every stage ``book/ctmam.ipynb`` shows, from the run's resolved parameters;
:func:`method` gives the leaderboard the same model and recipe. The readings of the paper's
ambiguities are in :mod:`sercore.models.ctmam` (``models.readings("ctmam")``).
"""
from __future__ import annotations

import statistics
from dataclasses import replace

import numpy as np
import pandas as pd

from .. import experiment, models, reference
from ..metrics import per_class as _per_class
from ..results import ChapterResult, compare_with_paper, comparison, records_predictions
from ..train import TrainConfig, avoid_single_item_batches, count_parameters, cross_validate
from . import Method

PAPER = "ctmam"

#: the paper's feature setting (Sec. III-A, IV-B): 26 MFCCs (librosa defaults: n_fft 2048, hop 512,
#: 128 mel bands) of 1.8 s segments every 0.2 s (1.6 s overlap) at 16 kHz, short utterances looped.
FEATURES = dict(sr=16000, n_mfcc=26, n_fft=2048, hop_length=512, n_mels=128, seg_s=1.8, seg_hop_s=0.2,
                pad="loop")

#: reference table of the headline (Tables I/II) and per-class (III/IV) numbers per dataset
HEADLINE = {"iemocap": ("Table I", "Table III"), "emodb": ("Table II", "Table IV")}

#: our label names -> the paper's per-class row names (Tables III/IV; Emo-DB "joy" is "Happy")
CLASS_ROWS = {"neutral": "Neutral", "sad": "Sad", "angry": "Angry", "happy": "Happy", "boredom": "Boredom",
              "disgust": "Disgust", "fear": "Fear"}

PAPER_REFERENCE_DATASET_NOTE = ("the paper's Tables V/VI do not name their corpus; their 'Proposed' row equals "
                                "Table I, so the reported numbers are read as IEMOCAP")


def segment_features(manifest: pd.DataFrame, progress: bool | None = None, **overrides) -> list[np.ndarray]:
    """Segmented MFCCs per manifest row: a list of float32 ``(n_seg, 26, 57)`` arrays (cached).

    An utterance shorter than 1.8 s is looped to 1.8 s (one segment); a longer one gives windows
    every 0.2 s plus one aligned with its end when the hops leave a tail (``features.segment``).
    """
    from ..features import extract

    cfg = {**FEATURES, **overrides}
    return [np.asarray(f, dtype=np.float32) for f in extract(manifest, "mfcc", cache=True, progress=progress, **cfg)]


def train_config(P: dict) -> TrainConfig:
    """The paper's recipe (Sec. IV-B: Adam, lr x ``lr_gamma`` per epoch down to ``lr_min``, mixup,
    cross-entropy) with the run's numbers (``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
    ``mixup_alpha``, ``lr_gamma``, ``lr_min``, ``seed`` of ``P``). No validation split exists in the
    paper's protocol, so the last epoch's weights are tested."""
    return TrainConfig(epochs=P["epochs"], batch_size=P["batch_size"], lr=P["lr"], weight_decay=P["weight_decay"],
                       optimizer="adam", scheduler="exp", gamma=P["lr_gamma"], lr_min=P["lr_min"],
                       mixup_alpha=P["mixup_alpha"], inputs=("x",), seed=int(P["seed"]))


def build_variant(base: str, suffix: str, n_classes: int):
    """A fresh model: the ``base`` preset's config with the overrides of variant ``suffix``
    (``""`` = the proposed model; see ``sercore.models.ctmam.VARIANTS``)."""
    from ..models.ctmam import VARIANTS

    if suffix not in VARIANTS:
        raise KeyError(f"unknown CTMAM variant {suffix!r}; known: {sorted(VARIANTS)}")
    return models.create(base, n_classes=n_classes, **VARIANTS[suffix][1])


def parameter_table(base: str = "ctmam", n_classes: int = 4) -> pd.DataFrame:
    """Table VI (and the Table V ablations): our parameter count of every variant beside the paper's.

    ``base`` / ``n_classes`` pick the configuration the variants modify; the paper's counts are for the
    IEMOCAP configuration (``ctmam``, 4 classes), so only that setting is comparable.
    """
    from ..models.ctmam import VARIANTS

    rows = []
    for suffix, (row, over) in VARIANTS.items():
        ours = count_parameters(build_variant(base, suffix, n_classes))
        rep = reference.get(PAPER, "Table VI", row, "params", default=None)
        rows.append({"variant": suffix or "proposed", "paper row": row,
                     "table": "Table V" if rep is None else "Table VI",
                     "params (ours)": ours, "params (paper)": None if rep is None else int(rep),
                     "difference": None if rep is None else int(ours - rep)})
    df = pd.DataFrame(rows).drop_duplicates("variant").set_index("variant")
    return df.astype({"params (paper)": "Int64", "difference": "Int64"})


def train_variants(suffixes, base: str, features, y, folds, cfg: TrainConfig, labels, progress=None, *,
                   monitor_test: bool = False, checkpoint_dir=None, stage: str = "") -> dict:
    """Train each variant on the same folds; returns ``{suffix: {"metrics", "per_class", "confusion",
    "n_params", "seconds", "epochs", "batch_size", "history", "cv", "predictions"}}`` (``predictions``:
    one dict per test utterance: fold, manifest row, true and predicted class index). The batch size
    grows by one when a fold's training segments would leave a last batch of a single segment.

    monitor_test: record the test set's metrics after every epoch in ``history`` (for
    :func:`selected_on_test`; the tested model stays the last epoch's). checkpoint_dir: each variant
    checkpoints every epoch under ``<checkpoint_dir>/<variant>/<fold>`` and a killed run resumes there.
    stage: prefix of the progress lines (``sercore.train.report_progress``)."""
    from pathlib import Path

    from tqdm.auto import tqdm

    from ..paths import show_progress
    from ..train import progress_stage

    # a last training batch of one segment would break the batch norm of the SE gate (pooled to 1x1)
    cfg = avoid_single_item_batches(cfg, [sum(len(features[i]) for i in f.train) for f in folds])
    out = {}
    suffixes = list(suffixes)
    for n, s in enumerate(tqdm(suffixes, desc="variants", disable=not show_progress(progress))):
        build = lambda s=s: build_variant(base, s, len(labels))
        vcfg = cfg if checkpoint_dir is None else replace(cfg, checkpoint_dir=str(Path(checkpoint_dir) / (s or "proposed")))
        with progress_stage(f"{stage}variant {s or 'proposed'} ({n + 1}/{len(suffixes)})"):
            cv = cross_validate(build, features, y, folds, vcfg, labels, segmented=True, monitor_test=monitor_test)
        preds = [{"fold": str(f["name"]), "row": int(r), "y_true": int(t), "y_pred": int(p)}
                 for f in cv.folds for r, t, p in zip(f["report"]["rows"], f["report"]["y_true"], f["report"]["y_pred"])]
        out[s] = {"metrics": cv.summary["mean"], "per_class": cv.pooled["per_class"],
                  "confusion": cv.pooled["confusion"], "n_params": count_parameters(build()),
                  "seconds": round(cv.seconds, 1), "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                  "history": cv.folds[0]["fit"]["history"], "cv": cv.to_json(), "predictions": preds}
    return out


def selected_on_test(trained: dict) -> dict | None:
    """What choosing the epoch on the test set would report (the authors' ``train_Emodb.py`` keeps the
    best test epoch): per fold, the epoch with the highest test WA and its WA/UA, and their mean. Needs
    histories recorded with ``monitor_test``; None otherwise. Not a result: the test set chose it."""
    from ..train import test_selected

    sel = test_selected(trained["cv"], by="wa")
    if sel is None:
        return None
    return {**sel, "selected_on": "test WA (accuracy)",
            "note": "epoch chosen on the test set, as the authors' train_Emodb.py reports it: optimistic, "
                    "not a result of this reproduction (the headline tests the last epoch)"}


def predictions_frame(trained: dict, manifest: pd.DataFrame, labels) -> pd.DataFrame:
    """Per-utterance test predictions of every trained variant: variant, fold, manifest row, utt_id,
    y_true / y_pred (class names). Written as ``predictions.csv`` beside ``metrics.json``."""
    rows = []
    for s, t in trained.items():
        for p in t["predictions"]:
            rows.append({"variant": s or "proposed", "fold": p["fold"], "row": p["row"],
                         "utt_id": str(manifest["utt_id"].iloc[p["row"]]),
                         "y_true": labels[p["y_true"]], "y_pred": labels[p["y_pred"]]})
    return pd.DataFrame(rows, columns=["variant", "fold", "row", "utt_id", "y_true", "y_pred"])


def cap_segments(features, max_segments: int | None):
    """Keep at most ``max_segments`` evenly spaced segments per utterance (the paper uses every
    segment). ``None`` returns the features unchanged."""
    if not max_segments:
        return features
    out = []
    for f in features:
        idx = np.unique(np.linspace(0, len(f) - 1, min(len(f), int(max_segments))).round().astype(int))
        out.append(f[idx])
    return out


def paper_eq25(confusion: dict) -> dict:
    """WA and UA as the paper's Eqs. (25)-(27) define them: Acc_i = TP_i / (TP_i + FP_i) (a precision),
    WA = support-weighted mean, UA = plain mean over classes present. Percent."""
    cm = np.asarray(confusion["matrix"], dtype=float)
    pc = _per_class(cm)
    present = pc["support"] > 0
    acc = pc["precision"][present]
    n = pc["support"][present]
    return {"wa": 100.0 * float(np.sum(acc * n) / n.sum()), "ua": 100.0 * float(acc.mean())}


def reference_dataset(dataset: str) -> str:
    """Which of the paper's corpora a run is compared with (synthetic and others: IEMOCAP's 4 classes)."""
    return dataset if dataset in HEADLINE else "iemocap"


def headline_comparisons(dataset: str, metrics: dict, per_class: dict, note: str = "") -> list[dict]:
    """Tables I/II (WA, UA of 'Proposed') and III/IV (per-class precision/recall/F1, overall WA/UA)."""
    ref_ds = reference_dataset(dataset)
    t_main, t_class = HEADLINE[ref_ds]
    out = compare_with_paper(PAPER, t_main, "Proposed", {"wa": metrics["wa"], "ua": metrics["ua"]},
                             dataset=ref_ds, note=note)
    for lab, v in per_class.items():
        row = CLASS_ROWS.get(lab, lab)
        out += compare_with_paper(PAPER, t_class, row, {k: v[k] for k in ("precision", "recall", "f1")},
                                  dataset=ref_ds, note=note)
    out += compare_with_paper(PAPER, t_class, "WA", {"wa": metrics["wa"]}, dataset=ref_ds, note=note)
    out += compare_with_paper(PAPER, t_class, "UA", {"ua": metrics["ua"]}, dataset=ref_ds, note=note)
    return out


def headline_frame(dataset: str, metrics: dict, eq25: dict | None = None,
                   selected: dict | None = None) -> pd.DataFrame:
    """Tables I/II as printed (prior work and 'Proposed'), with our measured row(s) appended;
    ``selected`` (:func:`selected_on_test`) adds the test-set-selected epoch as its own, labelled row."""
    from ..results import reference_table

    ref_ds = reference_dataset(dataset)
    t = reference_table(PAPER, HEADLINE[ref_ds][0]).rename(columns={"wa": "WA", "ua": "UA"})
    t["source"] = f"reported ({ref_ds})"
    t.loc[f"CTMAM, measured here ({dataset})"] = [metrics["wa"], metrics["ua"], "measured, standard UA (recall)"]
    if eq25 is not None:
        t.loc[f"CTMAM, measured here ({dataset}), paper's Eq. 25"] = [eq25["wa"], eq25["ua"],
                                                                     "measured, precision-based (Eq. 25)"]
    if selected is not None:
        epochs = ", ".join(str(f["epoch"]) for f in selected["folds"])
        t.loc[f"CTMAM, epoch chosen ON THE TEST SET ({dataset}; epoch {epochs})"] = [
            selected["wa"], selected["ua"], "test-set selection as in the authors' release: NOT our result"]
    return t


def per_class_frame(dataset: str, per_class: dict) -> pd.DataFrame:
    """Tables III/IV: per-class precision, recall, F1 reported beside measured."""
    ref_ds = reference_dataset(dataset)
    rows = []
    for lab, v in per_class.items():
        row = CLASS_ROWS.get(lab, lab)
        for m in ("precision", "recall", "f1"):
            rows.append({"class": row, "metric": m, "measured": v[m],
                         "reported": reference.get(PAPER, HEADLINE[ref_ds][1], row, m, default=None)})
    df = pd.DataFrame(rows).pivot(index="class", columns="metric", values=["reported", "measured"])
    return df.loc[[CLASS_ROWS.get(lab, lab) for lab in per_class]].round(2)


def variant_comparisons(trained: dict, params: pd.DataFrame, note: str = "") -> list[dict]:
    """Table V rows (WA/UA of each trained ablation) and Table VI rows (params of every variant, WA/UA
    of the trained ones) against the paper's (IEMOCAP) numbers."""
    from ..models.ctmam import ABLATIONS, EFFICIENCY

    out = []
    n = f"{note}; {PAPER_REFERENCE_DATASET_NOTE}" if note else PAPER_REFERENCE_DATASET_NOTE
    for s, (row, _) in {"": ("Proposed", {}), **ABLATIONS}.items():
        if s in trained:
            m = trained[s]["metrics"]
            out += compare_with_paper(PAPER, "Table V", row, {"wa": m["wa"], "ua": m["ua"]}, dataset="iemocap",
                                      note=f"{n}; trained {trained[s]['epochs']} epoch(s)")
    for s, (row, _) in {"": ("Proposed", {}), **EFFICIENCY}.items():
        key = s or "proposed"
        p = params.loc[key]
        out.append(comparison("Table VI", row, "params", None if pd.isna(p["params (paper)"]) else p["params (paper)"],
                              p["params (ours)"], "our count of the configuration trained in this run; "
                              "the paper's count is for its IEMOCAP configuration (depth 3, 2 heads, 4 classes)"))
        if s in trained:
            m = trained[s]["metrics"]
            out += compare_with_paper(PAPER, "Table VI", row, {"wa": m["wa"], "ua": m["ua"]}, dataset="iemocap",
                                      note=f"{n}; trained {trained[s]['epochs']} epoch(s)")
    return out


def variant_frame(trained: dict, params: pd.DataFrame, table: str) -> pd.DataFrame:
    """Table V (``table="Table V"``) or VI: paper row, reported WA/UA (and params), measured WA/UA."""
    from ..models.ctmam import ABLATIONS, EFFICIENCY

    grid = {"": ("Proposed", {}), **(ABLATIONS if table == "Table V" else EFFICIENCY)}
    rows = []
    for s, (row, _) in grid.items():
        r = {"variant": s or "proposed", "paper row": row}
        for m in ("wa", "ua"):
            r[f"{m.upper()} reported"] = reference.get(PAPER, table, row, m, default=None)
            r[f"{m.upper()} measured"] = trained[s]["metrics"][m] if s in trained else None
        if table == "Table VI":
            p = params.loc[s or "proposed"]
            r["params (paper)"], r["params (ours)"] = p["params (paper)"], p["params (ours)"]
        r["trained here"] = f"{trained[s]['epochs']} epoch(s), {trained[s]['seconds']} s" if s in trained else "no"
        rows.append(r)
    return pd.DataFrame(rows).set_index("variant")


def data_note(P: dict, corpus) -> str:
    """The note every comparison row of a run carries: what was trained, on what."""
    if corpus.synthetic:
        return "synthetic corpus: pipeline check, not comparable with the paper"
    return f"{P['dataset']}, {P['profile']} profile, {P['epochs']} epoch(s)" + (f"; {corpus.note}" if corpus.note else "")


def profile_note(P: dict) -> str:
    """One line saying what this run trained, beside the paper's protocol (for the notebook)."""
    seg = f"at most {P['max_segments']} segments per utterance" if P["max_segments"] else "every segment"
    sub = f", at most {P['n_per_class']} utterances per class" if P["n_per_class"] else ""
    variants = ", ".join([*P["ablations"], *P["efficiency"]]) or "none"
    short = (" Numbers from a run this short check the pipeline and show trends at best; they are not "
             "reproductions of the paper's." if P["epochs"] < 150 else "")
    return (f"This page shows a `{P['profile']}`-profile run: {P['epochs']} epoch(s), batch {P['batch_size']}, "
            f"{seg}{sub}; variants trained beside the proposed model: {variants}. The paper trains 150 epochs "
            f"with batch 128 on every segment (the `paper` profile, with every ablation and efficiency "
            f"variant).{short}")


def run(P: dict, corpus) -> ChapterResult:
    """Everything ``book/ctmam.ipynb`` shows: segmented features, the folds, the proposed model and
    the requested variants trained on them, Eq. (25), the comparison rows of Tables I-VI.

    ``figures``: ``split`` (fold sizes), ``trained`` (WA/UA/params/time per trained variant), ``history``
    (the proposed model's first fold), ``headline`` / ``per_class`` (Tables I-IV), ``table_v`` /
    ``table_vi``, ``params_iemocap`` (every variant in the paper's IEMOCAP configuration) and
    ``params_run`` (in this run's configuration).
    """
    feats = cap_segments(segment_features(corpus.manifest), P["max_segments"])
    folds = experiment.folds(corpus.manifest, P)
    split = pd.DataFrame([f.sizes() for f in folds], index=[f.name for f in folds])
    split["train segments"] = [sum(len(feats[i]) for i in f.train) for f in folds]
    split["segment shape"] = str(feats[0].shape[1:])

    params_iemocap = parameter_table("ctmam", 4)
    params_run = parameter_table(P["model"], len(corpus.labels))
    cfg = train_config(P)
    from ..results import Run

    out_dir = Run(P).out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = train_variants(["", *P["ablations"], *P["efficiency"]], P["model"], feats, corpus.manifest["y"],
                             folds, cfg, corpus.labels, monitor_test=P["report_test_selection"],
                             checkpoint_dir=experiment.checkpoint_root(P) if P["checkpoint"] else None,
                             stage=f"{PAPER}/{P['dataset']}/{P['profile']} seed {P['seed']} | ")
    main = trained[""]
    selected = selected_on_test(main)
    preds = predictions_frame(trained, corpus.manifest, corpus.labels)
    preds.to_csv(out_dir / "predictions.csv", index=False)
    eq25 = paper_eq25(main["confusion"])
    note = data_note(P, corpus)
    comparisons = (headline_comparisons(P["dataset"], main["metrics"], main["per_class"], note=note)
                   + variant_comparisons(trained, params_run, note=note))
    summary = pd.DataFrame.from_dict({s or "proposed": {"WA": t["metrics"]["wa"], "UA": t["metrics"]["ua"],
                                                        "params": t["n_params"], "epochs": t["epochs"],
                                                        "seconds": t["seconds"]} for s, t in trained.items()},
                                     orient="index")
    return ChapterResult(
        protocol=experiment.describe_folds(folds, P), metrics=main["metrics"], per_class=main["per_class"],
        confusion=main["confusion"], comparisons=comparisons,
        predictions=records_predictions(main["predictions"], PAPER, P["seed"]),
        extra={"model": P["model"], "n_params": main["n_params"], "cv": main["cv"], "paper_eq25": eq25,
               "train_config": {k: str(v) for k, v in vars(cfg).items()},
               "variants": {s or "proposed": {k: t[k] for k in ("metrics", "n_params", "seconds", "epochs")}
                            for s, t in trained.items()},
               "params_iemocap_config": params_iemocap.reset_index().astype(str).to_dict("records"),
               "dropped_labels": corpus.dropped, "test_selection": selected,
               "predictions_file": "predictions.csv",
               "split_note": (f"random {100 - round(100 * P['test_fraction'])}/{round(100 * P['test_fraction'])} "
                              "utterance split, " + ("stratified by class (the authors' release splits without "
                                                     "stratifying)" if P["stratify"] else
                                                     "not stratified by class (as the authors' release)")
                              + "; utterance = mean of segment probabilities (the release averages segment "
                                "logits)")},
        figures={"split": split, "trained": summary, "history": main["history"],
                 "headline": headline_frame(P["dataset"], main["metrics"], eq25, selected),
                 "per_class": per_class_frame(P["dataset"], main["per_class"]),
                 "table_v": variant_frame(trained, params_run, "Table V"),
                 "table_vi": variant_frame(trained, params_run, "Table VI"),
                 "params_iemocap": params_iemocap, "params_run": params_run})


def method(P: dict, have: tuple = ("audio",)) -> Method:
    """CTMAM for the leaderboard: segmented MFCCs, the model ``P["model"]`` with the corpus's classes,
    the paper's recipe with ``P``'s numbers (epochs, batch size, ...), at most ``P["max_segments"]``
    segments per utterance. Audio only: ``have`` changes nothing (a corpus without audio is
    reported as not run by the leaderboard)."""
    cfg = train_config(P)
    model, max_segments = P["model"], P["max_segments"]
    config = "LCT depth 3, 2 heads" if model == "ctmam" else "LCT depth 1, 1 head"
    return Method(
        name="CTMAM", paper=PAPER, modalities=("audio",),
        features=lambda manifest: cap_segments(segment_features(manifest), max_segments),
        build=lambda k: models.create(model, n_classes=k),
        train=cfg, segmented=True,
        note=f"26 MFCCs of 1.8 s segments (0.2 s hop), utterance = mean of segment probabilities; "
             f"{model} ({config}); Adam {cfg.lr:g}, mixup {cfg.mixup_alpha:g}, batch {cfg.batch_size}, "
             f"{cfg.epochs} epochs (paper: 150)"
             + (f"; at most {max_segments} evenly spaced segments per utterance (paper: all)" if max_segments else ""))


# ----------------------------------------------------------------------------- the gap to the paper

#: the params file of the run that splits Emo-DB as the authors' release does (not stratified by class)
UNSTRATIFIED = "emodb_unstratified"


def gap_parts(items: list[dict], records_root=None) -> pd.DataFrame | None:
    """The gap between Table II's Emo-DB numbers and the published reference runs (``items``: a cell's
    records, :func:`sercore.records.published_cells`), as measured parts (:func:`sercore.gaps.gap_table`):

    - the metric as the paper defines it (Eq. 25: per-class accuracy is TP / (TP + FP), a precision),
      computed from each run's own confusion matrix;
    - the epoch chosen on the test set, as the authors' ``train_Emodb.py`` reports it, from each run's
      test curve (``report_test_selection``);
    - a split not stratified by class (the release's), from the records of ``params/ctmam/emodb_unstratified``
      when they exist (mean over its seeds against ours);
    and the unexplained rest. None for a cell that is not Emo-DB.
    """
    from .. import gaps, records

    if not items or items[0]["metrics"].get("dataset") != "emodb":
        return None
    src = gaps.seeds_text(items)
    mets = [i["metrics"] for i in items]
    other = records.published_cells(records_root, paper=PAPER, dataset=UNSTRATIFIED)
    unstrat = next(iter(other.values()), [])
    out = []
    for m in ("ua", "wa"):
        ours = [x["metrics"][m] for x in mets]
        parts = [
            {"part": "the paper's metric (Eq. 25: mean per-class precision, not recall)" if m == "ua" else
                     "the paper's metric (Eq. 25: support-weighted per-class precision)",
             "values": [x["extra"]["paper_eq25"][m] - x["metrics"][m] for x in mets
                        if (x.get("extra") or {}).get("paper_eq25")],
             "from": f"{src}: each run's confusion matrix"},
            {"part": "epoch chosen on the test set (the authors' release), not the last",
             "values": [x["extra"]["test_selection"][m] - x["metrics"][m] for x in mets
                        if (x.get("extra") or {}).get("test_selection")],
             "from": f"{src}: each run's test curve (report_test_selection)"},
            {"part": "split not stratified by class (the authors' release)",
             "values": ([statistics.mean(u["metrics"]["metrics"][m] for u in unstrat) - v for v in ours]
                        if unstrat else []),
             "from": (f"{gaps.seeds_text(unstrat)} (its mean) against each published run" if unstrat else
                      f"no published run of params/ctmam/{UNSTRATIFIED}.yaml")},
        ]
        ref = reference.get(PAPER, "Table II", "Proposed", m)
        out.append(gaps.gap_table(m, (ref, "Table II, Proposed"), ours, src, parts))
    return pd.concat(out, ignore_index=True)
