"""MLCCT chapter: features, the variants to train, and the paper's tables beside ours.

The notebook ``book/mlcct.ipynb`` calls, in order::

    feats = mlcct.features(manifest, mods, P)            # {"audio": (T, D), "text": (L, D)} per row
    res = mlcct.run_variants(feats, manifest, folds, labels, P, ...)
    mlcct.paper_table(res, "Table 3", P) ...             # reported beside measured
    comparisons = mlcct.comparisons(res, P)              # every reported-vs-measured row shown

Which rows can be measured depends on the corpus: text only on the IEMOCAP transcripts
(``iemocap_text``); audio, text, multimodal, the Table 7 ablations and the Table 8 grid
wherever both modalities exist (the synthetic corpus, IEMOCAP, MELD, CMU-MOSEI).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import models, reference, train
from ..models.mlcct import ABLATIONS, TABLE8_GRID, table8_label, table8_overrides
from ..results import comparison
from . import Method

PAPER = "mlcct"

#: reference-table dataset of each corpus this chapter runs on
REFERENCE_DATASET = {"iemocap": "iemocap", "iemocap_text": "iemocap", "synthetic": "iemocap",
                     "meld": "meld", "mosei": "mosei"}
#: the tables of each reference dataset (Tables 7 and 8 are CMU-MOSEI in the paper)
MAIN_TABLES = {"iemocap": ("Table 3", "Table 4"), "meld": ("Table 5",), "mosei": ("Table 6",)}
FIGURE = {"iemocap": "Fig. 4", "meld": "Fig. 5", "mosei": "Fig. 6"}

#: the paper's class names (reference CSV) -> our label names
CLASS_NAMES = {"Happy": "happy", "Sad": "sad", "Angry": "angry", "Neutral": "neutral", "Fear": "fear",
               "Disgust": "disgust", "Surprise": "surprise"}

F1_NOTE = ("the paper does not say which F1; ours is the weighted F1 over classes")
ACC_NOTE = "the paper's 'Acc' (mean accuracy); ours is WA = accuracy over all test utterances"

#: parameters of :func:`features` and their defaults (the notebook's parameters override them)
FEATURE_DEFAULTS = dict(
    audio_feature="ge2e",        # ge2e (offline stand-in) | ssl (Hugging Face model in audio_model)
    audio_model=None,            # ssl: hub name or folder (TERA is not on the hub; s3prl users convert it)
    audio_layer="last",          # encoder layer of the audio frame states
    audio_pool=4,                # average this many consecutive frames (100 -> 25 frames/s); 1 = off
    audio_max_s=None,            # clip audio to this many seconds (None: whole utterance)
    text_feature="minilm",       # minilm (offline stand-in) | text (Hugging Face model in text_model)
    text_model=None,             # text: hub name or folder, e.g. roberta-large
    text_layer="last",           # encoder layer of the token states
    nosse_n_mels=80,             # strategy C audio: 80-d log-mel (TERA's input) instead of the SSE
    nosse_text_layer=0,          # strategy C text: the encoder's static embedding layer (GloVe stand-in)
)


# ----------------------------------------------------------------------------- data

def available_modalities(manifest: pd.DataFrame) -> tuple:
    """``("audio", "text")`` restricted to what every row of ``manifest`` has."""
    out = []
    if "path" in manifest and manifest["path"].notna().all() and len(manifest):
        out.append("audio")
    if "text" in manifest and len(manifest):
        t = manifest["text"]
        if t.notna().all() and t.astype(str).str.strip().ne("").all():
            out.append("text")
    return tuple(out)


def pool_frames(x: np.ndarray, k: int) -> np.ndarray:
    """Average non-overlapping groups of ``k`` frames: (T, D) -> (ceil(T / k), D)."""
    if x.ndim != 2:
        raise ValueError(f"frames must be (T, D), got {x.shape}")
    k = int(k)
    if k <= 1 or len(x) == 0:
        return x
    n = -(-len(x) // k)
    pad = n * k - len(x)
    s = np.concatenate([x, np.zeros((pad, x.shape[1]), x.dtype)]).reshape(n, k, -1).sum(1)
    cnt = np.full((n, 1), k, np.float32)
    cnt[-1] = k - pad
    return (s / cnt).astype(np.float32)


def _opts(P: dict) -> dict:
    return {k: P.get(k, v) for k, v in FEATURE_DEFAULTS.items()}


def features(manifest: pd.DataFrame, modalities, P: dict | None = None, *, sse: bool = True,
             progress: bool = True) -> list[dict]:
    """Per manifest row ``{"audio": (T, D_a), "text": (L, D_s)}`` (only the given modalities).

    ``sse=True``: audio = frame states of the audio encoder (GE2E stand-in, or an SSL model
    such as TERA/wav2vec 2.0 via ``audio_feature="ssl"``), text = token states of the text
    encoder (MiniLM stand-in, or RoBERTa-large via ``text_feature="text"``).
    ``sse=False`` (Table 7 strategy C): 80-d log-mel frames and the text encoder's static
    embedding layer (no contextual, self-supervised layers).
    """
    from ..experiment import frame_features

    o = _opts(P or {})
    out = {}
    if "audio" in modalities:
        clip = {"max_s": o["audio_max_s"]} if o["audio_max_s"] else {}
        if not sse:
            a = frame_features(manifest, "logmel", n_mels=int(o["nosse_n_mels"]), progress=progress, **clip)
        elif o["audio_feature"] == "ssl":
            if not o["audio_model"]:
                raise ValueError("audio_feature='ssl' needs audio_model (a Hugging Face name or folder)")
            a = frame_features(manifest, "ssl", model=o["audio_model"], layer=o["audio_layer"],
                               progress=progress, **clip)
        elif o["audio_feature"] == "ge2e":
            a = frame_features(manifest, "ge2e", layer=o["audio_layer"], progress=progress, **clip)
        else:
            raise ValueError(f"audio_feature must be 'ge2e' or 'ssl', got {o['audio_feature']!r}")
        out["audio"] = [pool_frames(f, o["audio_pool"]) for f in a]
    if "text" in modalities:
        from ..features import extract

        layer = o["text_layer"] if sse else int(o["nosse_text_layer"])
        if o["text_feature"] == "text":
            if not o["text_model"]:
                raise ValueError("text_feature='text' needs text_model (e.g. roberta-large or a folder)")
            t = extract(manifest, "text", model=o["text_model"], layer=layer, progress=progress)
        elif o["text_feature"] == "minilm":
            t = extract(manifest, "minilm", layer=layer, progress=progress)
        else:
            raise ValueError(f"text_feature must be 'minilm' or 'text', got {o['text_feature']!r}")
        out["text"] = [np.asarray(f, np.float32) for f in t]
    if not out:
        raise ValueError(f"modalities must include 'audio' and/or 'text', got {modalities!r}")
    n = len(manifest)
    return [{m: out[m][i] for m in out} for i in range(n)]


def encoder_note(modalities, P: dict | None = None) -> str:
    """The deviation line for the encoders actually used."""
    o = _opts(P or {})
    parts = []
    if "audio" in modalities:
        enc = ("GE2E speaker-encoder frame states (Resemblyzer, 256-d), offline stand-in for TERA"
               if o["audio_feature"] == "ge2e" else f"{o['audio_model']} (layer {o['audio_layer']}) instead of TERA")
        parts.append(f"audio: {enc}, frames averaged in groups of {o['audio_pool']}")
    if "text" in modalities:
        enc = ("all-MiniLM-L6-v2 token states (384-d), offline stand-in for RoBERTa-large"
               if o["text_feature"] == "minilm" else f"{o['text_model']} token states (layer {o['text_layer']})")
        parts.append(f"text: {enc}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- models and training

def input_dims(feats: list[dict]) -> dict:
    """Feature sizes per modality from the first row."""
    return {f"{m}_dim": int(np.asarray(v).shape[-1]) for m, v in feats[0].items()}


def build_model(feats: list[dict], modalities, n_classes: int, preset: str = "mlcct_small", **overrides):
    """A fresh MLCCT for these features (input sizes read from them)."""
    dims = input_dims(feats)
    return models.create(preset, n_classes=n_classes, modalities=tuple(modalities),
                         **{k: v for k, v in dims.items() if k[:-4] in modalities}, **overrides)


def train_config(P: dict, modalities) -> train.TrainConfig:
    """The chapter's TrainConfig: the paper gives no optimiser settings, so these are ours."""
    return train.TrainConfig(
        epochs=int(P.get("epochs", 10)), batch_size=int(P.get("batch_size", 32)), lr=float(P.get("lr", 5e-4)),
        optimizer=str(P.get("optimizer", "adamw")), weight_decay=float(P.get("weight_decay", 1e-2)),
        clip_norm=float(P.get("clip_norm", 1.0)), early_stop_metric=str(P.get("early_stop_metric", "ua")),
        patience=P.get("patience"), seed=int(P.get("seed", 0)), device=str(P.get("device", "auto")),
        inputs=tuple(k for m in modalities for k in (m, f"{m}_lengths")))


def model_overrides(P: dict) -> dict:
    """Model config fields set in the parameters (``model_<field>``, e.g. ``model_d: 64``)."""
    from dataclasses import fields

    from ..models.mlcct import MLCCTConfig
    known = {f.name for f in fields(MLCCTConfig)}
    out = {}
    for k, v in P.items():
        if k.startswith("model_") and k[6:] in known and v is not None:
            out[k[6:]] = tuple(v) if isinstance(v, list) else v
    return out


@dataclass
class Variant:
    """One trained variant: what it is and what it scored (percent)."""

    name: str                      # "multimodal", "audio", "text", "ablation A", "table8 row 3"
    modalities: tuple
    overrides: dict
    metrics: dict                  # wa, ua, macro_f1, weighted_f1 (mean over folds)
    per_class: dict                # pooled over folds
    confusion: dict
    n_params: int
    seconds: float
    cv: dict = field(default_factory=dict)   # CVResult.to_json()
    history: list = field(default_factory=list)


def train_variant(name: str, feats: list[dict], y, folds, labels, P: dict, modalities,
                  preset: str | None = None, **overrides) -> Variant:
    """Cross-validate one MLCCT variant on ``folds`` (fresh model per fold).

    ``preset`` defaults to ``P["preset"]`` (else ``mlcct_small``); config fields come from
    ``model_<field>`` parameters, then ``overrides``.
    """
    preset = preset or P.get("preset") or "mlcct_small"
    ov = {**model_overrides(P), **overrides}
    build = lambda: build_model(feats, modalities, len(labels), preset, **ov)  # noqa: E731
    cfg = train_config(P, modalities)
    t0 = time.time()
    cv = train.cross_validate(build, feats, np.asarray(y), folds, cfg, labels)
    return Variant(name, tuple(modalities), ov, cv.summary["mean"], cv.pooled["per_class"],
                   cv.pooled["confusion"], train.count_parameters(build()), round(time.time() - t0, 2),
                   cv.to_json(), cv.folds[0]["fit"]["history"])


@dataclass
class ChapterRun:
    """Everything the notebook shows: the variants trained and on what."""

    dataset: str                   # the params file's dataset name (synthetic, iemocap_text, meld...)
    reference_dataset: str         # iemocap | meld | mosei: which of the paper's tables apply
    modalities: tuple              # what the corpus offers (and the parameters allow)
    variants: dict                 # name -> Variant
    notes: dict                    # table -> deviation / reading notes

    @property
    def main(self) -> Variant:
        """Multimodal when both modalities are there, else the one unimodal model."""
        return self.variants["multimodal" if len(self.modalities) == 2 else self.modalities[0]]


def run_variants(feats: list[dict], manifest: pd.DataFrame, folds, labels, P: dict, modalities,
                 nosse_feats: list[dict] | None = None) -> ChapterRun:
    """Train the main model, the unimodal rows, the Table 7 ablations and the Table 8 rows.

    Multimodal extras run only when both modalities are present: ``unimodal`` (bool),
    ``ablations`` (letters of Table 7 among A, B, C; D is the main model) and ``table8_rows``
    (indices into :data:`TABLE8_GRID`; the main model's own row is reused, not retrained).
    """
    y = manifest["y"].to_numpy()
    mods = tuple(modalities)
    v = {}
    if len(mods) == 2:
        v["multimodal"] = train_variant("multimodal", feats, y, folds, labels, P, mods)
        if P.get("unimodal", True):
            for m in mods:
                v[m] = train_variant(m, feats, y, folds, labels, P, (m,))
        for letter in P.get("ablations") or []:
            if letter not in ("A", "B", "C"):
                raise ValueError(f"ablations are Table 7 letters A, B, C (D is the main model), got {letter!r}")
            if letter == "C":
                if nosse_feats is None:
                    raise ValueError("ablation C (no SSE) needs nosse_feats = features(..., sse=False)")
                v["ablation C"] = train_variant("ablation C", nosse_feats, y, folds, labels, P, mods)
            else:
                v[f"ablation {letter}"] = train_variant(f"ablation {letter}", feats, y, folds, labels, P,
                                                        mods, **ABLATIONS[letter])
        main_row = tuple(v["multimodal"].overrides.get(k, getattr(models.preset(P.get("preset") or "mlcct_small"), k))
                         for k in ("n_cross", "n_self", "cross_heads", "self_heads"))
        for i in P.get("table8_rows") or []:
            row = TABLE8_GRID[int(i)]
            if row == main_row:
                v[f"table8 {i}"] = v["multimodal"]
            else:
                v[f"table8 {i}"] = train_variant(f"table8 {i}", feats, y, folds, labels, P, mods,
                                                 **table8_overrides(row))
    else:
        v[mods[0]] = train_variant(mods[0], feats, y, folds, labels, P, mods)
    ref = P.get("reference_dataset") or REFERENCE_DATASET.get(P.get("dataset"), "iemocap")
    if ref not in MAIN_TABLES:
        raise ValueError(f"reference_dataset must be one of {sorted(MAIN_TABLES)}, got {ref!r}")
    return ChapterRun(P.get("dataset", "?"), ref, mods, v, {})


# ----------------------------------------------------------------------------- tables

def variants_frame(res: ChapterRun) -> pd.DataFrame:
    """One line per trained variant: modalities, settings, WA/UA/F1, parameters, seconds."""
    rows = []
    for name, var in res.variants.items():
        rows.append({"variant": name, "modalities": "+".join(var.modalities),
                     "settings": ", ".join(f"{k}={v}" for k, v in var.overrides.items()) or "preset",
                     "WA": round(var.metrics["wa"], 2), "UA": round(var.metrics["ua"], 2),
                     "macro F1": round(var.metrics["macro_f1"], 2),
                     "weighted F1": round(var.metrics["weighted_f1"], 2),
                     "parameters": var.n_params, "seconds": var.seconds})
    return pd.DataFrame(rows).set_index("variant")


def measured_cells(res: ChapterRun) -> dict:
    """``{table: {(row, column, metric): measured or None}}`` for every MLCCT cell of the paper.

    Cells whose corpus/modality did not run stay ``None`` (shown as not measured).
    """
    ref = reference.load(PAPER)
    rd = res.reference_dataset
    var = res.variants
    cells: dict = {}

    def put(table, row, column, metric, value):
        cells.setdefault(table, {})[(row, column, metric)] = None if value is None else round(float(value), 2)

    for table, dset in (("Table 3", "iemocap"), ("Table 5", "meld"), ("Table 6", "mosei")):
        t = ref[(ref.table == table) & (ref.row == "MLCCT")]
        for _, r in t.iterrows():
            vv = var.get(r.column) if rd == dset else None
            val = None if vv is None else (vv.metrics["wa"] if r.metric == "accuracy" else vv.metrics["weighted_f1"])
            put(table, "MLCCT", r.column, r.metric, val)
    main = res.main
    for _, r in ref[(ref.table == "Table 4") & (ref.row == "MLCCT")].iterrows():
        pc = main.per_class.get(CLASS_NAMES[r.column]) if rd == "iemocap" else None
        val = None if pc is None else (pc["recall"] if r.metric == "accuracy" else pc["f1"])
        put("Table 4", "MLCCT", r.column, r.metric, val)
    for _, r in ref[ref.table == "Table 7"].iterrows():
        vv = var.get("multimodal" if r.row == "D" else f"ablation {r.row}")
        val = None if vv is None else (vv.metrics["wa"] if r.metric == "accuracy" else vv.metrics["weighted_f1"])
        put("Table 7", r.row, "", r.metric, val)
    for i, row in enumerate(TABLE8_GRID):
        vv = var.get(f"table8 {i}")
        for metric in ("acc6", "acc2", "f1"):
            val = None
            if vv is not None and metric != "acc2":
                val = vv.metrics["wa"] if metric == "acc6" else vv.metrics["weighted_f1"]
            put("Table 8", table8_label(row), "", metric, val)
    for fig, dset in (("Fig. 5", "meld"), ("Fig. 6", "mosei")):
        for _, r in ref[ref.table == fig].iterrows():
            pc = main.per_class.get(CLASS_NAMES[r.column]) if rd == dset and len(res.modalities) == 2 else None
            put(fig, r.row, r.column, r.metric, None if pc is None else pc["recall"])
    return cells


def table_note(res: ChapterRun, table: str, corpus_found: bool | None = None) -> str:
    """What the measured column of ``table`` is (or why it is empty)."""
    rd = res.reference_dataset
    data = f"{res.dataset}" + (" (synthetic: pipeline check, not comparable)" if res.dataset == "synthetic" else "")
    need = {"Table 3": "iemocap", "Table 4": "iemocap", "Table 5": "meld", "Table 6": "mosei",
            "Fig. 4": "iemocap", "Fig. 5": "meld", "Fig. 6": "mosei"}.get(table)
    if need and need != rd:
        where = {"iemocap": "IEMOCAP", "meld": "MELD", "mosei": "CMU-MOSEI"}[need]
        found = "" if corpus_found is None else (
            " (corpus found: run this notebook with that dataset's parameters)" if corpus_found
            else ": corpus not found under the data root")
        return f"not measured here{found or ': corpus not found'} — reported numbers of {where} only"
    if table in ("Table 7", "Table 8") and len(res.modalities) < 2:
        return (f"not measured here: {res.dataset} has only {res.modalities[0]}; the ablations need audio "
                "and text — reported numbers (CMU-MOSEI) only")
    extra = ""
    if table in ("Table 7", "Table 8") and rd != "mosei":
        extra = " The paper's numbers are CMU-MOSEI (6 classes); ours are another corpus, so only the ordering can be compared."
    if table == "Table 8":
        extra += " ACC-2 is not measured: the paper does not define a binary reading of the 6 emotions."
    if table == "Table 4":
        extra += (" Our per-class 'Acc' is class recall (the recognition rate of Fig. 4); the RAVEN/MCTN/MulT rows "
                  "are one-vs-rest binary numbers from the MulT paper.")
    return f"measured on {data}; main model: {'+'.join(res.main.modalities)}.{extra}"


def paper_table(res: ChapterRun, table: str, corpus_found: bool | None = None) -> pd.DataFrame:
    """The paper's table as printed (every row) with a ``measured`` column per metric for MLCCT rows.

    Index: (row, column) as in the reference CSV; columns: ``<metric> reported``,
    ``<metric> measured``. ``attrs["note"]`` says what was measured on what.
    """
    ref = reference.load(PAPER)
    t = ref[ref.table == table]
    if t.empty:
        raise KeyError(f"{PAPER}: no table {table!r}; known: {reference.tables(PAPER)}")
    cells = measured_cells(res).get(table, {})
    rows = {}
    for _, r in t.iterrows():
        key = (r.row, r.column)
        d = rows.setdefault(key, {})
        d[f"{r.metric} reported"] = r.value
        if (r.row, r.column, r.metric) in cells:
            d[f"{r.metric} measured"] = cells[(r.row, r.column, r.metric)]
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["row", "column"])
    metrics = list(dict.fromkeys(t.metric))
    cols = [c for m in metrics for c in (f"{m} reported", f"{m} measured") if c in df]
    df = df[cols].apply(pd.to_numeric)          # not measured: NaN
    df.attrs["note"] = table_note(res, table, corpus_found)
    return df


def comparisons(res: ChapterRun, corpus_found: dict | None = None, deviations: str = "") -> list[dict]:
    """Every MLCCT reported-vs-measured cell of Tables 3-8 and Figs. 5-6 (measured None where not run)."""
    ref = reference.load(PAPER)
    found = corpus_found or {}
    out = []
    for table, cells in measured_cells(res).items():
        need = {"Table 3": "iemocap", "Table 4": "iemocap", "Table 5": "meld", "Table 6": "mosei",
                "Fig. 5": "meld", "Fig. 6": "mosei"}.get(table)
        note = table_note(res, table, found.get(need))
        for (row, column, metric), val in cells.items():
            sel = ref[(ref.table == table) & (ref.row == row) & (ref.metric == metric)
                      & (ref.column.fillna("") == column)]
            rep = float(sel.value.iloc[0]) if len(sel) == 1 else None
            mnote = ACC_NOTE if metric in ("accuracy", "acc6") else (F1_NOTE if metric == "f1" else "")
            label = row if not column else f"{row} [{column}]"
            out.append(comparison(table, label, metric, rep, val,
                                  "; ".join(x for x in (note, mnote, deviations if val is not None else "") if x)))
    return out


def corpora_found(data_root=None) -> dict:
    """Whether IEMOCAP (audio), MELD and CMU-MOSEI are under the data root."""
    from .. import data as sdata
    return {d: bool(sdata.is_available(d, data_root)) for d in ("iemocap", "meld", "mosei")}


def deviations(P: dict, modalities) -> str:
    """Deviations from the paper that apply to every measured number of this run."""
    preset = P.get("preset") or "mlcct_small"
    cfg = models.preset(preset)
    sizes = (f"model preset {preset} (Bi-LSTM {cfg.lstm_hidden}/direction, d={cfg.d}, token_dim={cfg.token_dim}; "
             "the paper gives no sizes)")
    return "; ".join([encoder_note(modalities, P), sizes,
                      f"{P.get('epochs')} epochs, {P.get('optimizer', 'adamw')} lr {P.get('lr', 5e-4)} "
                      "(the paper gives no training settings)"])


def show_table(res: ChapterRun, table: str, found: dict | None = None) -> pd.DataFrame:
    """Display the note of :func:`paper_table` as Markdown and return the table."""
    from IPython.display import Markdown, display

    need = {"Table 3": "iemocap", "Table 4": "iemocap", "Table 5": "meld", "Table 6": "mosei"}.get(table)
    df = paper_table(res, table, (found or {}).get(need))
    display(Markdown(f"**{table}.** {df.attrs['note']}"))
    return df


def confusion_figure(res: ChapterRun, title_prefix: str = ""):
    """Row-normalised confusion matrices of the main model (and unimodal ones when trained)."""
    import matplotlib.pyplot as plt

    from ..results import plot_confusion

    names = [n for n in ("multimodal", "audio", "text") if n in res.variants]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, n in zip(axes[0], names):
        plot_confusion(res.variants[n].confusion, ax=ax, title=f"{title_prefix}{n} (row %)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- leaderboard

PROFILES = {
    "smoke": dict(epochs=2, batch_size=16),
    "quick": dict(epochs=15, batch_size=32),
    "paper": dict(epochs=50, batch_size=32, preset="mlcct"),
}


def method(profile: str = "quick", **overrides) -> Method:
    """MLCCT for the leaderboard.

    overrides: ``modalities=("audio",)`` or ``("text",)`` for the unimodal variants (default
    both); any :data:`FEATURE_DEFAULTS` key; ``epochs``, ``batch_size``, ``lr``...; model
    config fields as ``model_<field>``; ``preset`` (default ``mlcct_small``; ``mlcct`` =
    the paper-sized model for a GPU).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    P = {**PROFILES[profile], **overrides}
    mods = tuple(P.pop("modalities", ("audio", "text")))
    if not mods or any(m not in ("audio", "text") for m in mods):
        raise ValueError(f"modalities must be a non-empty subset of ('audio', 'text'), got {mods!r}")
    preset = P.pop("preset", "mlcct_small")
    cache: dict = {}

    def feats(manifest):
        f = features(manifest, mods, P, progress=P.get("progress", True))
        cache["dims"] = input_dims(f)
        return f

    def build(n_classes):
        if "dims" not in cache:
            raise RuntimeError("call features(manifest) before build(): the input sizes come from the features")
        dims = {k: v for k, v in cache["dims"].items() if k[:-4] in mods}
        return models.create(preset, n_classes=n_classes, modalities=mods, **dims, **model_overrides(P))

    name = "MLCCT" + ("" if len(mods) == 2 else f" ({mods[0]} only)")
    return Method(name=name, paper=PAPER, modalities=mods, features=feats, build=build,
                  train=train_config(P, mods), note=encoder_note(mods, P) + "; no optimiser settings in the paper")
