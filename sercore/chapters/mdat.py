"""MDAT chapter: within-corpus, cross-language, k-shot and ablation stages.

Zaidi, Latif and Qadir, "Cross-Language Speech Emotion Recognition Using Multimodal
Dual Attention Transformers". The notebook ``book/mdat.ipynb`` calls one function
per stage; every number it shows comes from these functions or from
``sercore/reference/mdat.csv``.

**Corpora.** ``corpora`` (a list of specs) names the "corpora" of one run:
``"emodb"``, ``"emovo"``, ``"urdu"``, ``"iemocap"`` or ``"synthetic:<lang>"``; the
synthetic corpus's four languages stand in for the paper's four corpora by
language (en → IEMOCAP, de → EMODB, it → EMOVO, ur → URDU), which gives the
12 source → target pairs of Table IV. Every corpus is mapped to the paper's four
classes (neutral, happy, sad, angry) with its own label map
(:data:`LABEL_MAPS`; Emo-DB: ``emodb4_mdat``, boredom merged into sad, the only
reading under which the paper's 420-utterance subset with 143 "sad" adds up).

**Readings (stated in the chapter).**

* Within-corpus: the paper says "standard train-test splits" and no more; we use
  ``protocol`` of the params (Emo-DB: leave-one-speaker-out; synthetic: session 5
  held out, validation speakers drawn from sessions 1-4).
* Cross-language: a source model is trained on the source corpus (validation
  speakers carved from it) and tested on *every* utterance of the target.
  ``cross_source="within"`` (quick) reuses the model of the first within-corpus
  fold (trained on most, not all, of the source); ``"full"`` trains on all of it.
* k-shot: ``k`` labelled target utterances *per class* (the paper says "k samples";
  per class is our reading) fine-tune a copy of the source model; the test set is
  every other target utterance (:func:`sercore.protocols.make_kshot`); repeated
  over ``kshot_seeds``; k = 0 is the source model on the whole target.
* Ablations (Table VI): the seven module sets, cross-language from ``ablation_source``
  (the paper: IEMOCAP) to every other corpus; with a single corpus they run
  within-corpus and are labelled so.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import experiment, models, protocols, results, train
from ..models.mdat import ABLATIONS, ablation_flags
from ..paths import show_progress
from . import Method

PAPER = "mdat"

#: per corpus, the label map onto the paper's four classes (all share class order)
LABEL_MAPS = {"emodb": "emodb4_mdat", "iemocap": "iemocap4", "emovo": "ser4", "urdu": "ser4",
              "synthetic": "ser4"}
#: the paper's corpus a synthetic language stands in for
SYNTHETIC_STANDS_FOR = {"en": "iemocap", "de": "emodb", "it": "emovo", "ur": "urdu"}
#: the paper's spelling of each corpus (reference rows use it)
PAPER_NAMES = {"iemocap": "IEMOCAP", "emodb": "EMODB", "emovo": "EMOVO", "urdu": "URDU"}
#: model kinds: the paper's two rows plus the seven Table VI configurations
KINDS = ("baseline", "mdat") + tuple(f"m{k}" for k in ABLATIONS)
KIND_NAMES = {"baseline": "Baseline (BiLSTM)", "mdat": "MDAT",
              **{f"m{k}": f"Model {k} ({' + '.join(v)})" for k, v in ABLATIONS.items()}}
#: epochs per profile when the params do not say
PROFILE_EPOCHS = {"smoke": 1, "quick": 12, "paper": 50}


# ----------------------------------------------------------------------------- corpora and features

@dataclass
class Domain:
    """One "corpus" of the chapter (a real corpus, or one language of the synthetic one)."""

    name: str                  # spec, e.g. "emodb" or "synthetic:en"
    paper_key: str | None      # the paper corpus it is (or stands in for): iemocap | emodb | emovo | urdu
    corpus: experiment.Corpus  # manifest (with y), labels, banner
    features: list = field(default_factory=list)   # per row {"audio": (T, 256), ["text": (tok, 384)]}
    has_text: bool = False     # every row has a transcript

    @property
    def label(self) -> str:
        """How tables name it: ``EMODB`` or ``synthetic:de (for EMODB)``."""
        if self.name.startswith("synthetic:"):
            return f"{self.name} (for {PAPER_NAMES[self.paper_key]})"
        return PAPER_NAMES.get(self.paper_key, self.name)


def load_domains(specs, *, data_root=None, n_per_class=None, seed=0, progress=None) -> dict:
    """``{spec: Domain}`` with features, for every spec in ``specs`` (see the module docstring)."""
    out = {}
    for spec in specs:
        name, _, lang = str(spec).partition(":")
        if name not in LABEL_MAPS:
            raise ValueError(f"unknown corpus {name!r} in {spec!r}; the chapter knows {sorted(LABEL_MAPS)}")
        if name == "synthetic" and lang not in SYNTHETIC_STANDS_FOR:
            raise ValueError(f"synthetic corpora are given as synthetic:<lang> with lang in "
                             f"{sorted(SYNTHETIC_STANDS_FOR)}, got {spec!r}")
        corpus = experiment.prepare(name, label_map=LABEL_MAPS[name], data_root=data_root,
                                    languages=[lang] if lang else None, n_per_class=n_per_class,
                                    seed=seed)
        m = corpus.manifest
        has_text = "text" in m and m["text"].notna().all() and bool((m["text"].astype(str).str.strip() != "").all())
        d = Domain(str(spec), SYNTHETIC_STANDS_FOR[lang] if lang else name, corpus, has_text=bool(has_text))
        d.features = features(m, text=d.has_text, progress=progress)
        out[str(spec)] = d
    return out


def features(manifest: pd.DataFrame, text: bool = True, progress=None) -> list[dict]:
    """Per row ``{"audio": GE2E frame states (frames, 256), "text": MiniLM token states (tokens, 384)}``.

    The stand-ins of XLS-R and RoBERTa (DESIGN.md); ``text=False`` leaves text out.
    """
    prog = show_progress(progress)
    audio = experiment.frame_features(manifest, "ge2e", progress=prog)
    tokens = experiment.frame_features(manifest, "minilm", progress=prog) if text else None
    return [{"audio": a, **({"text": tokens[i]} if text else {})} for i, a in enumerate(audio)]


# ----------------------------------------------------------------------------- models and training

def model_overrides(P: dict) -> dict:
    """MDAT config fields the params may set (``max_len``, ``audio_stride``, ``graph_dim``...)."""
    keys = ("max_len", "audio_stride", "graph_dim", "ff_dim", "heads", "hidden", "dropout")
    return {k: P[k] for k in keys if P.get(k) is not None}


def build(kind: str, n_classes: int, *, use_text: bool = True, **overrides):
    """A fresh model: ``kind`` in :data:`KINDS` on the stand-in widths (GE2E 256, MiniLM 384)."""
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {kind!r}")
    if kind == "baseline":
        keep = {k: v for k, v in overrides.items() if k in ("max_len", "audio_stride", "dropout")}
        return models.create("mdat_baseline_standin", n_classes=n_classes, use_text=use_text, **keep)
    flags = ablation_flags(int(kind[1:])) if kind[1:].isdigit() else {}
    return models.create("mdat_standin", n_classes=n_classes, use_text=use_text, **flags, **overrides)


def train_config(P: dict, use_text: bool = True, **changes) -> train.TrainConfig:
    """The chapter's :class:`TrainConfig` from params (epochs, batch size, lr, weight decay, seed)."""
    inputs = ("audio", "audio_lengths") + (("text", "text_lengths") if use_text else ())
    cfg = train.TrainConfig(epochs=int(P.get("epochs") or PROFILE_EPOCHS.get(P.get("profile"), 12)),
                            batch_size=int(P.get("batch_size", 32)), lr=float(P.get("lr", 1e-3)),
                            weight_decay=float(P.get("weight_decay", 1e-4)), seed=int(P.get("seed", 0)),
                            clip_norm=1.0, patience=P.get("patience"), inputs=inputs,
                            progress=P.get("progress", False))
    return replace(cfg, **changes)


def modality_label(use_text: bool) -> str:
    return "audio + text" if use_text else "audio only (no transcripts)"


# ----------------------------------------------------------------------------- stage 1: within-corpus

@dataclass
class WithinResult:
    table: pd.DataFrame      # one row per (corpus, model): UA, WA, macro F1, folds, modalities
    cv: dict                 # (spec, kind) -> CVResult
    source_models: dict      # (spec, kind) -> state dict of the first fold's model
    folds: dict              # spec -> folds


def within_corpus(domains: dict, P: dict, kinds=("baseline", "mdat")) -> WithinResult:
    """Train and test each kind on each domain's own folds (``protocol`` and its options in ``P``)."""
    rows, cvs, states, all_folds = [], {}, {}, {}
    for spec, d in domains.items():
        fl = experiment.folds(d.corpus.manifest, P)
        all_folds[spec] = fl
        y = d.corpus.manifest["y"].to_numpy()
        for kind in kinds:
            kept = {}

            def keep_first(item, model, kept=kept):
                if not kept:
                    kept["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

            cfg = train_config(P, d.has_text)
            cv = train.cross_validate(lambda: build(kind, len(d.corpus.labels), use_text=d.has_text,
                                                    **model_overrides(P)),
                                      d.features, y, fl, cfg, d.corpus.labels, on_fold_end=keep_first)
            cvs[(spec, kind)], states[(spec, kind)] = cv, kept["state"]
            mean, std = cv.summary["mean"], cv.summary.get("std", {})
            rows.append({"corpus": d.label, "model": KIND_NAMES[kind], "modalities": modality_label(d.has_text),
                         "UA": mean["ua"], "UA std": std.get("ua"), "WA": mean["wa"],
                         "macro F1": mean["macro_f1"], "folds": len(fl), "seconds": round(cv.seconds, 1),
                         "spec": spec, "kind": kind})
    return WithinResult(pd.DataFrame(rows), cvs, states, all_folds)


def within_comparisons(domains: dict, within: WithinResult) -> list[dict]:
    """Table II rows (Baseline, MDAT) beside what we measured, one per corpus and model."""
    out = []
    for _, r in within.table.iterrows():
        d = domains[r["spec"]]
        row = {"baseline": "Baseline", "mdat": "MDAT"}.get(r["kind"])
        if row is None or d.paper_key not in PAPER_NAMES:
            continue
        note = (f"measured on {d.label}, 4 classes, {r['modalities']}, {r['folds']} fold(s)"
                + ("; synthetic stand-in, not comparable" if d.corpus.synthetic else "")
                + ("; paper printed 7 classes for EMODB, we use its 4-class 420-utterance subset"
                   if d.paper_key == "emodb" else "")
                + ("; paper printed 6 classes for EMOVO, we use its 4-class subset" if d.paper_key == "emovo" else ""))
        out += results.compare_with_paper(PAPER, "Table II", row, {"ua": round(float(r["UA"]), 2)},
                                          dataset=d.paper_key, note=note)
    return out


# ----------------------------------------------------------------------------- stage 2: cross-language

@dataclass
class CrossResult:
    table: pd.DataFrame      # one row per (source, target, model): UA, WA
    models: dict             # (source spec, kind) -> trained source model (CPU)
    use_text: bool


def _shared(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copies of two manifests under one label-map name (their maps share the 4 classes in order)."""
    from ..data import get_label_map

    ca = get_label_map(a.attrs["label_map"]).classes
    cb = get_label_map(b.attrs["label_map"]).classes
    if ca != cb:
        raise ValueError(f"label maps {a.attrs['label_map']!r} and {b.attrs['label_map']!r} have "
                         f"different classes: {ca} vs {cb}")
    a, b = a.copy(), b.copy()
    name = f"mdat4({a.attrs['label_map']}|{b.attrs['label_map']})"
    a.attrs["label_map"] = b.attrs["label_map"] = name
    return a, b


def _strip_text(feats):
    return [{"audio": f["audio"]} for f in feats]


def cross_language(domains: dict, P: dict, within: WithinResult | None = None,
                   kinds=("baseline", "mdat"), sources=None) -> CrossResult:
    """Every ordered pair of domains: train on the source, test on all of the target (0-shot).

    Text is used only when every domain has transcripts (else every model is audio-only).
    ``P["cross_source"]``: "within" reuses the first within-corpus fold's model, "full"
    trains on the whole source (validation speakers carved from it).
    """
    use_text = all(d.has_text for d in domains.values())
    mode = P.get("cross_source", "full")
    specs = list(domains)
    rows, trained = [], {}
    for s in (sources or specs):
        src = domains[s]
        targets = [t for t in specs if t != s]
        if not targets:
            continue
        sfeats = src.features if use_text else _strip_text(src.features)
        for kind in kinds:
            cfg = train_config(P, use_text)
            train.seed_everything(cfg.seed)
            model = build(kind, len(src.corpus.labels), use_text=use_text, **model_overrides(P))
            a, b = _shared(src.corpus.manifest, domains[targets[0]].corpus.manifest)
            _, fold = protocols.cross_corpus_split(a, b, val_fraction=float(P.get("val_fraction", 0.1)),
                                                   seed=cfg.seed)
            if mode == "within" and within is not None and (s, kind) in within.source_models \
                    and use_text == src.has_text:
                model.load_state_dict(within.source_models[(s, kind)])
                how = "first within-corpus fold's model"
            else:
                y = src.corpus.manifest["y"].to_numpy()
                va = train.FeatureDataset(sfeats, y, fold.val) if len(fold.val) else None
                train.fit(model, train.FeatureDataset(sfeats, y, fold.train), va, cfg, src.corpus.labels)
                how = "trained on the source (validation speakers carved from it)"
            model.cpu().eval()
            trained[(s, kind)] = model
            for t in targets:
                tgt = domains[t]
                tfeats = tgt.features if use_text else _strip_text(tgt.features)
                ty = tgt.corpus.manifest["y"].to_numpy()
                rep = train.evaluate(model, train.FeatureDataset(tfeats, ty, np.arange(len(ty))), cfg,
                                     tgt.corpus.labels)
                rows.append({"source": src.label, "target": tgt.label, "model": KIND_NAMES[kind],
                             "UA": rep["metrics"]["ua"], "WA": rep["metrics"]["wa"],
                             "test utterances": len(ty), "modalities": modality_label(use_text),
                             "source model": how, "s": s, "t": t, "kind": kind})
    return CrossResult(pd.DataFrame(rows), trained, use_text)


def _pair(domains, s, t) -> str | None:
    ks, kt = domains[s].paper_key, domains[t].paper_key
    if ks in PAPER_NAMES and kt in PAPER_NAMES and ks != kt:
        return f"{PAPER_NAMES[ks]}->{PAPER_NAMES[kt]}"
    return None


def cross_comparisons(domains: dict, cross: CrossResult) -> list[dict]:
    """Table IV rows beside the measured cross-language UA (MDAT and the baseline)."""
    out = []
    for _, r in cross.table.iterrows():
        pair = _pair(domains, r["s"], r["t"])
        row = {"baseline": "Baseline multimodal Model", "mdat": "MDAT"}.get(r["kind"])
        if pair is None or row is None:
            continue
        note = (f"measured {r['source']} -> {r['target']}, {r['modalities']}"
                + ("; synthetic stand-ins, not comparable" if domains[r["s"]].corpus.synthetic else ""))
        out += results.compare_with_paper(PAPER, "Table IV", row, {"ua": round(float(r["UA"]), 2)},
                                          column=pair, dataset=domains[r["t"]].paper_key, note=note)
    return out


# ----------------------------------------------------------------------------- stage 3: k-shot

def kshot(domains: dict, cross: CrossResult, P: dict, ks=(0, 5, 10, 15), seeds=(0, 1),
          sources=None, kinds=("baseline", "mdat")) -> pd.DataFrame:
    """Fine-tune a copy of each source model on ``k`` target utterances per class, test on the rest.

    One row per (source, target, model, k, seed). The k-shot fold comes from
    :func:`sercore.protocols.make_kshot` (adaptation and test never share an utterance;
    checked again here). Fine-tuning: ``ft_epochs`` epochs at ``ft_lr``, no validation.
    """
    rows = []
    use_text = cross.use_text
    pairs = [(s, t) for (s, kind) in cross.models for t in domains
             if kind == kinds[0] and t != s and (sources is None or s in sources)]
    bar_total = len(pairs) * len(kinds) * len(ks) * len(seeds)
    from tqdm.auto import tqdm
    bar = tqdm(total=bar_total, desc="k-shot", disable=not show_progress(P.get("progress")))
    for s, t in pairs:
        tgt = domains[t]
        tfeats = tgt.features if use_text else _strip_text(tgt.features)
        ty = tgt.corpus.manifest["y"].to_numpy()
        for kind in kinds:
            base = cross.models[(s, kind)]
            for k in ks:
                for seed in seeds:
                    fold = protocols.make_kshot(tgt.corpus.manifest, int(k), seed=int(seed))
                    if np.intersect1d(fold.train, fold.test).size:
                        raise AssertionError("k-shot: an utterance is in both adaptation and test")
                    cfg = train_config(P, use_text, epochs=int(P.get("ft_epochs", 10)),
                                       lr=float(P.get("ft_lr", 5e-4)), seed=int(seed),
                                       batch_size=min(int(P.get("batch_size", 32)), max(len(fold.train), 1)))
                    model = copy.deepcopy(base)
                    if k > 0:
                        train.seed_everything(int(seed))
                        train.fit(model, train.FeatureDataset(tfeats, ty, fold.train), None, cfg,
                                  tgt.corpus.labels)
                    rep = train.evaluate(model, train.FeatureDataset(tfeats, ty, fold.test), cfg,
                                         tgt.corpus.labels)
                    rows.append({"source": domains[s].label, "target": tgt.label, "model": KIND_NAMES[kind],
                                 "k": int(k), "seed": int(seed), "UA": rep["metrics"]["ua"],
                                 "adapt": len(fold.train), "test": len(fold.test), "s": s, "t": t, "kind": kind})
                    bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def kshot_summary(kshot_rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std UA over seeds: rows (source, target, model), columns k."""
    g = kshot_rows.groupby(["source", "target", "model", "k"])["UA"]
    mean, std = g.mean().unstack("k"), g.std().unstack("k")
    out = mean.round(2).astype(str) + " ± " + std.fillna(0).round(2).astype(str)
    out.columns = [f"k={k}" for k in out.columns]
    return out


def kshot_comparisons(domains: dict, kshot_rows: pd.DataFrame) -> list[dict]:
    """Table V cells (mean over seeds) beside the paper's."""
    out = []
    for (s, t, kind, k), g in kshot_rows.groupby(["s", "t", "kind", "k"]):
        pair = _pair(domains, s, t)
        row = {"baseline": "Baseline", "mdat": "MDAT"}.get(kind)
        if pair is None or row is None:
            continue
        note = (f"measured {domains[s].label} -> {domains[t].label}, mean of {len(g)} seed(s), "
                f"k={k} per class" + ("; synthetic stand-ins, not comparable" if domains[s].corpus.synthetic else ""))
        out += results.compare_with_paper(PAPER, "Table V", row, {"ua": round(float(g["UA"].mean()), 2)},
                                          column=f"{pair}, k={k}", dataset=domains[t].paper_key, note=note)
    return out


def plot_kshot(kshot_rows: pd.DataFrame, within: WithinResult | None, source: str, target: str,
               domains: dict, ax=None):
    """Figs. 2-3: UA over k, MDAT solid, baseline dotted, the target's same-corpus UA as dotted lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    sel = kshot_rows[(kshot_rows.s == source) & (kshot_rows.t == target)]
    for kind, style in (("mdat", "-o"), ("baseline", ":s")):
        g = sel[sel.kind == kind].groupby("k")["UA"]
        if len(g):
            m, sd = g.mean(), g.std().fillna(0)
            ax.errorbar(m.index, m.values, yerr=sd.values, fmt=style, capsize=3, label=KIND_NAMES[kind])
    if within is not None:
        for kind, color in (("mdat", "tab:green"), ("baseline", "tab:gray")):
            r = within.table[(within.table.spec == target) & (within.table.kind == kind)]
            if len(r):
                ax.axhline(float(r["UA"].iloc[0]), ls="--", color=color,
                           label=f"{domains[target].label} same-corpus ({KIND_NAMES[kind]})")
    ax.set_xlabel("k (target utterances per class)")
    ax.set_ylabel("UA (%)")
    ax.set_title(f"{domains[source].label} → {domains[target].label}", fontsize=9)
    ax.legend(fontsize=7)
    return ax


# ----------------------------------------------------------------------------- stage 4: ablations

def ablations(domains: dict, P: dict, source: str | None = None, cross: CrossResult | None = None,
              within: WithinResult | None = None) -> pd.DataFrame:
    """Table VI: the seven module sets.

    With two or more domains: trained on ``source`` and tested on every other
    domain (cross-language, as in the paper; Model 1 reuses the cross-language
    MDAT when given). With one domain: within-corpus on its first fold (labelled so).
    """
    specs = list(domains)
    rows = []
    if len(specs) >= 2:
        source = source if source in domains else specs[0]
        for k in ABLATIONS:
            kind = f"m{k}"
            if kind == "m1" and cross is not None and (source, "mdat") in cross.models:
                sub = cross.table[(cross.table.s == source) & (cross.table.kind == "mdat")]
            else:
                sub = cross_language(domains, P, None, kinds=(kind,), sources=[source]).table
            for _, r in sub.iterrows():
                rows.append({"model": KIND_NAMES[kind], "setting": "cross-language", "source": r["source"],
                             "target": r["target"], "UA": r["UA"], "s": r["s"], "t": r["t"], "k": k})
    else:
        spec = specs[0]
        d = domains[spec]
        P1 = {**P, "max_folds": 1}
        for k in ABLATIONS:
            if k == 1 and within is not None and (spec, "mdat") in within.cv:
                cv = within.cv[(spec, "mdat")]
                ua = cv.folds[0]["report"]["metrics"]["ua"]
            else:
                res = within_corpus({spec: d}, P1, kinds=(f"m{k}",))
                ua = res.table["UA"].iloc[0]
            rows.append({"model": KIND_NAMES[f"m{k}"], "setting": "within-corpus (first fold)",
                         "source": d.label, "target": d.label, "UA": ua, "s": spec, "t": spec, "k": k})
    return pd.DataFrame(rows)


def ablation_table(abl: pd.DataFrame) -> pd.DataFrame:
    """Rows = Table VI models (with their modules), columns = target."""
    t = abl.pivot_table(index="model", columns="target", values="UA", aggfunc="first", sort=False)
    return t.round(2)


def ablation_comparisons(domains: dict, abl: pd.DataFrame) -> list[dict]:
    out = []
    for _, r in abl.iterrows():
        if r["setting"] != "cross-language":
            # the paper's Table VI is cross-language; a within-corpus number is not beside it
            out += results.compare_with_paper(PAPER, "Table VI", f"Model {r['k']}", {"ua": round(float(r["UA"]), 2)},
                                              column="(within-corpus; paper is cross-language)",
                                              note=f"measured within-corpus on {r['target']}, first fold; "
                                                   "the paper's cells are IEMOCAP -> target, not comparable")
            continue
        pair = _pair(domains, r["s"], r["t"])
        if pair is None or not pair.startswith("IEMOCAP->"):
            continue
        note = (f"measured {r['source']} -> {r['target']}"
                + ("; synthetic stand-ins, not comparable" if domains[r["s"]].corpus.synthetic else ""))
        out += results.compare_with_paper(PAPER, "Table VI", f"Model {r['k']}", {"ua": round(float(r["UA"]), 2)},
                                          column=pair, dataset=domains[r["t"]].paper_key, note=note)
    return out


# ----------------------------------------------------------------------------- reported numbers

def reported_within() -> pd.DataFrame:
    """Table II as printed (Baseline, SAFRLM, HCAM, MDAT UA per corpus), reported only."""
    from .. import reference

    ref = reference.load(PAPER)
    t = ref[(ref.table == "Table II")]
    return t.pivot_table(index="dataset", columns="row", values="value", aggfunc="first",
                         sort=False).reindex(columns=["Baseline", "SAFRLM [79]", "HCAM [81]", "MDAT"])


def reported_cross(table: str = "Table IV") -> pd.DataFrame:
    """Table IV as printed: rows = source->target, columns = model."""
    from .. import reference

    ref = reference.load(PAPER)
    t = ref[ref.table == table]
    return t.pivot_table(index="column", columns="row", values="value", aggfunc="first", sort=False)


# ----------------------------------------------------------------------------- leaderboard method

def method(profile: str = "quick", **overrides) -> Method:
    """MDAT for the leaderboard: GE2E frame states + MiniLM token states, or audio-only.

    overrides: ``use_text=False`` (audio-only fallback for corpora without transcripts),
    ``kind`` ("mdat", "baseline", "m1".."m7"), ``epochs``, ``batch_size``, ``lr`` and the
    model fields of :func:`model_overrides`.
    """
    use_text = bool(overrides.pop("use_text", True))
    kind = overrides.pop("kind", "mdat")
    P = {"profile": profile, "epochs": overrides.pop("epochs", PROFILE_EPOCHS.get(profile, 12)),
         **{k: overrides.pop(k) for k in ("batch_size", "lr", "weight_decay", "seed") if k in overrides},
         **overrides}
    mo = model_overrides(P)
    unknown = sorted(set(overrides) - set(mo))
    if unknown:
        raise TypeError(f"mdat.method: unknown override(s) {unknown}")
    cfg = train_config(P, use_text)
    return Method(
        name=KIND_NAMES[kind] + ("" if use_text else " (audio only)"), paper=PAPER,
        modalities=("audio", "text") if use_text else ("audio",),
        features=lambda manifest: features(manifest, text=use_text),
        build=lambda n_classes: build(kind, n_classes, use_text=use_text, **mo),
        train=cfg,
        note="GE2E frame states (for XLS-R) and MiniLM token states (for RoBERTa); audio mean-pooled "
             "x8 in time, common length 48, small widths (see the MDAT chapter)" if use_text else
             "audio only: GE2E frame states (for XLS-R); no co-attention without text",
    )


def timer():
    """``elapsed()`` seconds since the call, for the notebook's stage timings."""
    t0 = time.time()
    return lambda: round(time.time() - t0, 1)
