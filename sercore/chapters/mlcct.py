"""MLCCT chapter: features, the variants to train, and the paper's tables beside ours.

``run(P, corpus)`` does every stage ``book/mlcct.ipynb`` shows and returns a
:class:`~sercore.results.ChapterResult`: the features of the modalities the corpus has (those of
``P["modalities"]`` that :func:`sercore.data.modalities` finds), the protocol's folds, the main model
and the variants ``P`` asks for (unimodal rows, Table 7 ablations, Table 8 rows), the paper's tables
with a measured column (``figures["tables"]``) and every reported-vs-measured cell.
``method(P, have)`` is the main model for the leaderboard.

Which rows can be measured depends on the corpus: text only on the IEMOCAP transcripts
(``iemocap_text``); audio, text, multimodal, the Table 7 ablations and the Table 8 grid
wherever both modalities exist (the synthetic corpus, IEMOCAP, MELD, CMU-MOSEI).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import data, experiment, models, reference, train
from ..models.mlcct import ABLATIONS, TABLE8_GRID, table8_label, table8_overrides
from ..results import ChapterResult, comparison, cv_predictions
from . import Method

PAPER = "mlcct"

#: the corpus each of the paper's tables and figures was measured on
TABLE_CORPUS = {"Table 3": "iemocap", "Table 4": "iemocap", "Table 5": "meld", "Table 6": "mosei",
                "Fig. 4": "iemocap", "Fig. 5": "meld", "Fig. 6": "mosei"}
CORPUS_NAMES = {"iemocap": "IEMOCAP", "meld": "MELD", "mosei": "CMU-MOSEI"}
#: the tables the notebook shows (reported beside measured)
TABLES = ("Table 3", "Table 4", "Table 5", "Table 6", "Table 7", "Table 8")

#: the paper's class names (reference CSV) -> our label names
CLASS_NAMES = {"Happy": "happy", "Sad": "sad", "Angry": "angry", "Neutral": "neutral", "Fear": "fear",
               "Disgust": "disgust", "Surprise": "surprise"}

F1_NOTE = "the paper does not say which F1; ours is the weighted F1 over classes"
ACC_NOTE = "the paper's 'Acc' (mean accuracy); ours is WA = accuracy over all test utterances"
RECALL_NOTE = "the paper's per-class 'Acc' / recognition rate; ours is the class recall"

#: Table 7 strategy C (no SSE): 80-d log-mel frames (TERA's own input) and the text encoder's static
#: embedding layer (a stand-in for the GloVe-style embeddings the paper contrasts SSE with)
NOSSE_N_MELS = 80
NOSSE_TEXT_LAYER = 0


# ----------------------------------------------------------------------------- data

def used_modalities(P: dict, have) -> tuple:
    """The modalities of ``P["modalities"]`` that are in ``have``, in the order audio, text."""
    return tuple(m for m in ("audio", "text") if m in P["modalities"] and m in tuple(have))


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


def _layer(v):
    return "last" if v is None else int(v)


def features(manifest: pd.DataFrame, modalities, P: dict, *, sse: bool = True,
             progress: bool | None = None) -> list[dict]:
    """Per manifest row ``{"audio": (T, D_a), "text": (L, D_s)}`` (only the given modalities).

    ``sse=True``: audio = frame states of the audio encoder (GE2E stand-in, or an SSL model
    such as TERA/wav2vec 2.0 via ``audio_feature: ssl``), text = token states of the text
    encoder (MiniLM stand-in, or RoBERTa-large via ``text_feature: text``).
    ``sse=False`` (Table 7 strategy C): 80-d log-mel frames and the text encoder's static
    embedding layer (no contextual, self-supervised layers).
    """
    from ..features import extract

    out = {}
    if "audio" in modalities:
        clip = {"max_s": P["audio_max_s"]} if P["audio_max_s"] else {}
        if not sse:
            a = experiment.frame_features(manifest, "logmel", n_mels=NOSSE_N_MELS, progress=progress, **clip)
        elif P["audio_feature"] == "ssl":
            if not P["audio_model"]:
                raise ValueError("audio_feature='ssl' needs audio_model (a Hugging Face name or folder)")
            a = experiment.frame_features(manifest, "ssl", model=P["audio_model"], layer=_layer(P["audio_layer"]),
                                          progress=progress, **clip)
        else:
            a = experiment.frame_features(manifest, "ge2e", layer=_layer(P["audio_layer"]), progress=progress,
                                          **clip)
        out["audio"] = [pool_frames(f, P["audio_pool"]) for f in a]
    if "text" in modalities:
        layer = _layer(P["text_layer"]) if sse else NOSSE_TEXT_LAYER
        if P["text_feature"] == "text":
            if not P["text_model"]:
                raise ValueError("text_feature='text' needs text_model (e.g. roberta-large or a folder)")
            t = extract(manifest, "text", model=P["text_model"], layer=layer, progress=progress)
        else:
            t = extract(manifest, "minilm", layer=layer, progress=progress)
        out["text"] = [np.asarray(f, np.float32) for f in t]
    if not out:
        raise ValueError(f"modalities must include 'audio' and/or 'text', got {modalities!r}")
    return [{m: out[m][i] for m in out} for i in range(len(manifest))]


def encoder_note(modalities, P: dict) -> str:
    """The deviation line for the encoders actually used."""
    parts = []
    if "audio" in modalities:
        enc = ("GE2E speaker-encoder frame states (Resemblyzer, 256-d), offline stand-in for TERA"
               if P["audio_feature"] == "ge2e"
               else f"{P['audio_model']} (layer {_layer(P['audio_layer'])}) instead of TERA")
        parts.append(f"audio: {enc}, frames averaged in groups of {P['audio_pool']}")
    if "text" in modalities:
        enc = ("all-MiniLM-L6-v2 token states (384-d), offline stand-in for RoBERTa-large"
               if P["text_feature"] == "minilm"
               else f"{P['text_model']} token states (layer {_layer(P['text_layer'])})")
        parts.append(f"text: {enc}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- models and training

def input_dims(feats: list[dict]) -> dict:
    """Feature sizes per modality from the first row: ``{"audio_dim": ..., "text_dim": ...}``."""
    return {f"{m}_dim": int(np.asarray(v).shape[-1]) for m, v in feats[0].items()}


def build_model(dims: dict, modalities, n_classes: int, preset: str, **overrides):
    """A fresh MLCCT of ``preset`` for inputs of these sizes (``dims`` from :func:`input_dims`)."""
    return models.create(preset, n_classes=n_classes, modalities=tuple(modalities),
                         **{k: v for k, v in dims.items() if k[:-4] in modalities}, **overrides)


def train_config(P: dict, modalities) -> train.TrainConfig:
    """The chapter's TrainConfig: the paper gives no optimiser settings, so these are ours (selection on UA)."""
    return train.TrainConfig(
        epochs=P["epochs"], batch_size=P["batch_size"], lr=P["lr"], optimizer=P["optimizer"],
        weight_decay=P["weight_decay"], clip_norm=P["clip_norm"], seed=P["seed"],
        inputs=tuple(k for m in modalities for k in (m, f"{m}_lengths")))


@dataclass
class Variant:
    """One trained variant: what it is and what it scored (percent)."""

    name: str                      # "multimodal", "audio", "text", "ablation A", "table8 3"
    modalities: tuple
    overrides: dict                # model config fields changed from the preset
    metrics: dict                  # wa, ua, macro_f1, weighted_f1 (mean over folds)
    per_class: dict                # pooled over folds
    confusion: dict
    n_params: int
    seconds: float
    cv: dict = field(default_factory=dict)   # CVResult.to_json()
    predictions: pd.DataFrame | None = None  # per test utterance (results.cv_predictions), for the intervals


def train_variant(name: str, feats: list[dict], y, folds, labels, P: dict, modalities,
                  **overrides) -> Variant:
    """Cross-validate one variant of ``P["preset"]`` on ``folds`` (fresh model per fold)."""
    dims = input_dims(feats)
    build = lambda: build_model(dims, modalities, len(labels), P["preset"], **overrides)  # noqa: E731
    t0 = time.time()
    stage = f"{PAPER}/{P['dataset']}/{P['profile']} seed {P['seed']} | variant {name} ({'+'.join(modalities)})"
    with train.progress_stage(stage):
        cv = train.cross_validate(build, feats, np.asarray(y), folds, train_config(P, modalities), labels)
    return Variant(name, tuple(modalities), dict(overrides), cv.summary["mean"], cv.pooled["per_class"],
                   cv.pooled["confusion"], train.count_parameters(build()), round(time.time() - t0, 2),
                   cv.to_json(), cv_predictions(cv, name))


def main_name(modalities) -> str:
    """The main model's variant name: multimodal when both modalities are there, else the one unimodal model."""
    return "multimodal" if len(modalities) == 2 else modalities[0]


def run_variants(feats: list[dict], y, folds, labels, P: dict, modalities,
                 nosse_feats: list[dict] | None = None) -> dict[str, Variant]:
    """Train the main model, the unimodal rows, the Table 7 ablations and the Table 8 rows.

    Multimodal extras run only when both modalities are present: ``P["unimodal"]``,
    ``P["ablations"]`` (Table 7 letters among A, B, C; D is the main model) and ``P["table8_rows"]``
    (indices into :data:`TABLE8_GRID`; the main model's own row is reused, not retrained).
    """
    mods = tuple(modalities)
    if len(mods) < 2:
        return {mods[0]: train_variant(mods[0], feats, y, folds, labels, P, mods)}
    v = {"multimodal": train_variant("multimodal", feats, y, folds, labels, P, mods)}
    if P["unimodal"]:
        for m in mods:
            v[m] = train_variant(m, feats, y, folds, labels, P, (m,))
    for letter in P["ablations"]:
        if letter == "C":
            if nosse_feats is None:
                raise ValueError("ablation C (no SSE) needs nosse_feats = features(..., sse=False)")
            v["ablation C"] = train_variant("ablation C", nosse_feats, y, folds, labels, P, mods)
        else:
            v[f"ablation {letter}"] = train_variant(f"ablation {letter}", feats, y, folds, labels, P, mods,
                                                    **ABLATIONS[letter])
    cfg = models.preset(P["preset"])
    main_row = (cfg.n_cross, cfg.n_self, cfg.cross_heads, cfg.self_heads)
    for i in P["table8_rows"]:
        row = TABLE8_GRID[int(i)]
        v[f"table8 {i}"] = (v["multimodal"] if row == main_row else
                            train_variant(f"table8 {i}", feats, y, folds, labels, P, mods, **table8_overrides(row)))
    return v


# ----------------------------------------------------------------------------- text baselines

#: inverse regularisation strengths tried for the TF-IDF baseline, chosen on the validation part
TFIDF_CS = (0.1, 1.0, 10.0)


def text_baselines(manifest: pd.DataFrame, folds, labels) -> pd.DataFrame:
    """Two baselines on the run's own folds, for a text model's numbers to mean something: the majority
    class of the training part, and TF-IDF (word 1-2-grams) + logistic regression (scikit-learn), its
    ``C`` chosen on the fold's validation part (MELD: dev) among :data:`TFIDF_CS`, never on the test part.

    One row per baseline: WA, UA, macro and weighted F1 (percent, pooled over the folds' test
    utterances), the test utterances, and how ``C`` was chosen. Needs a ``text`` column.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from ..metrics import classification_report

    if "text" not in manifest or manifest["text"].isna().any():
        raise ValueError("text_baselines: every utterance needs a transcript (column 'text')")
    text, y = manifest["text"].astype(str).to_numpy(), manifest["y"].to_numpy()
    truth, preds, chosen = [], {"majority class": [], "TF-IDF + logistic regression": []}, []
    for f in folds:
        tr, va, te = np.asarray(f.train), np.asarray(f.val), np.asarray(f.test)
        truth += list(y[te])
        preds["majority class"] += [int(np.bincount(y[tr], minlength=len(labels)).argmax())] * len(te)
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        xtr = vec.fit_transform(text[tr])
        fit = lambda c: LogisticRegression(C=c, max_iter=2000).fit(xtr, y[tr])  # noqa: E731
        if len(va):
            xva = vec.transform(text[va])
            c = max(TFIDF_CS, key=lambda c: (fit(c).score(xva, y[va]), -abs(np.log10(c))))
            chosen.append(f"C={c:g} on {len(va)} validation utterances")
        else:
            c = 1.0
            chosen.append("C=1 (no validation part)")
        preds["TF-IDF + logistic regression"] += list(fit(c).predict(vec.transform(text[te])))
    rows = []
    for name, p in preds.items():
        m = classification_report(truth, p, labels)["metrics"]
        rows.append({"baseline": name, "WA": m["wa"], "UA": m["ua"], "macro F1": m["macro_f1"],
                     "weighted F1": m["weighted_f1"], "test utterances": len(truth),
                     "how": "the training part's most frequent class" if name == "majority class"
                            else "; ".join(dict.fromkeys(chosen))})
    return pd.DataFrame(rows).set_index("baseline")


# ----------------------------------------------------------------------------- tables

def variants_frame(variants: dict) -> pd.DataFrame:
    """One line per trained variant: modalities, settings, WA/UA/F1, parameters, seconds."""
    rows = []
    for name, var in variants.items():
        rows.append({"variant": name, "modalities": "+".join(var.modalities),
                     "settings": ", ".join(f"{k}={v}" for k, v in var.overrides.items()) or "preset",
                     "WA": round(var.metrics["wa"], 2), "UA": round(var.metrics["ua"], 2),
                     "macro F1": round(var.metrics["macro_f1"], 2),
                     "weighted F1": round(var.metrics["weighted_f1"], 2),
                     "parameters": var.n_params, "seconds": var.seconds})
    return pd.DataFrame(rows).set_index("variant")


def _acc_f1(var: Variant | None, metric: str):
    if var is None:
        return None
    return var.metrics["wa"] if metric in ("accuracy", "acc6") else var.metrics["weighted_f1"]


def measured_cells(variants: dict, modalities, P: dict) -> dict:
    """``{table: {(row, column, metric): measured or None}}`` for every MLCCT cell of the paper.

    Cells whose corpus/modality did not run stay ``None`` (shown as not measured).
    """
    ref = reference.load(PAPER)
    rd = P["reference_dataset"]
    main = variants[main_name(modalities)]
    cells: dict = {}

    def put(table, row, column, metric, value):
        cells.setdefault(table, {})[(row, column, metric)] = None if value is None else round(float(value), 2)

    for table in ("Table 3", "Table 5", "Table 6"):
        for _, r in ref[(ref.table == table) & (ref.row == "MLCCT")].iterrows():
            put(table, "MLCCT", r.column, r.metric,
                _acc_f1(variants.get(r.column) if rd == TABLE_CORPUS[table] else None, r.metric))
    for _, r in ref[(ref.table == "Table 4") & (ref.row == "MLCCT")].iterrows():
        pc = main.per_class.get(CLASS_NAMES[r.column]) if rd == "iemocap" else None
        put("Table 4", "MLCCT", r.column, r.metric,
            None if pc is None else (pc["recall"] if r.metric == "accuracy" else pc["f1"]))
    for _, r in ref[ref.table == "Table 7"].iterrows():
        put("Table 7", r.row, "", r.metric,
            _acc_f1(variants.get("multimodal" if r.row == "D" else f"ablation {r.row}"), r.metric))
    for i, row in enumerate(TABLE8_GRID):
        for metric in ("acc6", "acc2", "f1"):           # ACC-2 is not measured (see the readings)
            put("Table 8", table8_label(row), "", metric,
                None if metric == "acc2" else _acc_f1(variants.get(f"table8 {i}"), metric))
    for fig in ("Fig. 5", "Fig. 6"):
        for _, r in ref[ref.table == fig].iterrows():
            pc = (main.per_class.get(CLASS_NAMES[r.column])
                  if rd == TABLE_CORPUS[fig] and len(modalities) == 2 else None)
            put(fig, r.row, r.column, r.metric, None if pc is None else pc["recall"])
    return cells


def table_note(table: str, modalities, P: dict, corpus_found: bool | None = None) -> str:
    """What the measured column of ``table`` is (or why it is empty)."""
    rd, dataset = P["reference_dataset"], P["dataset"]
    need = TABLE_CORPUS.get(table)
    if need and need != rd:
        found = "" if corpus_found is None else (
            " (corpus found: run this notebook with that dataset's parameters)" if corpus_found
            else ": corpus not found under the data root")
        return f"not measured here{found or ': corpus not found'} — reported numbers of {CORPUS_NAMES[need]} only"
    if table in ("Table 7", "Table 8") and len(modalities) < 2:
        return (f"not measured here: {dataset} has only {modalities[0]}; the ablations need audio "
                "and text — reported numbers (CMU-MOSEI) only")
    extra = ""
    if table in ("Table 7", "Table 8") and rd != "mosei":
        extra = (" The paper's numbers are CMU-MOSEI (6 classes); ours are another corpus, so only the "
                 "ordering can be compared.")
    if table == "Table 8":
        extra += " ACC-2 is not measured."
    if table == "Table 4":
        extra += " The RAVEN/MCTN/MulT rows are one-vs-rest binary numbers from the MulT paper."
    data_ = dataset + (" (synthetic: pipeline check, not comparable)" if dataset == "synthetic" else "")
    return f"measured on {data_}; main model: {'+'.join(modalities)}.{extra}"


def paper_table(table: str, variants: dict, modalities, P: dict, found: dict | None = None) -> pd.DataFrame:
    """The paper's table as printed (every row) with a ``measured`` column per metric for MLCCT rows.

    Index: (row, column) as in the reference CSV; columns: ``<metric> reported``,
    ``<metric> measured``. ``attrs["note"]`` says what was measured on what; ``found`` maps the
    paper's corpora to whether they are under the data root (:func:`corpora_found`).
    """
    ref = reference.load(PAPER)
    t = ref[ref.table == table]
    if t.empty:
        raise KeyError(f"{PAPER}: no table {table!r}; known: {reference.tables(PAPER)}")
    cells = measured_cells(variants, modalities, P).get(table, {})
    rows = {}
    for _, r in t.iterrows():
        d = rows.setdefault((r.row, r.column), {})
        d[f"{r.metric} reported"] = r.value
        if (r.row, r.column, r.metric) in cells:
            d[f"{r.metric} measured"] = cells[(r.row, r.column, r.metric)]
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["row", "column"])
    metrics = list(dict.fromkeys(t.metric))
    df = df[[c for m in metrics for c in (f"{m} reported", f"{m} measured") if c in df]].apply(pd.to_numeric)
    df.attrs["note"] = table_note(table, modalities, P, (found or {}).get(TABLE_CORPUS.get(table)))
    return df


def comparisons(variants: dict, modalities, P: dict, found: dict | None = None,
                deviations: str = "") -> list[dict]:
    """Every MLCCT reported-vs-measured cell of Tables 3-8 and Figs. 5-6 (measured None where not run)."""
    out = []
    for table, cells in measured_cells(variants, modalities, P).items():
        note = table_note(table, modalities, P, (found or {}).get(TABLE_CORPUS.get(table)))
        for (row, column, metric), val in cells.items():
            rep = reference.get(PAPER, table, row, metric, column=column, default=None)
            per_class = table in ("Table 4", "Fig. 5", "Fig. 6")
            if per_class:
                mnote = "" if metric == "f1" else RECALL_NOTE
            else:
                mnote = ACC_NOTE if metric in ("accuracy", "acc6") else F1_NOTE if metric == "f1" else ""
            out.append(comparison(table, row if not column else f"{row} [{column}]", metric, rep, val,
                                  "; ".join(x for x in (note, mnote, deviations if val is not None else "") if x)))
    return out


def corpora_found(data_root=None) -> dict:
    """Whether IEMOCAP (audio), MELD and CMU-MOSEI are under the data root."""
    return {d: bool(data.is_available(d, data_root)) for d in CORPUS_NAMES}


def deviations(P: dict, modalities) -> str:
    """Deviations from the paper that apply to every measured number of this run."""
    cfg = models.preset(P["preset"])
    sizes = (f"model preset {P['preset']} (Bi-LSTM {cfg.lstm_hidden}/direction, d={cfg.d}, "
             f"token_dim={cfg.token_dim}; the paper gives no sizes)")
    return "; ".join([encoder_note(modalities, P), sizes,
                      f"{P['epochs']} epochs, {P['optimizer']} lr {P['lr']} (the paper gives no training settings)"])


def run_note(P: dict) -> str:
    """What this run is, in one sentence computed from ``P`` (profile, budget, variants)."""
    n = "all utterances" if P["n_per_class"] is None else f"at most {P['n_per_class']} utterances per class"
    folds = "every fold" if P["max_folds"] is None else f"the first {P['max_folds']} fold(s)"
    extras = [x for x in (
        "the unimodal rows" if P["unimodal"] else "",
        f"Table 7 strategies {', '.join(P['ablations'])}" if P["ablations"] else "",
        f"Table 8 rows {', '.join(map(str, P['table8_rows']))}" if P["table8_rows"] else "") if x]
    return (f"This page shows a **{P['profile']}**-profile run of MLCCT on `{P['dataset']}` (seed {P['seed']}): "
            f"preset `{P['preset']}`, {P['epochs']} epoch(s) of batch {P['batch_size']}, {n}, {folds}; "
            f"besides the main model, where the corpus has audio and text: "
            f"{', '.join(extras) if extras else 'nothing'}.")


# ----------------------------------------------------------------------------- the chapter

def run(P: dict, corpus) -> ChapterResult:
    """Every stage of the notebook on ``corpus`` (:func:`sercore.experiment.load_corpus`) with the run's ``P``.

    ``figures``: ``modalities``, ``encoders``, ``corpora_found``, ``folds`` (sizes per fold),
    ``variants`` (:func:`variants_frame`), ``tables`` (:func:`paper_table` of each of :data:`TABLES`),
    ``confusions`` (main and unimodal models), ``note`` (:func:`run_note`).
    """
    manifest = corpus.manifest
    have = data.modalities(manifest)
    mods = used_modalities(P, have)
    if not mods:
        raise ValueError(f"{P['dataset']}: the corpus has {have or 'no modality'}; MLCCT uses {P['modalities']}")
    feats = features(manifest, mods, P)
    nosse = features(manifest, mods, P, sse=False) if len(mods) == 2 and "C" in P["ablations"] else None
    fold_list = experiment.folds(manifest, P)
    variants = run_variants(feats, manifest["y"].to_numpy(), fold_list, corpus.labels, P, mods, nosse)
    main = variants[main_name(mods)]
    found = corpora_found(P["data_root"])
    dev = deviations(P, mods)
    frame = variants_frame(variants)
    baselines = text_baselines(manifest, fold_list, corpus.labels) if "text" in mods else None
    return ChapterResult(
        protocol=experiment.describe_folds(fold_list, P), metrics=main.metrics, per_class=main.per_class,
        confusion=main.confusion, comparisons=comparisons(variants, mods, P, found, dev),
        predictions=main.predictions.assign(method=PAPER, seed=int(P["seed"])),
        extra={"model": P["preset"], "main_variant": "+".join(main.modalities), "n_params": main.n_params,
               "deviations": dev, "variants": frame.reset_index().to_dict("records"), "cv": main.cv,
               "baselines": None if baselines is None else baselines.reset_index().to_dict("records")},
        figures={"note": run_note(P), "modalities": mods, "encoders": encoder_note(mods, P), "corpora_found": found,
                 "folds": pd.DataFrame([f.sizes() for f in fold_list], index=[f.name for f in fold_list]),
                 "variants": frame, "baselines": baselines,
                 "tables": {t: paper_table(t, variants, mods, P, found) for t in TABLES},
                 "confusions": {n: variants[n].confusion for n in ("multimodal", "audio", "text") if n in variants}})


def show_table(result: ChapterResult, table: str) -> pd.DataFrame:
    """Display the note of one of the result's paper tables as Markdown and return the table."""
    from IPython.display import Markdown, display

    df = result.figures["tables"][table]
    display(Markdown(f"**{table}.** {df.attrs['note']}"))
    return df


def confusion_figure(result: ChapterResult, title_prefix: str = ""):
    """Row-normalised confusion matrices of the main model (and unimodal ones when trained)."""
    import matplotlib.pyplot as plt

    from ..results import plot_confusion

    conf = result.figures["confusions"]
    fig, axes = plt.subplots(1, len(conf), figsize=(4.2 * len(conf), 3.6), squeeze=False)
    for ax, (n, c) in zip(axes[0], conf.items()):
        plot_confusion(c, ax=ax, title=f"{title_prefix}{n} (row %)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- leaderboard

def method(P: dict, have=("audio", "text")) -> Method:
    """MLCCT for the leaderboard, built from the chapter's resolved parameters ``P``.

    It uses the modalities of ``P["modalities"]`` the corpus has (``have``): both, or the audio-only /
    text-only variant. When the corpus has neither, it asks for ``P["modalities"]`` and the
    leaderboard reports it as not run.
    """
    mods = used_modalities(P, have) or tuple(P["modalities"])
    dims: dict = {}

    def feats(manifest):
        f = features(manifest, mods, P)
        dims.update(input_dims(f))
        return f

    def build(n_classes):
        if not dims:
            raise RuntimeError("call features(manifest) before build(): the input sizes come from the features")
        return build_model(dims, mods, n_classes, P["preset"])

    name = "MLCCT" + ("" if len(mods) == 2 else f" ({mods[0]} only)")
    return Method(name=name, paper=PAPER, modalities=mods, features=feats, build=build,
                  train=train_config(P, mods), note=encoder_note(mods, P) + "; no optimiser settings in the paper")
