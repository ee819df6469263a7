"""CA-SER chapter: features of both branches, the model, the paper's tables, the demo checkpoint.

The notebook ``book/ca_ser.ipynb`` calls ``result = ca_ser.run(P, corpus)`` and draws its tables
from ``result.figures``; the stages below are importable on their own (tests, the leaderboard)::

    fc = feature_config(P)                       # which encoder/layer, MFCC and waveform settings
    feats = features(corpus.manifest, fc)        # per row {"ssl": (T_w, D), "mfcc": (T_m, n_mfcc)}
    runs = run_protocols(corpus, feats, fc, P)   # CV-5 (sessions) / CV-10 (speakers), first fold saved
    paper_tables(runs, corpus)                   # Table 1 / Table 2 with our rows beside the paper's

Every setting comes from the resolved ``params/ca_ser/<dataset>.yaml`` (:func:`sercore.runs.resolve`);
the readings of what the paper leaves open are in :mod:`sercore.models.ca_ser` (``Readings``).
"""
from __future__ import annotations

from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import experiment
from ..schemas.ca_ser import Params
from ..results import cv_predictions
from ..train import TrainConfig
from . import Method

PAPER = "ca_ser"

#: the paper's sample rate and how short utterances are extended (by repeating them)
WAVE = dict(sr=16000, pad="loop")

#: table -> (protocol, what it is called in the paper)
TABLES = {"Table 1": ("loso", "CV-5: leave-one-session-out"),
          "Table 2": ("loso_speaker", "CV-10: leave-one-speaker-out")}

#: parameters that are fields of :class:`~sercore.models.ca_ser.CASERConfig`
MODEL_KEYS = ("lstm_hidden", "lstm_layers", "d_model", "sa_layers", "sa_heads", "sa_ff", "ca_heads",
              "ca_dim", "ffn_dim", "dropout", "ssl_layer")

#: the schema's defaults (ssl_layer 9, ge2e_layer 2, n_mfcc 40, ...), for callers that pass a partial dict
_DEFAULTS = {f.name: f.default for f in fields(Params) if f.default is not MISSING}


# ----------------------------------------------------------------------------- features

def feature_config(P: dict) -> dict:
    """Feature settings of a run (stored in the checkpoint, so the demo tool recomputes them).

    P keys used: ``mode`` (frozen | finetune), ``encoder`` (HF name/folder or None = GE2E
    stand-in), ``ssl_layer``, ``ge2e_layer``, ``n_mfcc``, ``max_s``, ``min_s``; keys with a
    schema default may be left out.
    """
    P = {**_DEFAULTS, **P}
    mode, encoder, layer = P["mode"], P["encoder"], int(P["ssl_layer"])
    wave = dict(WAVE, max_s=float(P["max_s"]), min_s=float(P["min_s"]))
    mfcc = dict(wave, n_mfcc=int(P["n_mfcc"]), n_fft=400, hop_length=160, n_mels=40)
    if mode == "finetune":
        if not encoder:
            raise ValueError("mode='finetune' needs encoder= a Hugging Face wav2vec 2.0 name or folder "
                             "(e.g. facebook/wav2vec2-base); offline, use mode='frozen' with the GE2E stand-in")
        ssl = None
        desc = f"{encoder}, hidden_states[{layer}], fine-tuned with the head"
    elif encoder:
        ssl = {"name": "ssl", "config": dict(wave, model=str(encoder), layer=layer)}
        desc = f"{encoder}, hidden_states[{layer}], frozen (features from the cache)"
    else:
        g = int(P["ge2e_layer"])
        ssl = {"name": "ge2e", "config": dict(wave, layer=g)}
        desc = (f"GE2E speaker encoder (Resemblyzer weights), LSTM layer {g} of 3, frozen — the offline "
                f"stand-in for wav2vec 2.0 base layer {layer} (not a self-supervised model)")
    return {"mode": mode, "mfcc": mfcc, "ssl": ssl, "encoder": desc,
            "stand_in": ssl is not None and ssl["name"] == "ge2e"}


def features(manifest: pd.DataFrame, fc: dict, progress: bool | None = None) -> list[dict]:
    """Per manifest row the model inputs: ``{"ssl": (T_w, D), "mfcc": (T_m, n_mfcc)}`` in frozen mode,
    ``{"wave": (T,), "mfcc": ...}`` in finetune mode. Everything but raw waveforms goes through the cache;
    ``progress`` None: progress bars as ``SERCORE_PROGRESS`` says."""
    from ..features import extract, get_extractor

    mfcc_ex = get_extractor("mfcc", **fc["mfcc"])
    mf = extract(manifest, mfcc_ex, cache=True, progress=progress)
    mf = [np.ascontiguousarray(f.T, dtype=np.float32) for f in mf]                 # (T_m, n_mfcc)
    if fc["mode"] == "finetune":                # prepared 16 kHz waveforms, clipped/extended as in training
        return [{"wave": mfcc_ex.wave(row), "mfcc": m} for (_, row), m in zip(manifest.iterrows(), mf)]
    ssl = extract(manifest, get_extractor(fc["ssl"]["name"], **fc["ssl"]["config"]), cache=True,
                  progress=progress)
    return [{"ssl": np.asarray(s, dtype=np.float32), "mfcc": m} for s, m in zip(ssl, mf)]


def feature_summary(feats: Sequence[dict], fc: dict) -> pd.DataFrame:
    """Frames and widths of both branches (they differ in rate: the model carries both lengths)."""
    first = "wave" if fc["mode"] == "finetune" else "ssl"
    rows = []
    for key in (first, "mfcc"):
        n = np.array([f[key].shape[0] for f in feats])
        rows.append({"input": key, "width": feats[0][key].shape[1] if feats[0][key].ndim > 1 else 1,
                     "frames min": int(n.min()), "frames median": int(np.median(n)), "frames max": int(n.max()),
                     "source": fc["encoder"] if key != "mfcc" else f"{fc['mfcc']['n_mfcc']} MFCC, 25 ms window, 10 ms hop"})
    return pd.DataFrame(rows).set_index("input")


# ----------------------------------------------------------------------------- model and training

def model_config(P: dict, fc: dict, n_classes: int, feats: Sequence[dict] | None = None):
    """The :class:`~sercore.models.ca_ser.CASERConfig` of a run (SSL width from ``feats`` when given)."""
    from ..models.ca_ser import CASERConfig

    kw = {k: P[k] for k in MODEL_KEYS}
    kw.update(n_classes=n_classes, n_mfcc=fc["mfcc"]["n_mfcc"], mode=fc["mode"])
    if fc["mode"] == "finetune":
        kw["encoder"] = P["encoder"]
    elif feats is not None:
        kw["ssl_dim"] = int(feats[0]["ssl"].shape[1])
    elif fc["stand_in"]:
        kw["ssl_dim"] = 256
    return CASERConfig(**kw)


def builder(cfg):
    """A function returning a fresh CA-SER model of ``cfg`` (called once per fold)."""
    from ..models.ca_ser import CASER

    return lambda: CASER(cfg)


def train_config(P: dict, fc: dict) -> TrainConfig:
    """AdamW, the best epoch on validation WA as in the paper; lr / batch / epochs from ``P``."""
    first = "wave" if fc["mode"] == "finetune" else "ssl"
    return TrainConfig(epochs=int(P["epochs"]), batch_size=int(P["batch_size"]), lr=float(P["lr"]),
                       optimizer="adamw", weight_decay=float(P["weight_decay"]),
                       grad_accum=int(P["grad_accum"]), early_stop_metric="wa",
                       patience=P["patience"], seed=int(P["seed"]),
                       inputs=(first, f"{first}_lengths", "mfcc", "mfcc_lengths"))


def protocols(P) -> list[str]:
    """The protocols a run cross-validates: ``P['protocols']``, or ``[P['protocol']]`` when it is None (a
    manifest corpus runs the protocol its manifest supports, alone)."""
    return list(P["protocols"] or [P["protocol"]])


def cannot_run(protocol: str, corpus) -> str | None:
    """Why ``corpus`` cannot run ``protocol`` (leave-one-session-out needs sessions), or None."""
    if protocol == "loso" and not corpus.manifest["session"].notna().any():
        return f"{corpus.name} has no sessions, so leave-one-session-out (CV-5) cannot run"
    return None


def run_protocols(corpus, feats: Sequence[dict], fc: dict, P: dict, checkpoint_dir=None) -> dict:
    """Cross-validate under each protocol in ``P['protocols']`` that the corpus supports.

    Returns ``{protocol: {"cv": CVResult, "folds": [...], "description": {...}}}``; protocols the
    corpus cannot run (no sessions for leave-one-session-out) map to ``{"skipped": reason}``.
    With ``checkpoint_dir``, the model of the primary protocol's first fold (trained on its
    training part, selected on its validation part) is saved there for the demo tool, with
    the fold's held-out rows in the checkpoint's ``extra``.
    """
    from .. import experiment, train
    from ..predict import save_checkpoint

    cfg = model_config(P, fc, len(corpus.labels), feats)
    tcfg = train_config(P, fc)
    out = {}
    primary = P["protocol"]
    for proto in protocols(P):
        m = corpus.manifest
        if cannot_run(proto, corpus):
            out[proto] = {"skipped": cannot_run(proto, corpus)}
            continue
        Pp = {**P, "protocol": proto}
        folds = experiment.folds(m, Pp)
        saver = None
        if checkpoint_dir is not None and proto == primary:
            def saver(item, model, _fold=folds[0]):
                if item["name"] == _fold.name:
                    save_checkpoint(model, checkpoint_dir, corpus.labels, fc, preset="ca_ser",
                                    encoder=fc["encoder"],
                                    extra={"trained_on": f"{corpus.name}, {proto} fold {_fold.name} "
                                                         "training part",
                                           "held_out_rows": [int(i) for i in _fold.test]})
        pcfg = tcfg if not P.get("checkpoint") else replace(
            tcfg, checkpoint_dir=str(experiment.checkpoint_root(P) / proto))   # per fold below it; resumed
        with train.progress_stage(f"{PAPER}/{P['dataset']}/{P['profile']} seed {P['seed']} | protocol {proto}"):
            cv = train.cross_validate(builder(cfg), feats, m["y"].to_numpy(), folds, pcfg, corpus.labels,
                                      on_fold_end=saver)
        n_total = int(getattr(folds, "total", len(folds)))      # every fold of the protocol, run or not
        out[proto] = {"cv": cv, "folds": folds, "n_total": n_total,
                      "description": experiment.describe_folds(folds, Pp)}
    return out


# ----------------------------------------------------------------------------- tables

def _ours_row(run: dict, corpus) -> dict:
    s = run["cv"].summary
    n = s.get("n", len(run["folds"]))
    return {"WA": round(s["mean"]["wa"], 2), "UA": round(s["mean"]["ua"], 2),
            "weighted F1": round(s["mean"]["weighted_f1"], 2),
            "source": f"measured: {corpus.name}{' (synthetic)' if corpus.synthetic else ''}, "
                      f"{n} fold(s), mean over folds"}


def paper_tables(runs: dict, corpus) -> dict[str, pd.DataFrame]:
    """Table 1 and Table 2 as printed (reported) with our measured CA-SER row appended."""
    from ..results import reference_table

    out = {}
    for table, (proto, _) in TABLES.items():
        ref = reference_table(PAPER, table).rename(columns={"wa": "WA", "ua": "UA"})
        ref["source"] = "reported (paper, IEMOCAP)"
        run = runs.get(proto)
        if run is None or "skipped" in run:
            why = run["skipped"] if run else f"{proto} not in this run's protocols"
            ours = {"WA": np.nan, "UA": np.nan, "source": f"not measured: {why}"}
        else:
            ours = _ours_row(run, corpus)
        ours_df = pd.DataFrame([ours], index=["CA-SER (this book)"])
        out[table] = pd.concat([ref, ours_df])
    return out


def weighted_f1_table(runs: dict) -> pd.DataFrame:
    """Weighted F1 per protocol we ran (the paper compares with the IEMOCAP benchmark on it but prints
    no CA-SER weighted-F1 value, so there is no reported number beside ours)."""
    rows = []
    for table, (proto, name) in TABLES.items():
        run = runs.get(proto)
        if run is None or "skipped" in run:
            continue
        s = run["cv"].summary
        rows.append({"protocol": name, "table": table, "weighted F1 (ours)": round(s["mean"]["weighted_f1"], 2),
                     "± std": round(s.get("std", {}).get("weighted_f1") or 0.0, 2),
                     "folds": s.get("n"), "weighted F1 (paper)": "not printed"})
    return pd.DataFrame(rows).set_index("protocol")


def comparisons(runs: dict, note: str, param_counts: pd.DataFrame | None = None) -> list[dict]:
    """Every reported-vs-measured row the chapter shows (for metrics.json): Table 1 and Table 2
    WA/UA and, given :func:`parameter_counts`' table, the paper's "108 M parameters"."""
    from ..results import compare_with_paper

    out = []
    for table, (proto, name) in TABLES.items():
        run = runs.get(proto)
        measured = {"wa": None, "ua": None}
        if run is not None and "skipped" not in run:
            s = run["cv"].summary["mean"]
            measured = {"wa": s["wa"], "ua": s["ua"]}
            extra = f"{len(run['folds'])} of {run['n_total']} folds; {note}"
        else:
            extra = f"not measured: {run['skipped'] if run else proto + ' not run'}"
        out += compare_with_paper(PAPER, table, "CA-SER [OURS]", measured, dataset="iemocap",
                                  note=f"{name}; {extra}")
    if param_counts is not None:
        full = [v for k, v in param_counts["parameters"].items() if "incl. wav2vec 2.0 base" in k]
        if full:
            out += compare_with_paper(PAPER, "Section 3", "CA-SER", {"params": float(full[0])}, dataset="iemocap",
                                      note="our reading of the head + wav2vec 2.0 base built from its default "
                                           "config (random init, counted only); the paper prints '108 M'")
    return out


def deviations(P: dict, fc: dict, corpus, runs: dict) -> pd.DataFrame:
    """What differs from the paper's setting, next to the tables."""
    rows = [("data", f"{corpus.name}{' (synthetic corpus)' if corpus.synthetic else ''}, "
                     f"{len(corpus.manifest)} utterances, labels {corpus.labels}", "IEMOCAP, 5,531 utterances, 4 classes"),
            ("SSL encoder", fc["encoder"], "wav2vec 2.0 base, 9th transformer layer, fine-tuned"),
            ("mode", fc["mode"], "finetune"),
            ("head size", f"LSTM {P['lstm_hidden']} × {P['lstm_layers']} layer(s), d {P['d_model']}, "
                          f"{P['sa_layers']} SA block(s), {P['ca_heads']} CA heads",
             "LSTM 256 (release: 2 layers), d 512, 3 SA blocks, 8 CA heads (release)"),
            ("optimiser", f"AdamW lr {P['lr']}, batch {P['batch_size']} × accumulation "
                          f"{P['grad_accum']}, {P['epochs']} epochs", "AdamW lr 4e-5, batch 2 × 4, 20 epochs"),
            ("waveform", f"16 kHz, clip > {fc['mfcc']['max_s']} s, repeat < {fc['mfcc']['min_s']} s",
             "16 kHz, clip > 8 s, repeat < 3 s")]
    for proto, run in runs.items():
        if "skipped" in run:
            rows.append((f"protocol {proto}", run["skipped"], "run"))
        else:
            rows.append((f"protocol {proto}", f"{len(run['folds'])} of {run['n_total']} fold(s) ran",
                         "all folds, mean over folds"))
    return pd.DataFrame(rows, columns=["aspect", "this run", "paper"]).set_index("aspect")


def parameter_counts(cfg, fc: dict) -> pd.DataFrame:
    """Parameters of this run's model, of the paper-size head on the stand-in, and of the paper's
    model with a randomly initialised wav2vec 2.0 base (built from its config, nothing downloaded)."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from ..models.ca_ser import CASER, CASERConfig

    rows = [("this run's model (trained)", fc["encoder"].split(",")[0],
             sum(p.numel() for p in CASER(cfg).parameters()))]
    with torch.device("meta"):                                        # counts only: nothing allocated
        rows.append(("paper-size head, GE2E stand-in input (256-d)", "GE2E (frozen, not counted)",
                     sum(p.numel() for p in CASER(CASERConfig(ssl_dim=256)).parameters())))
        full = CASER(CASERConfig(mode="finetune"), encoder=Wav2Vec2Model(Wav2Vec2Config()))
    rows.append(("paper-size head (768-d input)", "wav2vec 2.0 base layer 9 (frozen)", full.head_parameters()))
    rows.append(("paper-size CA-SER incl. wav2vec 2.0 base (random init, from config)", "wav2vec 2.0 base",
                 sum(p.numel() for p in full.parameters())))
    df = pd.DataFrame(rows, columns=["model", "SSL encoder", "parameters"]).set_index("model")
    df["millions"] = (df["parameters"] / 1e6).round(2)
    return df


def demo_files(corpus, checkpoint_dir, n: int = 6) -> list[str]:
    """Up to ``n`` audio files of the saved model's held-out test part (never seen in training)."""
    import json

    meta = json.loads((Path(checkpoint_dir) / "config.json").read_text())
    rows = meta["extra"]["held_out_rows"]
    m = corpus.manifest.iloc[rows]
    rank = m.groupby("label").cumcount()                      # round-robin over the classes
    m = m.assign(_rank=rank.to_numpy()).sort_values(["_rank"], kind="stable")
    return [str(p) for p in m["path"].head(n)]


def demo_frame(preds: list[dict], corpus) -> pd.DataFrame:
    """The tool's predictions beside the files' true labels."""
    from ..predict import as_frame

    df = as_frame(preds).round(3)
    truth = dict(zip(corpus.manifest["path"].astype(str), corpus.manifest["label"]))
    df.insert(0, "true", [truth.get(p["path"], "?") for p in preds])
    return df


def about(P: dict, fc: dict) -> str:
    """What the numbers of a run hold, in one paragraph computed from its parameters."""
    folds = "every fold" if P["max_folds"] is None else f"the first {P['max_folds']} fold(s)"
    subset = "all utterances" if P["n_per_class"] is None else f"at most {P['n_per_class']} utterances per class"
    return (f"This page shows a **{P['profile']}-profile** run on `{P['dataset']}`: {subset}, {folds} of "
            f"each protocol ({', '.join(protocols(P))}; headline: {P['protocol']}), {P['epochs']} epochs of "
            f"AdamW (lr {P['lr']}, batch {P['batch_size']} × {P['grad_accum']}), head with BiLSTM "
            f"{P['lstm_hidden']} × {P['lstm_layers']}, d {P['d_model']}, {P['sa_layers']} self-attention "
            f"block(s), {P['ca_heads']} cross-attention heads; waveforms clipped after {P['max_s']} s. "
            f"SSL branch ({fc['mode']} mode): {fc['encoder']}.")


# ----------------------------------------------------------------------------- the chapter

def run(P: dict, corpus):
    """Everything ``book/ca_ser.ipynb`` shows: features, both protocols, Tables 1 and 2, weighted F1,
    parameter counts and the demo tool on the held-out files of the checkpoint saved under the run's
    results folder (``checkpoint/``). Headline: the primary protocol ``P['protocol']``."""
    from .. import predict as predict_mod
    from ..results import ChapterResult, Run

    primary = P["protocol"]
    if cannot_run(primary, corpus):
        raise ValueError(f"the primary protocol {primary!r} cannot run: {cannot_run(primary, corpus)}; "
                         f"set protocol to one of {[p for p in protocols(P) if not cannot_run(p, corpus)]}")
    fc = feature_config(P)
    feats = features(corpus.manifest, fc)
    cfg = model_config(P, fc, len(corpus.labels), feats)
    n_params = parameter_counts(cfg, fc)
    checkpoint_dir = Run(P).out_dir / "checkpoint"
    runs = run_protocols(corpus, feats, fc, P, checkpoint_dir=checkpoint_dir)
    main = runs[primary]["cv"]
    note = (f"SSL branch: {fc['encoder']}; {'synthetic corpus, ' if corpus.synthetic else ''}"
            f"{corpus.name}, profile {P['profile']}")
    clipped = experiment.clipping(corpus.manifest, float(P["max_s"]))
    files = demo_files(corpus, checkpoint_dir, n=P["demo_files"])
    preds = predict_mod.predict(files, checkpoint=checkpoint_dir, return_embedding=True)
    figures = {
        "about": about(P, fc), "encoder": fc["encoder"], "feature_summary": feature_summary(feats, fc),
        "clipping": pd.DataFrame([clipped], index=[corpus.name]),
        "param_counts": n_params,
        "protocols": pd.DataFrame([{"protocol": p, "folds": len(r.get("folds", [])), "of": r.get("n_total", "–"),
                                    "seconds": round(r["cv"].seconds, 1) if "cv" in r else "–",
                                    "note": r.get("skipped", "")} for p, r in runs.items()]).set_index("protocol"),
        "tables": paper_tables(runs, corpus), "deviations": deviations(P, fc, corpus, runs),
        "weighted_f1": weighted_f1_table(runs),
        "history": main.folds[0]["fit"]["history"], "history_fold": main.folds[0]["name"],
        "checkpoint_dir": checkpoint_dir, "checkpoint_files": sorted(p.name for p in checkpoint_dir.iterdir()),
        "embedding_size": len(preds[0]["embedding"]), "demo": demo_frame(preds, corpus),
    }
    extra = {"model": "ca_ser", "mode": fc["mode"], "encoder": fc["encoder"],
             "n_params": int(n_params["parameters"].iloc[0]), "param_counts": n_params["parameters"].to_dict(),
             "features": fc, "model_config": cfg.__dict__, "cv": main.to_json(),
             "protocols": {p: (r["cv"].to_json() | {"description": r["description"]})
                           if "cv" in r else {"skipped": r["skipped"]} for p, r in runs.items()},
             "checkpoint": "checkpoint/", "clipping": clipped}
    return ChapterResult(protocol=runs[primary]["description"], metrics=main.summary["mean"],
                         per_class=main.pooled["per_class"], confusion=main.pooled["confusion"],
                         comparisons=comparisons(runs, note, n_params), extra=extra, figures=figures,
                         predictions=cv_predictions(main, PAPER, P["seed"]))


# ----------------------------------------------------------------------------- leaderboard

def method(P: dict, have: tuple = ("audio",)) -> Method:
    """CA-SER for the leaderboard, built from the resolved chapter parameters ``P`` as given (mode,
    encoder, head sizes, optimiser). Audio only: a corpus without audio is the leaderboard's to skip."""
    fc = feature_config(P)

    def feats(manifest):
        return features(manifest, fc, progress=False)

    def build(n_classes):
        from ..models.ca_ser import CASER
        return CASER(model_config(P, fc, n_classes))

    return Method(name="CA-SER", paper=PAPER, modalities=("audio",), features=feats, build=build,
                  train=train_config(P, fc),
                  note=f"{fc['mode']} SSL branch: {fc['encoder']}; head of params/ca_ser/{P['dataset']}.yaml "
                       f"({P['profile']})")
