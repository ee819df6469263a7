"""MCWSA-CMHA chapter (Zheng et al.): features, two-stage training, Tables I-III, Figs. 4-9.

Entry points (:mod:`sercore.chapters`):

- :func:`run` ``(P, corpus) -> ChapterResult`` — everything ``book/mcwsa_cmha.ipynb`` shows: LTPP
  inputs of the modalities the corpus has, the Table II grid and Table III runs (stage 1
  reconstruction, :func:`pretrain`, then stage 2 cross-entropy through
  :func:`sercore.train.cross_validate`, per fold), Tables I-III beside the paper, and the data of
  Figs. 4-9 (confusions, t-SNE maps, the digits check, MINE, DCCA) in ``figures``;
- :func:`method` ``(P, have) -> Method`` — MCWSA-CMHA for the leaderboard.

The stages :func:`run` chains are public (:func:`modality_features`, :func:`plan`,
:func:`run_grid`, :func:`run_table_three`, :func:`table_one` ...). Per-frame video features and
word vectors are :mod:`sercore.features.video` and :mod:`sercore.features.word2vec` (with their
offline stand-ins); LTPP is :mod:`sercore.features.ltpp`. The readings of the paper are in
:mod:`sercore.models.mcwsa_cmha`'s docstring.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from .. import data, experiment, models, train
from ..features import TEXT_LEVELS, VIDEO_LEVELS, extract, ltpp, ltpp_audio
from ..features import video as video_frames
from ..features import word2vec as word_vectors
from ..models.mcwsa_cmha import MODALITY_LETTER, reconstruction_loss
from ..paths import show_progress
from ..results import ChapterResult, cv_predictions
from ..schemas.mcwsa_cmha import COLUMNS           # the paper's five Table II/III columns, in its order
from . import Method

PAPER = "mcwsa_cmha"
ALL = tuple(data.MODALITY_COLUMNS)                     # audio, text, video
#: Table II column -> modalities (the paper's A/V/T letters)
SUBSETS = {"A+V": ("audio", "video"), "A+T": ("audio", "text"), "V+T": ("text", "video"),
           "A+V+T": ("audio", "text", "video"), "A": ("audio",), "T": ("text",), "V": ("video",)}
#: fusion key -> Table II row
FUSION_ROWS = {"concat": "Concat [8]", "tfn": "TFN [10]", "mult": "MulT [15]", "cmha": "The proposed CMHA"}
#: video extractor key -> (Table III row it stands in for, description)
VIDEO_EXTRACTORS = {k: (row, video_frames.EXTRACTORS[k])
                    for k, row in (("resnet", "ResNet [17]"), ("randproj", "ResNet [17]"),
                                   ("gradproj", "VGG-Face [59]"))}
#: parameters that set model widths (None: the paper preset's value)
SIZE_KEYS = ("latent_dim", "heads", "audio_channels", "video_hidden", "text_layers", "text_ff",
             "head_hidden", "tfn_rank", "dropout")
#: Fig. 8 modality pairs
PAIRS = {"V-T": ("video", "text"), "A-T": ("audio", "text"), "A-V": ("audio", "video")}


# ----------------------------------------------------------------------------- features

def _standardise(x: np.ndarray, axes) -> np.ndarray:
    """Per-utterance z-score over ``axes`` (no statistics shared between utterances)."""
    mu = x.mean(axis=axes, keepdims=True)
    sd = x.std(axis=axes, keepdims=True)
    return ((x - mu) / (sd + 1e-5)).astype(np.float32)


def audio_features(manifest, progress=None) -> list:
    """(3, 64, 128) per row: 64-band log-mel 20-8000 Hz, 25 ms Hamming, 10 ms hop, + delta, delta-delta,
    LTPP levels 0, 2, ..., 64 + global max, each channel standardised per utterance."""
    spec = extract(manifest, "logmel_deltas", progress=progress, sr=16000, n_mels=64, win_length=400,
                   hop_length=160, f_min=20.0, f_max=8000.0, window="hamming")
    return [_standardise(ltpp_audio(s, channels_last=False), (1, 2)) for s in spec]   # (3, 64, 128)


def text_features(manifest, word2vec: str | None = None, progress=None, seed: int = 0) -> list:
    """(32, 300) per row: word vectors (:func:`sercore.features.word2vec.word_vectors`), LTPP levels
    0, 2, 4, 8, 16 + global max, standardised per utterance."""
    seqs = word_vectors.word_vectors(manifest, word2vec, seed=seed, progress=progress)      # (words, 300)
    return [_standardise(ltpp(s, TEXT_LEVELS), (0, 1)) for s in seqs]                    # (32, 300)


def video_features(manifest, video: str = "randproj", video_weights: str | None = None, seed: int = 0,
                   progress=None) -> list:
    """(32, 2048) per row: per-frame features (:func:`sercore.features.video.frame_features`, ``video``
    a key of :data:`VIDEO_EXTRACTORS`), LTPP levels 0, 2, 4, 8, 16 + global max, standardised per utterance."""
    frames = video_frames.frame_features(manifest, video, video_weights, seed=seed, progress=progress)
    return [_standardise(ltpp(f, VIDEO_LEVELS), (0, 1)) for f in frames]                # (32, 2048)


def modality_features(manifest, modalities=ALL, *, video: str = "randproj", video_weights=None,
                      word2vec=None, seed: int = 0, progress=None) -> list:
    """One dict ``{modality: array}`` per manifest row (the form :class:`sercore.train.FeatureDataset` takes)."""
    mods = [m for m in ALL if m in modalities]
    have = data.modalities(manifest)
    missing = [m for m in mods if m not in have]
    if missing:
        raise ValueError(f"the manifest has no {missing} for every row; it has {have}")
    cols = {}
    if "audio" in mods:
        cols["audio"] = audio_features(manifest, progress)
    if "text" in mods:
        cols["text"] = text_features(manifest, word2vec, progress, seed)
    if "video" in mods:
        cols["video"] = video_features(manifest, video, video_weights, seed, progress)
    return [{m: cols[m][i] for m in mods} for i in range(len(manifest))]


def select(features: list, modalities) -> list:
    """The same features restricted to ``modalities`` (no copy of the arrays)."""
    return [{m: f[m] for m in ALL if m in modalities} for f in features]


def original_views(features: list) -> dict:
    """{modality: (N, flattened input)} of the LTPP inputs (for Figs. 7-9)."""
    return {m: np.stack([f[m] for f in features]).reshape(len(features), -1) for m in features[0]}


# ----------------------------------------------------------------------------- model + two-stage training

def sizes_from_params(P: dict) -> dict:
    """Model-width overrides among the parameters (a key set to None keeps the paper preset's value)."""
    return {k: P[k] for k in SIZE_KEYS if P[k] is not None}


def builder(features: list, modalities, fusion: str, n_classes: int, sizes: dict | None = None):
    """A function that builds a fresh MCWSA with ``fusion`` over ``modalities`` (shapes from ``features``)."""
    mods = tuple(m for m in ALL if m in modalities)
    shapes = {f"{m}_shape": tuple(features[0][m].shape) for m in mods}
    kw = dict(sizes or {}, modalities=mods, fusion=fusion, n_classes=n_classes, **shapes)
    return lambda: models.create("mcwsa_cmha", **kw)


def pretrain(model, features: list, indices, cfg: train.TrainConfig, epochs: int,
             val_indices=None) -> list:
    """Stage 1: minimise the sum of per-modality reconstruction MSE (Eq. 8-9) on ``indices``.

    Adam with ``cfg.lr`` / ``cfg.weight_decay`` / ``cfg.batch_size``; when ``val_indices`` is
    given the weights of the epoch with the lowest validation loss are kept. Labels are
    not used. Returns one ``{"epoch", "rec_loss", "val_rec_loss"}`` per epoch.
    """
    device = train.resolve_device(cfg.device)
    model.to(device)
    mods = list(model.modalities)
    dummy = np.zeros(len(features), dtype=np.int64)
    ds = train.FeatureDataset(features, dummy, indices)
    vs = train.FeatureDataset(features, dummy, val_indices) if val_indices is not None and len(val_indices) else None
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist, best, best_state = [], None, None
    t0 = last = time.time()
    for ep in range(epochs):
        model.train()
        tot, n = 0.0, 0
        for batch in train._loader(ds, cfg, shuffle=True, epoch=ep):
            loss = reconstruction_loss(model, *[batch[m].to(device) for m in mods])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(batch["y"])
            n += len(batch["y"])
        row = {"epoch": ep + 1, "rec_loss": tot / max(n, 1)}
        if vs is not None:
            row["val_rec_loss"] = reconstruction_error(model, vs, cfg)
            if best is None or row["val_rec_loss"] < best:
                best, best_state = row["val_rec_loss"], copy.deepcopy(model.state_dict())
        hist.append(row)
        if time.time() - last >= 5 or ep + 1 == epochs:     # a line every 5 s at most, and at the end
            last = time.time()
            train.report_progress(f"stage 1 (reconstruction) | epoch {ep + 1}/{epochs} | rec loss "
                                  f"{row['rec_loss']:.4f} | {time.time() - t0:.0f} s")
    if best_state is not None:
        model.load_state_dict(best_state)
    return hist


@torch.no_grad()
def reconstruction_error(model, dataset, cfg: train.TrainConfig) -> float:
    """Mean stage-1 loss over ``dataset`` (eval mode)."""
    device = train.resolve_device(cfg.device)
    model.eval()
    tot, n = 0.0, 0
    for batch in train._loader(dataset, cfg, shuffle=False):
        tot += float(reconstruction_loss(model, *[batch[m].to(device) for m in model.modalities])) * len(batch["y"])
        n += len(batch["y"])
    return tot / max(n, 1)


def run_cv(build, features, y, folds, cfg: train.TrainConfig, labels, *, segmented: bool = False,
           on_fold_end=None, pretrain_epochs: int = 0, after_pretrain=None, log: list | None = None):
    """Two-stage cross-validation with :func:`sercore.train.cross_validate`'s signature and result.

    Per fold: a fresh model, stage 1 (:func:`pretrain` on the fold's train part, selected on its
    validation part; skipped when ``pretrain_epochs`` is 0 = the paper's "NP"), then stage 2
    (cross-entropy fine-tuning of the whole model, best validation UA kept) and the test.
    ``after_pretrain(fold, model)`` is called between the stages; ``log`` receives each fold's
    stage-1 history.
    """
    if segmented:
        raise ValueError("MCWSA-CMHA works on whole utterances (LTPP); segmented=True is not supported")
    fold_iter = iter(list(folds))

    def build_and_pretrain():          # cross_validate seeds, then calls this once per fold, in order
        fold = next(fold_iter)
        model = build()
        hist = pretrain(model, features, fold.train, cfg, pretrain_epochs, fold.val) if pretrain_epochs else []
        if log is not None:
            log.append({"fold": fold.name, "history": hist})
        if after_pretrain is not None:
            after_pretrain(fold, model)
        return model

    return train.cross_validate(build_and_pretrain, features, y, folds, cfg, labels, on_fold_end=on_fold_end)


@torch.no_grad()
def embed(model, features: list, what: str = "fused", batch_size: int = 64) -> np.ndarray | dict:
    """Representations of every row (eval mode): ``fused`` (N, d) row-mean of the fused code, or
    ``encoded`` {modality: (N, R*d)} encoder outputs."""
    model.eval()
    device = next(model.parameters()).device
    mods = list(model.modalities)
    outs = []
    for i in range(0, len(features), batch_size):
        xs = [torch.as_tensor(np.stack([f[m] for f in features[i:i + batch_size]])).to(device) for m in mods]
        if what == "encoded":
            outs.append({m: z.flatten(1).cpu().numpy() for m, z in model.encode(*xs).items()})
        else:
            outs.append(model.embedding(*xs).cpu().numpy())
    if what == "encoded":
        return {m: np.concatenate([o[m] for o in outs]) for m in mods}
    return np.concatenate(outs)


def train_config(P: dict, modalities=ALL) -> train.TrainConfig:
    """Stage-2 settings from the parameters (Adam, L2 as weight decay, UA selection) for ``modalities``."""
    return train.TrainConfig(epochs=int(P["epochs"]), batch_size=int(P["batch_size"]), lr=float(P["lr"]),
                             weight_decay=float(P["weight_decay"]), optimizer="adam", early_stop_metric="ua",
                             seed=int(P["seed"]), progress=False, inputs=tuple(m for m in ALL if m in modalities))


# ----------------------------------------------------------------------------- the runs of the tables

def parse_column(column: str) -> tuple:
    """Table column -> (modalities, pretrained): 'A+V+T (NP)' -> (('audio', 'text', 'video'), False)."""
    base = column.replace(" (NP)", "").strip()
    if base not in SUBSETS:
        raise ValueError(f"unknown column {column!r}; expected one of {list(SUBSETS)} with an optional ' (NP)'")
    return SUBSETS[base], not column.endswith("(NP)")


def subset_name(modalities, pretrained: bool) -> str:
    """Table column name: 'A+V', ..., 'A+V+T (NP)' for a run without stage 1 ('T' for text alone)."""
    key = next(k for k, v in SUBSETS.items() if set(v) == set(modalities))
    return key + ("" if pretrained else " (NP)")


def plan(P: dict, modalities) -> dict:
    """Which runs this chapter makes, from the parameters and the modalities it uses.

    Returns ``{"modalities", "full" (the column of all modalities), "table2": [(fusion, column)],
    "table3": [(extractor, column)], "notes": [...]}``. Parameters read: ``table2_fusions``,
    ``table2_columns``, ``table3_extractors``, ``table3_columns``. CMHA and MulT always run on
    the full column (Fig. 4). With one modality the fusion comparison, Table III and the
    cross-modal analyses do not apply (stated in ``notes``).
    """
    mods = tuple(m for m in ALL if m in modalities)
    if not mods:
        raise ValueError("MCWSA-CMHA needs at least one of audio, text, video")
    full = subset_name(mods, True)
    notes = []
    if len(mods) == 1:
        notes.append(f"The corpus gives one modality ({mods[0]}): every fusion is the identity, so Table II "
                     "reduces to MCWSA with and without stage-1 pre-training; Table III, Fig. 4's MulT panel, "
                     "Fig. 5, Fig. 8 and Fig. 9 need two or more modalities and are not drawn.")
        return {"modalities": mods, "full": full, "table2": [("cmha", full), ("cmha", full + " (NP)")],
                "table3": [], "notes": notes}

    def ok(col):
        return set(parse_column(col)[0]) <= set(mods)

    cols = [c for c in P["table2_columns"] if ok(c)]
    cells = [(f, c) for f in P["table2_fusions"] for c in cols]
    for f, c in (("cmha", full), ("mult", full), ("cmha", full + " (NP)")):
        if (f, c) not in cells:           # the headline, Fig. 4 and the pre-training ablation always run
            cells.append((f, c))
    t3 = []
    if "video" in mods:
        t3 = [(e, c) for e in P["table3_extractors"] for c in P["table3_columns"]
              if ok(c) and "video" in parse_column(c)[0]]
    if set(mods) != set(ALL):
        notes.append(f"The corpus gives {', '.join(mods)}: only the subsets of these modalities run.")
    return {"modalities": mods, "full": full, "table2": cells, "table3": t3, "notes": notes}


def run_setting(features, y, folds, labels, modalities, fusion: str, pretrained: bool, P: dict,
                capture: bool = False) -> dict:
    """One cell: cross-validation of MCWSA with ``fusion`` on ``modalities``, with or without stage 1.

    ``P``: the resolved parameters (epochs, pretrain_epochs, batch_size, lr, weight_decay, seed and
    the widths of :data:`SIZE_KEYS`). Returns ``{"cv": CVResult, "ua", "f1", "seconds", "pretrain": [...],
    "n_params"}``; with ``capture`` also the first fold's representations of every row: ``unsup``
    (after stage 1), ``sup`` (after stage 2) and ``encoded`` (encoder outputs after stage 2).
    """
    t0 = time.time()
    feats = select(features, modalities)
    cfg = train_config(P, modalities)
    build = builder(feats, modalities, fusion, len(labels), sizes_from_params(P))
    out: dict = {"pretrain": []}

    def after_pretrain(fold, model):
        if capture and "unsup" not in out:
            out["unsup"] = embed(model, feats)

    def on_fold_end(item, model):
        if capture and "sup" not in out:
            out["sup"] = embed(model, feats)
            out["encoded"] = embed(model, feats, "encoded")
        out.setdefault("n_params", train.count_parameters(model))

    cv = run_cv(build, feats, y, folds, cfg, labels, pretrain_epochs=int(P["pretrain_epochs"]) if pretrained else 0,
                after_pretrain=after_pretrain, on_fold_end=on_fold_end, log=out["pretrain"])
    out.update(cv=cv, ua=cv.summary["mean"]["ua"], f1=cv.summary["mean"]["macro_f1"] / 100.0,
               seconds=time.time() - t0)
    return out


def run_grid(features, y, folds, labels, cells, P: dict, capture_column: str | None = None) -> dict:
    """Run every (fusion, column) cell: {(fusion, column): result}.
    The cells of ``capture_column`` keep the first fold's representations (Figs. 5, 7-9)."""
    from tqdm.auto import tqdm

    out = {}
    for i, (fusion, column) in enumerate(tqdm(cells, desc="cells", disable=not show_progress()), 1):
        mods, pre = parse_column(column)
        with train.progress_stage(f"Table II {fusion} {column} ({i}/{len(cells)})", nested=True):
            out[(fusion, column)] = run_setting(features, y, folds, labels, mods, fusion, pre, P,
                                                capture=(column == capture_column))
    return out


def run_table_three(manifest, features, y, folds, labels, cells, P: dict, grid: dict, progress=None) -> dict:
    """Table III runs: CMHA on each (extractor, column). The extractor the rest of the chapter uses
    (``P['video']``) reuses the Table II CMHA cells; another extractor's video features are
    computed and swapped in. Returns {extractor: {column: result}}."""
    out: dict = {}
    swapped: dict = {}
    for ext, col in cells:
        if ext == P["video"] and ("cmha", col) in grid:
            out.setdefault(ext, {})[col] = grid[("cmha", col)]
            continue
        if ext not in swapped:
            video = video_features(manifest, ext, P["video_weights"], int(P["seed"]), progress)
            swapped[ext] = [dict(f, video=v) for f, v in zip(features, video)]
        mods, pre = parse_column(col)
        with train.progress_stage(f"Table III {ext} {col}", nested=True):
            out.setdefault(ext, {})[col] = run_setting(swapped[ext], y, folds, labels, mods, "cmha", pre, P)
    return out


def grid_frame(grid: dict) -> pd.DataFrame:
    """One row per run cell: fusion, column, UA, macro F1, folds, parameters, seconds."""
    rows = [{"fusion": f, "column": c, "UA (%)": round(r["ua"], 2), "F1": round(r["f1"], 3),
             "folds": len(r["cv"].folds), "parameters": r.get("n_params"), "seconds": round(r["seconds"], 1)}
            for (f, c), r in grid.items()]
    return pd.DataFrame(rows).set_index(["fusion", "column"])


def _widths(P: dict) -> str:
    sizes = sizes_from_params(P)
    return ("the paper's widths (latent 32 x 300)" if not sizes else
            "reduced widths (" + ", ".join(f"{k} {v}" for k, v in sizes.items()) + ")")


def deviations(P: dict, modalities, data_label: str) -> pd.DataFrame:
    """What differs from the paper in this run (shown next to the tables)."""
    absent = "not available in this corpus"
    rows = {
        "data": data_label,
        "audio": "as the paper: 64-band log-mel 20-8000 Hz, 25 ms Hamming / 10 ms hop, + delta, delta-delta, "
                 "LTPP 64x128x3" if "audio" in modalities else absent,
        "text": word_vectors.describe(P["word2vec"]) if "text" in modalities else absent,
        "video": VIDEO_EXTRACTORS[P["video"]][1] if "video" in modalities else absent,
        "model size": _widths(P),
        "training": f"{P['pretrain_epochs']} reconstruction + {P['epochs']} fine-tuning epochs (paper: up to 200), "
                    f"batch {P['batch_size']} (paper 64), Adam {P['lr']}, L2 {P['weight_decay']} as Adam weight decay",
        "protocol": f"stratified {P['k']}-fold (8 train / 1 validation / 1 test parts); "
                    + (f"only the first {P['max_folds']} fold(s) run" if P["max_folds"] else "all folds run"),
    }
    return pd.DataFrame({"this run": rows})


def run_summary(P: dict, corpus, folds: list, todo: dict, have) -> str:
    """Markdown: what this page's run holds (profile, data, folds, epochs, widths, cells), from ``P``."""
    n, first = len(corpus.manifest), folds[0].sizes()
    per_class = f"at most {P['n_per_class']} per class" if P["n_per_class"] else "every utterance"
    lines = [
        f"This page shows a **{P['profile']}**-profile run on `{P['dataset']}`: {n} utterances ({per_class}), "
        f"{len(folds)} of the {P['k']} stratified folds (the first: {first['train']} train / {first['val']} "
        f"validation / {first['test']} test). Every cell trains {P['pretrain_epochs']} reconstruction + "
        f"{P['epochs']} fine-tuning epochs, batch {P['batch_size']}, at {_widths(P)}.",
        f"**Modalities used:** {', '.join(todo['modalities'])} (the corpus has: {', '.join(have) or 'none'}). "
        f"**Table II cells:** {', '.join(f'{FUSION_ROWS[f]} {c}' for f, c in todo['table2'])}. "
        f"**Table III cells:** {', '.join(f'{e} {c}' for e, c in todo['table3']) or 'none'}.",
        *(f"*{note}*" for note in todo["notes"]),
    ]
    return "\n\n".join(lines)


# ----------------------------------------------------------------------------- tables

def table_one(measured_ua: float, ref_dataset: str, data_label: str) -> pd.DataFrame:
    """Table I: the paper's UA rows (reported) and our MCWSA-CMHA UA (measured, on ``data_label``)."""
    from .. import reference

    r = reference.load(PAPER)
    r = r[(r.table == "Table I") & (r.dataset == ref_dataset)]
    rows = [{"method": row, "reported UA (%)": v, "measured UA (%)": None} for row, v in zip(r.row, r.value)]
    rows.append({"method": f"MCWSA-CMHA, this run ({data_label})", "reported UA (%)": None,
                 "measured UA (%)": round(float(measured_ua), 2)})
    return pd.DataFrame(rows).set_index("method")


def table_two(grid: dict, ref_dataset: str) -> pd.DataFrame:
    """Table II: rows = fusion, columns = (subset, UA/F1, reported/measured). Cells not run stay empty;
    the paper leaves TFN's bimodal cells empty."""
    from .. import reference

    cols = list(COLUMNS) + sorted({c for _, c in grid} - set(COLUMNS))   # single-modality columns ('T', 'T (NP)')
    data_ = {}
    for f, row in FUSION_ROWS.items():
        rec = {}
        for c in cols:
            res = grid.get((f, c))
            for metric in ("ua", "f1"):
                rec[(c, metric.upper(), "reported")] = reference.get(PAPER, "Table II", row, metric, column=c,
                                                                     dataset=ref_dataset, default=None)
                rec[(c, metric.upper(), "measured")] = (round(res["ua"], 2) if metric == "ua" else
                                                        round(res["f1"], 3)) if res else None
        data_[row] = rec
    df = pd.DataFrame(data_).T
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def table_three(runs: dict, ref_dataset: str) -> pd.DataFrame:
    """Table III: UA per visual extractor. ``runs``: {extractor key: {column: result}}."""
    from .. import reference

    rows = []
    for key, (ref_row, desc) in VIDEO_EXTRACTORS.items():
        if key == "resnet" and key not in runs:
            continue
        rec = {"extractor": f"{key}: {desc}", "stands in for": ref_row}
        for c in COLUMNS:
            rec[(c, "reported")] = reference.get(PAPER, "Table III", ref_row, "ua", column=c, dataset=ref_dataset,
                                                 default=None)
            res = runs.get(key, {}).get(c)
            rec[(c, "measured")] = round(res["ua"], 2) if res else None
        rows.append(rec)
    return pd.DataFrame(rows).set_index("extractor")


def comparisons(grid: dict, video_runs: dict, headline: dict, ref_dataset: str, note: str,
                full: str = "A+V+T") -> list:
    """Every reported-vs-measured row the chapter shows, for ``metrics.json``. ``full``: the modalities
    of the headline model (``A+V+T``, ``T``, ...); Table I's number is the paper's three-modality model,
    so a headline on fewer modalities is shown beside it but marked not comparable."""
    from ..results import compare_with_paper

    out = compare_with_paper(PAPER, "Table I", "MCWSA-CMHA (Proposed)", {"ua": headline["ua"]},
                             dataset=ref_dataset, note=note)
    if full != "A+V+T":
        why = f"the paper's number is its A+V+T model, this run's model sees {full} only"
        out = [{**c, "comparable": False, "why": why, "note": f"{c['note']}; {why}"} for c in out]
    for (f, col), res in grid.items():
        out += compare_with_paper(PAPER, "Table II", FUSION_ROWS[f], {"ua": res["ua"], "f1": res["f1"]},
                                  column=col, dataset=ref_dataset,
                                  note=note + "; F1 = macro F1 as a fraction (the paper prints F1 in 0-1)")
    for key, cols in video_runs.items():
        for col, res in cols.items():
            out += compare_with_paper(PAPER, "Table III", VIDEO_EXTRACTORS[key][0], {"ua": res["ua"]},
                                      column=col, dataset=ref_dataset,
                                      note=note + f"; video features: {VIDEO_EXTRACTORS[key][1]}")
    return out


# ----------------------------------------------------------------------------- figures

def tsne_panels(panels: dict, y, *, seed: int = 0, perplexity: float = 30.0) -> dict:
    """Figs. 5 / 7: {name: {"embedding": (N, 2) t-SNE map, "silhouette": score on that map}} per
    named feature matrix."""
    from ..analysis import tsne

    out = {}
    for i, (name, X) in enumerate(panels.items(), 1):
        train.report_progress(f"t-SNE {i}/{len(panels)}: {name} ({len(X):,} points)")
        emb = tsne.embed(np.asarray(X, dtype=np.float32).reshape(len(X), -1), seed=seed, perplexity=perplexity)
        out[name] = {"embedding": emb, "silhouette": float(tsne.silhouette(emb, y))}
    return out


def plot_tsne_panels(panels: dict, y, labels):
    """Figs. 5 / 7 from :func:`tsne_panels`: one map per panel, its silhouette in the title."""
    import matplotlib.pyplot as plt

    from ..analysis import tsne

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    for ax, (name, p) in zip(axes[0], panels.items()):
        tsne.plot_tsne(p["embedding"], np.asarray(y), ax=ax, title=f"{name}\nsilhouette {p['silhouette']:.2f}",
                       label_names=list(labels))
    fig.tight_layout()
    return fig


def plot_confusions(confusions: dict, title_suffix: str = ""):
    """Fig. 4: one confusion matrix (row %) per model, side by side."""
    import matplotlib.pyplot as plt

    from ..results import plot_confusion

    fig, axes = plt.subplots(1, len(confusions), figsize=(4.5 * len(confusions), 3.8), squeeze=False)
    for ax, (name, conf) in zip(axes[0], confusions.items()):
        plot_confusion(conf, ax=ax, title=f"{name}{title_suffix}")
    fig.tight_layout()
    return fig


def _pca(X, k: int) -> np.ndarray:
    from ..analysis.tsne import standardised_pca

    return standardised_pca(X, k, seed=0).astype(np.float32)


def mine_curves(original: dict, encoded: dict, *, steps: int, dim: int = 16, batch_size: int = 128,
                seed: int = 0) -> dict:
    """Fig. 8: MINE estimates for V-T, A-T, A-V on original vs encoded features.

    Both views of every pair are reduced to ``dim`` principal components (standardised first)
    so the original (e.g. 24,576-d audio) and encoded (R*d) features are compared at one size.
    Returns {pair: {"original": MIResult, "encoded": MIResult}} for the pairs both dicts hold.
    """
    from ..analysis import mine

    out = {}
    for name, (a, b) in PAIRS.items():
        if a in original and b in original and a in encoded and b in encoded:
            out[name] = {kind: mine.estimate_mi(_pca(src[a], dim), _pca(src[b], dim), steps=steps,
                                                batch_size=min(batch_size, len(src[a])), seed=seed, progress=False)
                         for kind, src in (("original", original), ("encoded", encoded))}
    return out


def plot_mine(curves: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(len(curves), 1), figsize=(4.2 * max(len(curves), 1), 3.3), squeeze=False)
    for ax, (name, res) in zip(axes[0], curves.items()):
        ax.plot(res["original"].smoothed, color="tab:green", label="original features")
        ax.plot(res["encoded"].smoothed, color="tab:red", label="encoded features")
        ax.set(title=f"MINE, {name}", xlabel="MINE training step", ylabel="MI estimate (nats)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def dcca_curves(fused: dict, reference, *, steps: int, dim: int = 16, out_dim: int = 4, seed: int = 0,
                held_out: float = 0.3) -> dict:
    """Fig. 9: DCCA between each fusion's fused features and ``reference`` (the original inputs),
    both reduced to ``dim`` principal components (same DCCA network and settings for every fusion).

    A seeded ``held_out`` share of the rows is kept out of DCCA training; its correlation
    (``val_corr``) is the number to trust with few rows (the training correlation saturates).
    """
    from ..analysis import dcca

    ref = _pca(reference, dim)
    n = len(ref)
    perm = np.random.default_rng(seed).permutation(n)
    va, tr = perm[: int(round(held_out * n))], perm[int(round(held_out * n)):]
    out = {}
    for name, X in fused.items():
        Xp = _pca(X, dim)
        out[name] = dcca.fit_dcca(Xp[tr], ref[tr], x1_val=Xp[va], x2_val=ref[va], out_dim=out_dim, steps=steps,
                                  batch_size=min(256, len(tr)), seed=seed, progress=False)
    return out


def plot_dcca(curves: dict):
    import matplotlib.pyplot as plt

    from ..analysis.mine import smooth

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, res in curves.items():
        ax.plot(smooth(np.asarray(res.curve)), label=f"{name} (train {res.corr:.2f}, held-out {res.val_corr:.2f})")
    ax.set(title="DCCA correlation (smoothed)", xlabel="DCCA training step", ylabel="mean canonical correlation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: the digits check fails when its reconstructions keep more than this share of the error of predicting each
#: channel's mean training image (an autoencoder that learnt digits removes most of it)
DIGITS_FAIL_RATIO = 0.5


def digits_check(*, epochs: int, n_train: int, n_show: int = 6, sizes: dict | None = None, seed: int = 0,
                 n_eval: int = 200) -> dict:
    """Fig. 6: digits 0-2, 3-5, 6-8 fed to channels 1-3 of one MCWSA (CMHA fusion); stage-1 training.

    Data: scikit-learn's bundled 8x8 ``load_digits`` (the offline stand-in for MNIST; each
    image is 8 rows of 8 values, scaled to [0, 1]). Training triples pair random images of
    the three groups; the test triples come from held-out images. Returns inputs/reconstructions
    of ``n_show`` test triples per channel and the loss curve, and the check's verdict: ``test_mse`` over
    ``n_eval`` held-out triples (the shown ones first), ``baseline_mse`` of predicting each channel's mean
    training image on the same triples, their ratio ``mse_ratio``, ``failed`` (the ratio above
    :data:`DIGITS_FAIL_RATIO`: the reconstructions are little better than one average image) and
    ``flag``, one sentence with the numbers.
    """
    from sklearn.datasets import load_digits

    train.seed_everything(seed)
    d = load_digits()
    X, t = (d.images / 16.0).astype(np.float32), d.target
    rng = np.random.default_rng(seed)
    groups = [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    split = {}
    for g, digits in enumerate(groups):
        idx = rng.permutation(np.flatnonzero(np.isin(t, digits)))
        cut = int(0.8 * len(idx))
        split[g] = (idx[:cut], idx[cut:])
    names = ("ch1", "ch2", "ch3")

    def triples(part, n):
        return {names[g]: X[rng.choice(split[g][part], n)] for g in range(3)}

    tr, te = triples(0, n_train), triples(1, max(n_show, n_eval))
    kw = dict(sizes or {})
    kw.update(modalities=names, extra_shapes={c: (8, 8) for c in names}, rows=8,
              encoder_kinds={c: "conv1d" for c in names}, fusion="cmha", n_classes=2)
    model = models.create("mcwsa_cmha", **kw)
    feats = [{c: tr[c][i] for c in names} for i in range(n_train)]
    cfg = train.TrainConfig(batch_size=64, lr=1e-3, seed=seed, progress=False, device="cpu")
    hist = pretrain(model, feats, np.arange(n_train), cfg, epochs)
    model.eval()
    with torch.no_grad():
        rec = {c: v.numpy() for c, v in model.reconstruct(*[torch.as_tensor(te[c]) for c in names]).items()}
    mse = float(np.mean([np.mean((rec[c] - te[c]) ** 2) for c in names]))
    # the floor any autoencoder must clear: every reconstruction = the channel's mean training image
    base = float(np.mean([np.mean((tr[c].mean(0, keepdims=True) - te[c]) ** 2) for c in names]))
    ratio = mse / base if base > 0 else float("nan")
    failed = not ratio <= DIGITS_FAIL_RATIO
    n_te = len(te[names[0]])
    if failed:
        flag = (f"**Failed check.** Test MSE {mse:.4f} over {n_te} held-out triples is {100 * ratio:.0f}% of the "
                f"{base:.4f} of predicting each channel's mean training image: the reconstructions are little "
                f"more than that average image (the stripes above): after {epochs} epochs on {n_train} images "
                f"({epochs * -(-n_train // cfg.batch_size)} Adam steps of {cfg.batch_size}, the paper's batch and "
                f"learning rate) this autoencoder has not yet learnt to reconstruct digits, so the figure is not "
                "the paper's check.")
    else:
        flag = (f"**Check passed.** Test MSE {mse:.4f} over {n_te} held-out triples is {100 * ratio:.0f}% of the "
                f"{base:.4f} of predicting each channel's mean training image ({epochs} epochs on {n_train} images): "
                "the reconstructions carry the digits, not one average image.")
    show = {c: te[c][:n_show] for c in names}
    return {"inputs": show, "outputs": {c: rec[c][:n_show] for c in names}, "history": hist,
            "groups": groups, "test_mse": mse, "baseline_mse": base, "mse_ratio": ratio, "failed": failed,
            "flag": flag, "n_eval": n_te}


def plot_digits(check: dict):
    """Fig. 6 layout: per channel, a row of inputs above a row of reconstructions."""
    import matplotlib.pyplot as plt

    names = list(check["inputs"])
    n = check["inputs"][names[0]].shape[0]
    fig, axes = plt.subplots(2 * len(names), n, figsize=(1.1 * n, 2.3 * len(names)), squeeze=False)
    for c, name in enumerate(names):
        for j in range(n):
            for r, (kind, src) in enumerate((("input", check["inputs"]), ("output", check["outputs"]))):
                ax = axes[2 * c + r, j]
                ax.imshow(np.clip(src[name][j], 0, 1), cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(f"{name}\n{kind}", fontsize=8)
    digits = ", ".join(f"{n_}: {g[0]}-{g[-1]}" for n_, g in zip(names, check["groups"]))
    fig.suptitle(f"digits check ({digits}); test MSE {check['test_mse']:.4f}", fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- the chapter

def run(P: dict, corpus) -> ChapterResult:
    """Everything the chapter measures on ``corpus`` with the resolved parameters ``P`` (:func:`_run`); its
    progress lines begin with the paper, dataset, profile and seed, then the stage."""
    with train.progress_stage(f"{PAPER}/{P['dataset']}/{P['profile']} seed {P['seed']}"):
        return _run(P, corpus)


def _run(P: dict, corpus) -> ChapterResult:
    """Everything the chapter measures on ``corpus`` with the resolved parameters ``P``.

    The headline is CMHA with stage-1 pre-training on every modality both ``P['modalities']``
    asks for and the corpus has (A+V+T when all three). ``figures`` holds the page's tables
    (``summary``, ``inputs``, ``folds``, ``grid``, ``per_class``, ``n_params``, ``deviations``,
    ``table1``-``table3``, ``mine_table``) and figure data (``confusions``, ``tsne5``, ``tsne7``,
    ``digits``, ``mine``, ``dcca``, with ``y``/``labels``/``full``); a figure that needs two or
    more modalities is an empty dict on a one-modality corpus.
    """
    t_start, timings = time.time(), {}
    man, labels = corpus.manifest, corpus.labels
    have = data.modalities(man)
    todo = plan(P, [m for m in P["modalities"] if m in have])
    mods, full = todo["modalities"], todo["full"]
    multimodal = len(mods) > 1
    feats = modality_features(man, mods, video=P["video"], video_weights=P["video_weights"],
                              word2vec=P["word2vec"], seed=int(P["seed"]))
    y = man["y"].to_numpy()
    folds = experiment.folds(man, P)
    timings["features_s"] = round(time.time() - t_start, 1)

    t0 = time.time()
    grid = run_grid(feats, y, folds, labels, todo["table2"], P, capture_column=full)
    t3_runs = run_table_three(man, feats, y, folds, labels, todo["table3"], P, grid)
    timings["training_s"] = round(time.time() - t0, 1)
    main = grid[("cmha", full)]
    cv = main["cv"]
    data_label = (f"{P['dataset']}{' (synthetic)' if corpus.synthetic else ''}, {P['profile']} profile, "
                  f"{len(folds)} fold(s)")
    note = (f"measured on {data_label}, modalities {full}"
            + ("; synthetic corpus, not comparable with the paper" if corpus.synthetic else ""))
    comps = comparisons(grid, t3_runs, main, P["reference_dataset"], note, full)
    n_params = {"this run": main["n_params"], "paper preset": train.count_parameters(models.create(PAPER))}

    confusions = {"CMHA": cv.pooled["confusion"]}
    if multimodal:
        confusions["MulT"] = grid[("mult", full)]["cv"].pooled["confusion"]
    fused = {FUSION_ROWS[f]: grid[(f, full)]["sup"] for f in FUSION_ROWS
             if multimodal and (f, full) in grid and "sup" in grid[(f, full)]}
    with train.progress_stage("Fig. 5", nested=True):
        tsne5 = tsne_panels(fused, y, seed=int(P["seed"]), perplexity=P["tsne_perplexity"])

    t0 = time.time()
    with train.progress_stage("Fig. 6 digits check", nested=True):
        digits = digits_check(epochs=P["digits_epochs"], n_train=P["digits_train"], sizes=sizes_from_params(P),
                              seed=int(P["seed"]))
    timings["digits_s"] = round(time.time() - t0, 1)

    orig = original_views(feats)
    inputs = np.concatenate([orig[m] for m in mods], 1)
    with train.progress_stage("Fig. 7", nested=True):
        tsne7 = tsne_panels({"original features": inputs, "fused, unsupervised (stage 1)": main["unsup"],
                             "fused, supervised (stage 2)": main["sup"]},
                            y, seed=int(P["seed"]), perplexity=P["tsne_perplexity"])
    t0 = time.time()
    if multimodal:
        train.report_progress(f"Fig. 8: MINE, {P['mine_steps']} steps per pair")
    mi = mine_curves(orig, main["encoded"], steps=P["mine_steps"], seed=int(P["seed"])) if multimodal else {}
    timings["mine_s"] = round(time.time() - t0, 1)
    t0 = time.time()
    if fused:
        train.report_progress(f"Fig. 9: DCCA, {P['dcca_steps']} steps per fusion")
    dc = dcca_curves(fused, inputs, steps=P["dcca_steps"], seed=int(P["seed"])) if fused else {}
    timings["dcca_s"] = round(time.time() - t0, 1)
    timings["total_s"] = round(time.time() - t_start, 1)

    dev = deviations(P, mods, data_label)
    extra = {"model": PAPER, "modalities": list(mods), "n_params": n_params, "cv": cv.to_json(),
             "pretrain": main["pretrain"], "grid": grid_frame(grid).reset_index().to_dict("records"),
             "table3": {e: {c: round(r["ua"], 2) for c, r in cols.items()} for e, cols in t3_runs.items()},
             "confusions": confusions,
             "silhouette": {"fig5": {k: v["silhouette"] for k, v in tsne5.items()},
                            "fig7": {k: v["silhouette"] for k, v in tsne7.items()}},
             "mine": {k: {kk: vv.mi for kk, vv in v.items()} for k, v in mi.items()},
             "dcca": {k: {"train": v.corr, "held_out": v.val_corr} for k, v in dc.items()},
             "digits_test_mse": digits["test_mse"], "timings": timings,
             "deviations": dev["this run"].to_dict()}
    figures = {
        "summary": run_summary(P, corpus, folds, todo, have),
        "inputs": pd.DataFrame({m: [str(a.shape)] for m, a in feats[0].items()}, index=["input per utterance"]),
        "folds": pd.DataFrame([f.sizes() for f in folds], index=[f.name for f in folds]),
        "grid": grid_frame(grid),
        "n_params": pd.DataFrame([n_params], index=["parameters"]),
        "per_class": pd.DataFrame(cv.pooled["per_class"]).T.round(2),
        "deviations": dev,
        "table1": table_one(main["ua"], P["reference_dataset"], data_label),
        "table2": table_two(grid, P["reference_dataset"]),
        "table3": table_three(t3_runs, P["reference_dataset"]) if todo["table3"] else None,
        "full": full, "y": y, "labels": list(labels),
        "confusions": confusions, "tsne5": tsne5, "tsne7": tsne7, "digits": digits, "mine": mi, "dcca": dc,
        "mine_table": pd.DataFrame({k: {"original (nats)": round(v["original"].mi, 3),
                                        "encoded (nats)": round(v["encoded"].mi, 3)} for k, v in mi.items()}).T,
    }
    return ChapterResult(protocol=experiment.describe_folds(folds, P), metrics=cv.summary["mean"],
                         per_class=cv.pooled["per_class"], confusion=cv.pooled["confusion"], comparisons=comps,
                         extra=extra, figures=figures, predictions=cv_predictions(cv, PAPER, P["seed"]))


# ----------------------------------------------------------------------------- leaderboard

def method(P: dict, have=ALL) -> Method:
    """MCWSA-CMHA for the leaderboard: two-stage training (:func:`run_cv`), CMHA fusion.

    ``P``: the chapter's resolved parameters (epochs, pretrain_epochs, batch_size, lr, weight_decay,
    seed, the widths of :data:`SIZE_KEYS`, video, video_weights, word2vec, modalities). The method
    uses the modalities both ``P['modalities']`` asks for and ``have`` offers.
    """
    mods = tuple(m for m in ALL if m in have and m in P["modalities"])
    if not mods:
        raise ValueError(f"MCWSA-CMHA needs one of {tuple(P['modalities'])}; the corpus has {tuple(have)}")
    sizes = sizes_from_params(P)
    state: dict = {"features": None}

    def features(man):
        state["features"] = modality_features(man, mods, video=P["video"], video_weights=P["video_weights"],
                                              word2vec=P["word2vec"], seed=int(P["seed"]), progress=False)
        return state["features"]

    def build(n_classes):
        if state["features"] is None:
            raise RuntimeError("call features(manifest) before build(): the input shapes come from the features")
        return builder(state["features"], mods, "cmha", n_classes, sizes)()

    def cv(build_model, feats, y, folds, cfg, labels, **kw):
        return run_cv(build_model, feats, y, folds, replace(cfg, inputs=mods), labels,
                      pretrain_epochs=int(P["pretrain_epochs"]),
                      **{k: v for k, v in kw.items() if k in ("segmented", "on_fold_end")})

    cfg = replace(train_config(P, mods), progress=None)
    letters = "+".join(MODALITY_LETTER[m] for m in mods)
    note = "; ".join([f"MCWSA-CMHA ({letters}; {P['pretrain_epochs']} reconstruction + {P['epochs']} fine-tuning "
                      f"epochs, batch {P['batch_size']}, {_widths(P)})",
                      *([f"text: {word_vectors.describe(P['word2vec'])}"] if "text" in mods else []),
                      *([f"video: {VIDEO_EXTRACTORS[P['video']][1]}"] if "video" in mods else [])])
    return Method(name="MCWSA-CMHA", paper=PAPER, modalities=mods, features=features, build=build,
                  train=cfg, run_cv=cv, note=note)
