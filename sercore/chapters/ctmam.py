"""CTMAM chapter (Tang et al.): segmented MFCC features, the paper's training recipe, the ablation
(Table V) and efficiency (Table VI) grids, and every reported-vs-measured comparison row.

The notebook ``book/ctmam.ipynb`` calls these, one per stage; :func:`method` gives the
leaderboard the same model and recipe.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .. import models, reference
from ..metrics import per_class as _per_class
from ..results import compare_with_paper, comparison
from ..train import TrainConfig, count_parameters, cross_validate
from . import Method

PAPER = "ctmam"

#: the paper's feature setting (Sec. III-A, IV-B): 26 MFCCs (librosa defaults: n_fft 2048, hop 512,
#: 128 mel bands) of 1.8 s segments every 0.2 s (1.6 s overlap) at 16 kHz, short utterances looped.
FEATURES = dict(sr=16000, n_mfcc=26, n_fft=2048, hop_length=512, n_mels=128, seg_s=1.8, seg_hop_s=0.2,
                pad="loop")

#: epochs of the main model per profile (the paper trains 150)
EPOCHS = {"smoke": 1, "quick": 12, "paper": 150}

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


def train_config(profile: str = "quick", **overrides) -> TrainConfig:
    """The paper's recipe (Sec. IV-B): Adam, lr 1e-3, weight decay 1e-6, batch 128, lr x0.95 per epoch
    down to 1e-6, mixup alpha 0.2, 150 epochs; ``profile`` sets the epochs (smoke 1, quick 12, paper 150).
    No validation split exists in the paper's protocol, so the last epoch's weights are tested."""
    if profile not in EPOCHS:
        raise ValueError(f"profile must be one of {sorted(EPOCHS)}, got {profile!r}")
    cfg = TrainConfig(epochs=EPOCHS[profile], batch_size=128, lr=1e-3, weight_decay=1e-6, optimizer="adam",
                      scheduler="exp", gamma=0.95, lr_min=1e-6, mixup_alpha=0.2, inputs=("x",))
    return replace(cfg, **overrides)


def base_preset(dataset: str) -> str:
    """The release's configuration for a corpus: ``ctmam_emodb`` (depth 1, 1 head) for Emo-DB,
    ``ctmam`` (depth 3, 2 heads) otherwise."""
    return "ctmam_emodb" if dataset == "emodb" else "ctmam"


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

    ref = reference.load(PAPER)
    ref = ref[(ref.table == "Table VI") & (ref.metric == "params")]
    reported = dict(zip(ref.row, ref.value))
    rows = []
    for suffix, (row, over) in VARIANTS.items():
        ours = count_parameters(build_variant(base, suffix, n_classes))
        rep = reported.get(row)
        rows.append({"variant": suffix or "proposed", "paper row": row,
                     "table": "Table VI" if row in reported else "Table V",
                     "params (ours)": ours, "params (paper)": None if rep is None else int(rep),
                     "difference": None if rep is None else int(ours - rep)})
    df = pd.DataFrame(rows).drop_duplicates("variant").set_index("variant")
    return df.astype({"params (paper)": "Int64", "difference": "Int64"})


def train_variants(suffixes, base: str, features, y, folds, cfg: TrainConfig, labels, progress=None) -> dict:
    """Train each variant on the same folds; returns ``{suffix: {"metrics", "per_class", "confusion",
    "n_params", "seconds", "epochs", "batch_size", "history", "cv"}}``. The batch size grows by one when
    a fold's training segments would leave a last batch of a single segment."""
    from tqdm.auto import tqdm

    from ..paths import show_progress

    # a last training batch of one segment would break the batch norm of the SE gate (pooled to 1x1)
    from ..train import avoid_single_item_batches

    cfg = avoid_single_item_batches(cfg, [sum(len(features[i]) for i in f.train) for f in folds])
    out = {}
    for s in tqdm(list(suffixes), desc="variants", disable=not show_progress(progress)):
        build = lambda s=s: build_variant(base, s, len(labels))
        cv = cross_validate(build, features, y, folds, cfg, labels, segmented=True)
        out[s] = {"metrics": cv.summary["mean"], "per_class": cv.pooled["per_class"],
                  "confusion": cv.pooled["confusion"], "n_params": count_parameters(build()),
                  "seconds": round(cv.seconds, 1), "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                  "history": cv.folds[0]["fit"]["history"], "cv": cv.to_json()}
    return out


def cap_segments(features, max_segments: int | None):
    """Keep at most ``max_segments`` evenly spaced segments per utterance (smoke profile only; the paper
    uses every segment). ``None`` returns the features unchanged."""
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


def headline_frame(dataset: str, metrics: dict, eq25: dict | None = None) -> pd.DataFrame:
    """Tables I/II as printed (prior work and 'Proposed'), with our measured row(s) appended."""
    from ..results import reference_table

    ref_ds = reference_dataset(dataset)
    t = reference_table(PAPER, HEADLINE[ref_ds][0]).rename(columns={"wa": "WA", "ua": "UA"})
    t["source"] = f"reported ({ref_ds})"
    t.loc[f"CTMAM, measured here ({dataset})"] = [metrics["wa"], metrics["ua"], "measured, standard UA (recall)"]
    if eq25 is not None:
        t.loc[f"CTMAM, measured here ({dataset}), paper's Eq. 25"] = [eq25["wa"], eq25["ua"],
                                                                     "measured, precision-based (Eq. 25)"]
    return t


def per_class_frame(dataset: str, per_class: dict) -> pd.DataFrame:
    """Tables III/IV: per-class precision, recall, F1 reported beside measured."""
    ref_ds = reference_dataset(dataset)
    ref = reference.load(PAPER)
    ref = ref[(ref.table == HEADLINE[ref_ds][1]) & ref.metric.isin(["precision", "recall", "f1"])]
    rows = []
    for lab, v in per_class.items():
        row = CLASS_ROWS.get(lab, lab)
        for m in ("precision", "recall", "f1"):
            sel = ref[(ref.row == row) & (ref.metric == m)]
            rows.append({"class": row, "metric": m, "reported": float(sel.value.iloc[0]) if len(sel) else None,
                         "measured": v[m]})
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
    ref = reference.load(PAPER)
    ref = ref[ref.table == table]
    rows = []
    for s, (row, _) in grid.items():
        r = {"variant": s or "proposed", "paper row": row}
        for m in ("wa", "ua"):
            sel = ref[(ref.row == row) & (ref.metric == m)]
            r[f"{m.upper()} reported"] = float(sel.value.iloc[0]) if len(sel) else None
            r[f"{m.upper()} measured"] = trained[s]["metrics"][m] if s in trained else None
        if table == "Table VI":
            p = params.loc[s or "proposed"]
            r["params (paper)"], r["params (ours)"] = p["params (paper)"], p["params (ours)"]
        r["trained here"] = f"{trained[s]['epochs']} epoch(s), {trained[s]['seconds']} s" if s in trained else "no"
        rows.append(r)
    return pd.DataFrame(rows).set_index("variant")


#: segments per utterance the leaderboard's CTMAM trains on (as the chapter's smoke/quick params; paper: all)
METHOD_MAX_SEGMENTS = {"smoke": 2, "quick": 3, "paper": None}


def method(profile: str = "quick", **overrides) -> Method:
    """CTMAM for the leaderboard: segmented MFCCs, the Emo-DB release's configuration (depth 1, 1 head;
    the cheaper of the two) with the corpus's classes, the paper's recipe with the profile's epochs.
    ``overrides`` go to :class:`TrainConfig`."""
    max_segments = overrides.pop("max_segments", METHOD_MAX_SEGMENTS.get(profile))
    cfg = train_config(profile, **{"batch_size": 32, **overrides} if profile != "paper" else overrides)
    return Method(
        name="CTMAM", paper=PAPER, modalities=("audio",),
        features=lambda manifest: cap_segments(segment_features(manifest), max_segments),
        build=lambda k: models.create("ctmam_emodb", n_classes=k),
        train=cfg, segmented=True,
        note=f"26 MFCCs of 1.8 s segments (0.2 s hop), utterance = mean of segment probabilities; "
             f"LCT depth 1, 1 head; Adam 1e-3, mixup 0.2, batch {cfg.batch_size}, {cfg.epochs} epochs (paper: 150)"
             + (f"; at most {max_segments} evenly spaced segments per utterance (paper: all)" if max_segments else ""))
