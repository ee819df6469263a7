"""CA-SER chapter: features of both branches, the model per profile, the paper's tables, the demo checkpoint.

The notebook ``book/ca_ser.ipynb`` calls, in order::

    fc = ca_ser.feature_config(P)                     # which encoder/layer, MFCC and waveform settings
    feats = ca_ser.features(corpus.manifest, fc)      # per row {"ssl": (T_w, D), "mfcc": (T_m, 40)}
    runs = ca_ser.run_protocols(corpus, feats, fc, P) # CV-5 (sessions) / CV-10 (speakers), first fold saved
    ca_ser.paper_tables(runs, corpus)                 # Table 1 / Table 2 with our rows beside the paper's

Waveform protocol (all profiles): 16 kHz, longer than ``max_s`` = 8 s clipped, shorter than
``min_s`` = 3 s extended by repeating the utterance (the paper's "concatenating the audio until it
reaches 3 seconds"); both branches see the same prepared waveform.

SSL branch: with ``encoder`` set (a Hugging Face wav2vec 2.0 name or folder) the frozen mode reads
``hidden_states[ssl_layer]`` (9) through the ``ssl`` extractor, and the finetune mode trains the
encoder; with ``encoder=None`` (offline) the frozen mode uses the GE2E speaker-encoder stand-in's
LSTM layer ``ge2e_layer`` (frames of 256 at 100/s) — not wav2vec 2.0, and labelled so everywhere.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..train import TrainConfig
from . import Method

PAPER = "ca_ser"

#: the paper's waveform protocol
WAVE = dict(sr=16000, max_s=8.0, min_s=3.0, pad="loop")

#: table -> (protocol, what it is called in the paper)
TABLES = {"Table 1": ("loso", "CV-5: leave-one-session-out"),
          "Table 2": ("loso_speaker", "CV-10: leave-one-speaker-out")}

#: model config fields a parameter set may override
MODEL_KEYS = ("lstm_hidden", "lstm_layers", "d_model", "sa_layers", "sa_heads", "sa_ff", "ca_heads",
              "ca_dim", "ffn_dim", "dropout", "ssl_layer", "freeze_feature_encoder", "mfcc_norm")

#: per profile, for method() (the leaderboard); the notebook reads params/ca_ser/*.yaml instead
PROFILES = {
    "smoke": dict(lstm_hidden=32, lstm_layers=1, d_model=32, sa_layers=1, sa_heads=2, sa_ff=64,
                  ca_heads=2, ca_dim=32, ffn_dim=64, epochs=2, batch_size=16, lr=1e-3, grad_accum=1),
    "quick": dict(lstm_hidden=64, lstm_layers=1, d_model=64, sa_layers=1, sa_heads=2, sa_ff=128,
                  ca_heads=2, ca_dim=64, ffn_dim=128, epochs=8, batch_size=16, lr=1e-3, grad_accum=1),
    "paper": dict(lstm_hidden=256, lstm_layers=2, d_model=512, sa_layers=3, sa_heads=4, sa_ff=1024,
                  ca_heads=8, ca_dim=256, ffn_dim=1024, epochs=20, batch_size=2, lr=4e-5, grad_accum=4),
}


# ----------------------------------------------------------------------------- features

def feature_config(P: dict) -> dict:
    """Feature settings of a run (stored in the checkpoint, so the demo tool recomputes them).

    P keys used: ``mode`` (frozen | finetune), ``encoder`` (HF name/folder or None = GE2E
    stand-in), ``ssl_layer`` (9), ``ge2e_layer`` (2), ``n_mfcc`` (40), ``max_s``, ``min_s``.
    """
    mode = P.get("mode", "frozen")
    wave = dict(WAVE, max_s=P.get("max_s", WAVE["max_s"]), min_s=P.get("min_s", WAVE["min_s"]))
    mfcc = dict(wave, n_mfcc=int(P.get("n_mfcc", 40)), n_fft=400, hop_length=160, n_mels=40)
    encoder = P.get("encoder")
    if mode == "finetune":
        if not encoder:
            raise ValueError("mode='finetune' needs encoder= a Hugging Face wav2vec 2.0 name or folder "
                             "(e.g. facebook/wav2vec2-base); offline, use mode='frozen' with the GE2E stand-in")
        ssl = None
        desc = f"{encoder}, hidden_states[{int(P.get('ssl_layer', 9))}], fine-tuned with the head"
    elif encoder:
        ssl = {"name": "ssl", "config": dict(wave, model=str(encoder), layer=int(P.get("ssl_layer", 9)))}
        desc = f"{encoder}, hidden_states[{int(P.get('ssl_layer', 9))}], frozen (features from the cache)"
    else:
        layer = int(P.get("ge2e_layer", 2))
        ssl = {"name": "ge2e", "config": dict(wave, layer=layer)}
        desc = (f"GE2E speaker encoder (Resemblyzer weights), LSTM layer {layer} of 3, frozen — the offline "
                "stand-in for wav2vec 2.0 base layer 9 (not a self-supervised model)")
    return {"mode": mode, "mfcc": mfcc, "ssl": ssl, "encoder": desc, "stand_in": ssl is not None and ssl["name"] == "ge2e"}


def load_waveforms(manifest: pd.DataFrame, fc: dict) -> list[np.ndarray]:
    """Prepared 16 kHz waveforms ``(T,)`` per row (finetune mode), clipped/extended as in training."""
    from ..features import get_extractor

    ex = get_extractor("mfcc", **fc["mfcc"])
    return [ex.wave(row) for _, row in manifest.iterrows()]


def features(manifest: pd.DataFrame, fc: dict, progress: bool = True) -> list[dict]:
    """Per manifest row the model inputs: ``{"ssl": (T_w, D), "mfcc": (T_m, n_mfcc)}`` in frozen mode,
    ``{"wave": (T,), "mfcc": ...}`` in finetune mode. Everything but raw waveforms goes through the cache."""
    from ..features import extract, get_extractor

    mf = extract(manifest, get_extractor("mfcc", **fc["mfcc"]), cache=True, progress=progress)
    mf = [np.ascontiguousarray(f.T, dtype=np.float32) for f in mf]                 # (T_m, n_mfcc)
    if fc["mode"] == "finetune":
        waves = load_waveforms(manifest, fc)
        return [{"wave": w, "mfcc": m} for w, m in zip(waves, mf)]
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
    """The :class:`~sercore.models.ca_ser.CASERConfig` of a run."""
    from ..models.ca_ser import CASERConfig

    kw = {k: P[k] for k in MODEL_KEYS if k in P and P[k] is not None}
    kw.update(n_classes=n_classes, n_mfcc=fc["mfcc"]["n_mfcc"], mode=fc["mode"])
    if fc["mode"] == "finetune":
        kw["encoder"] = P.get("encoder")
    elif feats is not None:
        kw["ssl_dim"] = int(feats[0]["ssl"].shape[1])
    elif fc["ssl"]["name"] == "ge2e":
        kw["ssl_dim"] = 256
    known = {f.name for f in fields(CASERConfig)}
    return CASERConfig(**{k: v for k, v in kw.items() if k in known})


def builder(cfg):
    """A function returning a fresh CA-SER model of ``cfg`` (called once per fold)."""
    from ..models.ca_ser import CASER

    return lambda: CASER(cfg)


def train_config(P: dict, fc: dict) -> TrainConfig:
    """AdamW, early stopping (best epoch) on WA as in the paper; lr / batch / epochs from the profile."""
    first = "wave" if fc["mode"] == "finetune" else "ssl"
    return TrainConfig(epochs=int(P.get("epochs", 20)), batch_size=int(P.get("batch_size", 2)),
                       lr=float(P.get("lr", 4e-5)), optimizer="adamw",
                       weight_decay=float(P.get("weight_decay", 0.01)),
                       grad_accum=int(P.get("grad_accum", 1)), early_stop_metric="wa",
                       patience=P.get("patience"), seed=int(P.get("seed", 0)),
                       inputs=(first, f"{first}_lengths", "mfcc", "mfcc_lengths"))


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
    primary = P.get("protocol")
    for proto in P.get("protocols") or [primary]:
        m = corpus.manifest
        if proto == "loso" and not m["session"].notna().any():
            out[proto] = {"skipped": f"{corpus.name} has no sessions, so leave-one-session-out (CV-5) cannot run"}
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
        cv = train.cross_validate(builder(cfg), feats, m["y"].to_numpy(), folds, tcfg, corpus.labels,
                                  on_fold_end=saver)
        n_total = int(m["session" if proto == "loso" else "speaker"].nunique())
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


def weighted_f1_table(runs: dict, corpus) -> pd.DataFrame:
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


def comparisons(runs: dict, corpus, note: str, param_counts: pd.DataFrame | None = None) -> list[dict]:
    """Every reported-vs-measured row the chapter shows (for metrics.json): Table 1 and Table 2
    WA/UA and, given :func:`parameter_counts`' table, the paper's "108 M parameters"."""
    from ..results import compare_with_paper

    out = []
    for table, (proto, name) in TABLES.items():
        run = runs.get(proto)
        measured = {"wa": None, "ua": None}
        extra = note
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
            ("head size", f"LSTM {P.get('lstm_hidden')}, d {P.get('d_model')}, {P.get('sa_layers')} SA block(s), "
                          f"{P.get('ca_heads')} CA heads", "LSTM 256 (release: 2 layers), d 512 (release)"),
            ("optimiser", f"AdamW lr {P.get('lr')}, batch {P.get('batch_size')} × accumulation "
                          f"{P.get('grad_accum', 1)}, {P.get('epochs')} epochs", "AdamW lr 4e-5, batch 2 × 4, 20 epochs"),
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

    from ..models.ca_ser import CASER, CASERConfig

    rows = [("this run's model (trained)", fc["encoder"].split(",")[0],
             sum(p.numel() for p in CASER(cfg).parameters()))]
    with torch.device("meta"):                                        # counts only: nothing allocated
        rows.append(("paper-size head, GE2E stand-in input (256-d)", "GE2E (frozen, not counted)",
                     sum(p.numel() for p in CASER(CASERConfig(ssl_dim=256)).parameters())))
    try:
        from transformers import Wav2Vec2Config, Wav2Vec2Model
        with torch.device("meta"):
            full = CASER(CASERConfig(mode="finetune"), encoder=Wav2Vec2Model(Wav2Vec2Config()))
        rows.append(("paper-size head (768-d input)", "wav2vec 2.0 base layer 9 (frozen)", full.head_parameters()))
        rows.append(("paper-size CA-SER incl. wav2vec 2.0 base (random init, from config)", "wav2vec 2.0 base",
                     sum(p.numel() for p in full.parameters())))
    except Exception as e:                                            # pragma: no cover - transformers missing
        rows.append((f"wav2vec 2.0 base not built: {type(e).__name__}", "", None))
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


# ----------------------------------------------------------------------------- leaderboard

def method(profile: str = "quick", **overrides) -> Method:
    """CA-SER for the leaderboard: frozen mode, offline GE2E stand-in states + 40 MFCCs."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    P = {**PROFILES[profile], "mode": "frozen", "encoder": None, **overrides}
    fc = feature_config(P)

    def feats(manifest):
        return features(manifest, fc, progress=False)

    def build(n_classes):
        from ..models.ca_ser import CASER
        return CASER(model_config(P, fc, n_classes))

    return Method(name="CA-SER", paper=PAPER, modalities=("audio",), features=feats, build=build,
                  train=train_config(P, fc),
                  note=f"frozen SSL branch: {fc['encoder']}; head size of the {profile} profile")
