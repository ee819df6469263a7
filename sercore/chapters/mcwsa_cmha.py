"""MCWSA-CMHA chapter (Zheng et al.): features, two-stage training, Tables I-III, Figs. 4-9.

What the notebook ``book/mcwsa_cmha.ipynb`` calls, one function per stage:

- :func:`available_modalities`, :func:`modality_features` — LTPP inputs per utterance
  (``{"audio": (3, 64, 128), "text": (32, 300), "video": (32, 2048)}``);
- :func:`run_cv` — stage 1 (unsupervised reconstruction, :func:`pretrain`) then stage 2
  (cross-entropy through :func:`sercore.train.cross_validate`) on every fold;
- :func:`run_grid` — Table II cells (fusion x modality subset x pre-training);
- :func:`table_one`, :func:`table_two`, :func:`table_three` — measured beside reported;
- :func:`digits_check` / :func:`plot_digits` (Fig. 6), :func:`mine_curves` (Fig. 8),
  :func:`dcca_curves` (Fig. 9), :func:`plot_tsne_panels` (Figs. 5, 7);
- :func:`method` — the leaderboard :class:`~sercore.chapters.Method`.

Offline stand-ins (named wherever a number is shown):

- text: the paper's 300-d word2vec vectors come from gensim ``KeyedVectors`` when
  ``word2vec=<path>`` is given; otherwise all-MiniLM-L6-v2 token states (384-d, the
  ``minilm`` extractor) through a fixed, seeded orthonormal projection to 300-d;
- video: the paper's ImageNet ResNet penultimate features (2048-d per frame) come from
  torchvision's ResNet-50 with ``video="resnet", video_weights=<state-dict path>``;
  otherwise a fixed, seeded random-feature map of the face pixels (``randproj``: per-frame
  standardised pixels x Gaussian matrix, ReLU; 2048-d) or of their Sobel gradient
  magnitudes (``gradproj``). Neither stand-in is a trained network.
"""
from __future__ import annotations

import copy
import re
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from .. import models, train
from ..features import TEXT_LEVELS, VIDEO_LEVELS, extract, ltpp, ltpp_audio
from ..models.mcwsa_cmha import MODALITY_LETTER, reconstruction_loss
from ..paths import show_progress
from . import Method

PAPER = "mcwsa_cmha"
ALL = ("audio", "text", "video")
#: Table II column -> modalities (the paper's A/V/T letters)
SUBSETS = {"A+V": ("audio", "video"), "A+T": ("audio", "text"), "V+T": ("text", "video"),
           "A+V+T": ("audio", "text", "video"), "A": ("audio",), "T": ("text",), "V": ("video",)}
#: fusion key -> Table II row
FUSION_ROWS = {"concat": "Concat [8]", "tfn": "TFN [10]", "mult": "MulT [15]", "cmha": "The proposed CMHA"}
#: video extractor key -> (Table III row it stands in for, description)
VIDEO_EXTRACTORS = {
    "resnet": ("ResNet [17]", "torchvision ResNet-50 penultimate layer (2048-d), user-supplied ImageNet weights"),
    "randproj": ("ResNet [17]", "stand-in: fixed seeded random ReLU features of the standardised face pixels (2048-d)"),
    "gradproj": ("VGG-Face [59]", "stand-in: fixed seeded random ReLU features of the Sobel gradient magnitudes (2048-d)"),
}
TEXT_DIM, VIDEO_DIM = 300, 2048

#: model sizes per profile (the paper's are the preset's defaults)
SIZES = {
    "smoke": dict(latent_dim=16, heads=2, audio_channels=4, video_hidden=16, text_layers=1, text_ff=32,
                  head_hidden=16, tfn_rank=3, dropout=0.1),
    "quick": dict(latent_dim=32, heads=4, audio_channels=8, video_hidden=32, text_layers=2, text_ff=64,
                  head_hidden=32, tfn_rank=4, dropout=0.2),
    "paper": dict(),
}


# ----------------------------------------------------------------------------- features

def available_modalities(manifest: pd.DataFrame) -> tuple:
    """Modalities every row of ``manifest`` has: audio (``path``), text (``text``), video (``video``)."""
    out = []
    for m, col in (("audio", "path"), ("text", "text"), ("video", "video")):
        if col in manifest and len(manifest) and manifest[col].notna().all() and \
                (m != "text" or manifest[col].astype(str).str.strip().ne("").all()):
            out.append(m)
    return tuple(out)


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


def _projection(d_in: int, d_out: int, seed: int) -> np.ndarray:
    """A fixed (d_in, d_out) matrix with orthonormal columns (seeded)."""
    g = np.random.default_rng(seed).standard_normal((d_in, max(d_in, d_out)))
    q, _ = np.linalg.qr(g if d_in >= d_out else g.T)
    return (q[:, :d_out] if d_in >= d_out else q[:d_out].T).astype(np.float32)


def _words(text: str) -> list:
    return re.findall(r"[A-Za-z0-9']+", str(text))


def text_features(manifest, word2vec: str | None = None, progress=None, seed: int = 0) -> list:
    """(32, 300) per row: per-word vectors, LTPP levels 0, 2, 4, 8, 16 + global max.

    ``word2vec``: a gensim ``KeyedVectors`` file (``.kv``, or word2vec ``.bin``/``.txt``):
    the paper's setting (out-of-vocabulary words are zero vectors). ``None``: the
    offline stand-in, MiniLM token states projected to 300-d by a fixed orthonormal map.
    """
    if word2vec:
        try:
            from gensim.models import KeyedVectors
        except ImportError as e:
            raise ImportError("word2vec= needs gensim (pip install gensim); leave word2vec=None for the "
                              "MiniLM stand-in") from e
        kv = (KeyedVectors.load(word2vec) if str(word2vec).endswith(".kv") else
              KeyedVectors.load_word2vec_format(word2vec, binary=str(word2vec).endswith(".bin")))
        seqs = []
        for t in manifest["text"]:
            vecs = [kv[w] if w in kv else np.zeros(kv.vector_size, np.float32) for w in _words(t)] or \
                   [np.zeros(kv.vector_size, np.float32)]
            seqs.append(np.stack(vecs).astype(np.float32))
    else:
        states = extract(manifest, "minilm", progress=progress)                    # (tokens, 384)
        P = _projection(states[0].shape[-1], TEXT_DIM, seed)
        seqs = [s @ P for s in states]                                              # (tokens, 300)
    return [_standardise(ltpp(s, TEXT_LEVELS), (0, 1)) for s in seqs]              # (32, 300)


def _sobel(frames: np.ndarray) -> np.ndarray:
    f = np.pad(frames, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (f[:, 1:-1, 2:] - f[:, 1:-1, :-2]) * 2 + (f[:, :-2, 2:] - f[:, :-2, :-2]) + (f[:, 2:, 2:] - f[:, 2:, :-2])
    gy = (f[:, 2:, 1:-1] - f[:, :-2, 1:-1]) * 2 + (f[:, 2:, :-2] - f[:, :-2, :-2]) + (f[:, 2:, 2:] - f[:, :-2, 2:])
    return np.hypot(gx, gy)


class _ResNetFrames:
    """torchvision ResNet-50 penultimate features of gray frames (T, H, W) -> (T, 2048)."""

    def __init__(self, weights: str | None, device: str = "cpu"):
        try:
            import torchvision
        except ImportError as e:
            raise ImportError("video='resnet' needs torchvision (pip install torchvision) and ImageNet "
                              "weights (video_weights=<resnet50 state_dict .pth>); offline, use "
                              "video='randproj'") from e
        if not weights:
            raise ValueError("video='resnet' needs video_weights=<path to an ImageNet ResNet-50 state_dict>")
        net = torchvision.models.resnet50()
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        net.fc = torch.nn.Identity()
        self.net, self.device = net.eval().to(device), device
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(frames, dtype=torch.float32)[:, None] / 255.0               # (T, 1, H, W)
        x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
        x = (x.repeat(1, 3, 1, 1) - self.mean) / self.std
        return torch.cat([self.net(b.to(self.device)).cpu() for b in x.split(64)]).numpy()


def read_frames(path: str, fps: float = 10.0, size: int = 48) -> np.ndarray:
    """Gray frames ``(T, H, W)`` float32 in [0, 255]: a ``.npy`` array as stored (the synthetic corpus),
    or a video file (optionally ``path#t=start,end``, the IEMOCAP/MSP-IMPROV manifests) decoded with
    OpenCV at ``fps`` frames/s, converted to gray and resized to ``size`` x ``size``."""
    path = str(path)
    base, _, frag = path.partition("#t=")
    if base.endswith(".npy"):
        return np.load(base).astype(np.float32)
    try:
        import cv2
    except ImportError as e:
        raise ImportError(f"decoding {base} needs OpenCV (pip install opencv-python-headless); or store the "
                          "frames as .npy (T, H, W) arrays, or drop video from `modalities`") from e
    start, end = (float(v) for v in frag.split(",")) if frag else (0.0, float("inf"))
    cap = cv2.VideoCapture(base)
    if not cap.isOpened():
        raise ValueError(f"cannot open video {base}")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.set(cv2.CAP_PROP_POS_MSEC, start * 1000.0)
    frames, t, step = [], start, 1.0 / fps
    next_t = start
    while t <= end:
        ok, img = cap.read()
        if not ok:
            break
        if t >= next_t:
            g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
            frames.append(cv2.resize(g, (size, size), interpolation=cv2.INTER_AREA))
            next_t += step
        t += 1.0 / src_fps
    cap.release()
    if not frames:
        raise ValueError(f"no frames read from {path}")
    return np.stack(frames).astype(np.float32)


def video_features(manifest, video: str = "randproj", video_weights: str | None = None, seed: int = 0,
                   progress=None) -> list:
    """(32, 2048) per row: per-frame 2048-d features of the ``video`` column's frames, LTPP levels
    0, 2, 4, 8, 16 + global max, standardised per utterance. ``video``: see :data:`VIDEO_EXTRACTORS`."""
    from tqdm.auto import tqdm

    if video not in VIDEO_EXTRACTORS:
        raise ValueError(f"video must be one of {sorted(VIDEO_EXTRACTORS)}, got {video!r}")
    if "video" not in manifest or manifest["video"].isna().any():
        raise ValueError("video features need a 'video' column with a frames file for every row")
    resnet = _ResNetFrames(video_weights) if video == "resnet" else None
    W = None
    out = []
    for path in tqdm(manifest["video"], desc=f"video[{video}]", disable=not show_progress(progress)):
        frames = read_frames(path)                                                     # (T, H, W)
        if frames.ndim != 3:
            raise ValueError(f"{path}: expected frames (T, H, W), got shape {frames.shape}")
        if resnet is not None:
            f = resnet(frames)
        else:
            x = _sobel(frames / 255.0) if video == "gradproj" else frames / 255.0
            x = _standardise(x.reshape(len(x), -1), (1,))                               # (T, H*W)
            if W is None:
                W = np.random.default_rng(seed + (1 if video == "gradproj" else 0)).standard_normal(
                    (x.shape[1], VIDEO_DIM)).astype(np.float32) / np.sqrt(x.shape[1])
            f = np.maximum(x @ W, 0.0)                                                  # (T, 2048)
        out.append(_standardise(ltpp(f, VIDEO_LEVELS), (0, 1)))                        # (32, 2048)
    return out


def modality_features(manifest, modalities=ALL, *, video: str = "randproj", video_weights=None,
                      word2vec=None, seed: int = 0, progress=None) -> list:
    """One dict ``{modality: array}`` per manifest row (the form :class:`sercore.train.FeatureDataset` takes)."""
    mods = [m for m in ALL if m in modalities]
    missing = [m for m in mods if m not in available_modalities(manifest)]
    if missing:
        raise ValueError(f"the manifest has no {missing} for every row; it has {available_modalities(manifest)}")
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


# ----------------------------------------------------------------------------- model + two-stage training

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
    """Representations of every row (eval mode): ``fused`` (N, d) row-mean of the fused code,
    ``fused_flat`` (N, R*d), or ``encoded`` {modality: (N, R*d)} encoder outputs."""
    model.eval()
    device = next(model.parameters()).device
    mods = list(model.modalities)
    outs = []
    for i in range(0, len(features), batch_size):
        xs = [torch.as_tensor(np.stack([f[m] for f in features[i:i + batch_size]])).to(device) for m in mods]
        if what == "encoded":
            outs.append({m: z.flatten(1).cpu().numpy() for m, z in model.encode(*xs).items()})
        elif what == "fused_flat":
            outs.append(model.fuse(*xs).flatten(1).cpu().numpy())
        else:
            outs.append(model.embedding(*xs).cpu().numpy())
    if what == "encoded":
        return {m: np.concatenate([o[m] for o in outs]) for m in mods}
    return np.concatenate(outs)


SIZE_KEYS = ("latent_dim", "heads", "audio_channels", "audio_blocks", "video_hidden", "text_layers", "text_ff",
             "head_hidden", "tfn_rank", "dropout")


def sizes_from_params(P: dict) -> dict:
    """Model-size overrides among the notebook parameters (``None`` = the paper preset's value)."""
    return {k: P[k] for k in SIZE_KEYS if P.get(k) is not None}


def parse_column(column: str) -> tuple:
    """Table column -> (modalities, pretrained): 'A+V+T (NP)' -> (('audio', 'text', 'video'), False)."""
    base = column.replace(" (NP)", "").strip()
    if base not in SUBSETS:
        raise ValueError(f"unknown column {column!r}; expected one of {list(SUBSETS)} with an optional ' (NP)'")
    return SUBSETS[base], not column.endswith("(NP)")


def plan(P: dict, modalities) -> dict:
    """Which runs this notebook makes, from the parameters and the corpus's modalities.

    Returns ``{"modalities", "full" (the column of all modalities), "table2": [(fusion, column)],
    "table3": [(extractor, column)], "notes": [...]}``. Parameters read: ``table2_fusions``,
    ``table2_columns``, ``table3_extractors``, ``table3_columns``. CMHA and MulT always run on
    the full column (Fig. 4). With one modality the fusion comparison, Table III and the
    cross-modal analyses do not apply (stated in ``notes``).
    """
    mods = tuple(m for m in ALL if m in modalities)
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

    cols = [c for c in (P.get("table2_columns") or ["A+V", "A+T", "V+T", "A+V+T (NP)", "A+V+T"]) if ok(c)]
    cells = [(f, c) for f in (P.get("table2_fusions") or list(FUSION_ROWS)) for c in cols]
    for f, c in (("cmha", full), ("mult", full), ("cmha", full + " (NP)")):
        if (f, c) not in cells:           # the headline, Fig. 4 and the pre-training ablation always run
            cells.append((f, c))
    t3 = []
    if "video" in mods:
        t3 = [(e, c) for e in (P.get("table3_extractors") or []) for c in (P.get("table3_columns") or [])
              if ok(c) and "video" in parse_column(c)[0]]
    if set(mods) != set(ALL):
        notes.append(f"The corpus gives {', '.join(mods)}: only the subsets of these modalities run.")
    return {"modalities": mods, "full": full, "table2": cells, "table3": t3, "notes": notes}


def train_config(P: dict) -> train.TrainConfig:
    """Stage-2 settings from the notebook parameters (Adam, L2 as weight decay, UA selection)."""
    return train.TrainConfig(epochs=int(P["epochs"]), batch_size=int(P["batch_size"]), lr=float(P["lr"]),
                             weight_decay=float(P["weight_decay"]), optimizer="adam", early_stop_metric="ua",
                             seed=int(P.get("seed", 0)), device=P.get("device", "auto"), progress=False)


def run_setting(features, y, folds, labels, modalities, fusion: str, pretrained: bool, P: dict,
                capture: bool = False) -> dict:
    """One cell: cross-validation of MCWSA with ``fusion`` on ``modalities``, with or without stage 1.

    Returns ``{"cv": CVResult, "ua", "f1", "seconds", "pretrain": [...], ...}``; with ``capture``
    also the first fold's representations of every row: ``unsup`` (after stage 1), ``sup``
    (after stage 2) and ``encoded`` (encoder outputs after stage 2).
    """
    t0 = time.time()
    feats = select(features, modalities)
    cfg = replace(train_config(P), inputs=tuple(m for m in ALL if m in modalities))
    build = builder(feats, modalities, fusion, len(labels), P.get("sizes"))
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


def subset_name(modalities, pretrained: bool) -> str:
    """Table column name: 'A+V', ..., 'A+V+T (NP)' for a run without stage 1 ('T' for text alone)."""
    key = next(k for k, v in SUBSETS.items() if set(v) == set(modalities))
    return key + ("" if pretrained else " (NP)")


def run_grid(features, y, folds, labels, cells, P: dict, capture_column: str | None = None,
             done: dict | None = None, progress=None) -> dict:
    """Run every (fusion, column) cell, reusing those in ``done``: {(fusion, column): result}.
    The cells of ``capture_column`` keep the first fold's representations (Figs. 5, 7-9)."""
    from tqdm.auto import tqdm

    out = dict(done or {})
    for fusion, column in tqdm(cells, desc="cells", disable=not show_progress(progress)):
        if (fusion, column) not in out:
            mods, pre = parse_column(column)
            out[(fusion, column)] = run_setting(features, y, folds, labels, mods, fusion, pre, P,
                                                capture=(column == capture_column))
    return out


def with_video(features: list, video: list) -> list:
    """The same per-row dicts with the video arrays replaced (Table III)."""
    return [dict(f, video=v) for f, v in zip(features, video)]


def run_table_three(manifest, features, y, folds, labels, cells, P: dict, grid: dict, progress=None) -> dict:
    """Table III runs: CMHA on each (extractor, column). The extractor the rest of the chapter uses
    (``P['video']``) reuses the Table II CMHA cells; another extractor's video features are
    computed and swapped in. Returns {extractor: {column: result}}."""
    out: dict = {}
    swapped: dict = {}
    for ext, col in cells:
        if ext == P.get("video", "randproj") and ("cmha", col) in grid:
            out.setdefault(ext, {})[col] = grid[("cmha", col)]
            continue
        if ext not in swapped:
            swapped[ext] = with_video(features, video_features(manifest, ext, P.get("video_weights"),
                                                               int(P.get("seed", 0)), progress))
        mods, pre = parse_column(col)
        out.setdefault(ext, {})[col] = run_setting(swapped[ext], y, folds, labels, mods, "cmha", pre, P)
    return out


def grid_frame(grid: dict) -> pd.DataFrame:
    """One row per run cell: fusion, column, UA, macro F1, stage-1 epochs, seconds."""
    rows = [{"fusion": f, "column": c, "UA (%)": round(r["ua"], 2), "F1": round(r["f1"], 3),
             "folds": len(r["cv"].folds), "parameters": r.get("n_params"), "seconds": round(r["seconds"], 1)}
            for (f, c), r in grid.items()]
    return pd.DataFrame(rows).set_index(["fusion", "column"])


def deviations(P: dict, modalities, data_label: str) -> pd.DataFrame:
    """What differs from the paper in this run (shown next to the tables)."""
    sizes = sizes_from_params(P)
    rows = {
        "data": data_label,
        "audio": "as the paper: 64-band log-mel 20-8000 Hz, 25 ms Hamming / 10 ms hop, + delta, delta-delta, "
                 "LTPP 64x128x3" if "audio" in modalities else "not available in this corpus",
        "text": ("word2vec via gensim KeyedVectors (" + str(P.get("word2vec")) + ")" if P.get("word2vec") else
                 "stand-in: all-MiniLM-L6-v2 token states (384-d, word pieces) through a fixed orthonormal "
                 "projection to 300-d, in place of word2vec word vectors") if "text" in modalities
        else "not available in this corpus",
        "video": VIDEO_EXTRACTORS[P.get("video", "randproj")][1] if "video" in modalities
        else "not available in this corpus",
        "normalisation": "each LTPP input standardised per utterance (the paper does not say)",
        "batch norm": "momentum 0.9, eps 1e-5 as the paper writes them, read in its PyTorch 1.4.0 convention "
                      "(0.9 = weight of the newest batch in the running statistics)",
        "model size": ("paper preset (latent 32 x 300)" if not sizes else
                       "reduced widths: " + ", ".join(f"{k}={v}" for k, v in sizes.items())),
        "training": f"{P['pretrain_epochs']} reconstruction + {P['epochs']} fine-tuning epochs (paper: up to 200), "
                    f"batch {P['batch_size']} (paper 64), Adam {P['lr']}, L2 {P['weight_decay']} as Adam weight decay",
        "protocol": f"stratified {P.get('k', 10)}-fold (8 train / 1 validation / 1 test parts); "
                    f"{'all folds' if not P.get('max_folds') else 'only the first ' + str(P['max_folds']) + ' fold(s)'} run",
        "metrics": "UA = mean per-class recall (%); F1 = macro F1 as a fraction (the paper does not say which F1)",
    }
    return pd.DataFrame({"this run": rows})


# ----------------------------------------------------------------------------- tables

def _ref(table: str, dataset: str) -> pd.DataFrame:
    from .. import reference

    r = reference.load(PAPER)
    return r[(r.table == table) & (r.dataset == dataset)]


def table_one(measured_ua: float, ref_dataset: str, data_label: str) -> pd.DataFrame:
    """Table I: the paper's UA rows (reported) and our MCWSA-CMHA UA (measured, on ``data_label``)."""
    r = _ref("Table I", ref_dataset)
    rows = [{"method": row, "reported UA (%)": v, "measured UA (%)": None} for row, v in zip(r.row, r.value)]
    rows.append({"method": f"MCWSA-CMHA, this run ({data_label})", "reported UA (%)": None,
                 "measured UA (%)": round(float(measured_ua), 2)})
    return pd.DataFrame(rows).set_index("method")


def table_two(grid: dict, ref_dataset: str) -> pd.DataFrame:
    """Table II: rows = fusion, columns = (subset, UA/F1, reported/measured). Cells not run stay empty."""
    r = _ref("Table II", ref_dataset)
    cols = ["A+V", "A+T", "V+T", "A+V+T (NP)", "A+V+T"]
    cols += sorted({c for _, c in grid} - set(cols))          # single-modality columns (e.g. 'T', 'T (NP)')
    data = {}
    for f, row in FUSION_ROWS.items():
        rec = {}
        for c in cols:
            for metric in ("ua", "f1"):
                sel = r[(r.row == row) & (r.column == c) & (r.metric == metric)]
                rec[(c, metric.upper(), "reported")] = float(sel.value.iloc[0]) if len(sel) else None
                res = grid.get((f, c))
                rec[(c, metric.upper(), "measured")] = (round(res["ua"], 2) if metric == "ua" else round(res["f1"], 3)) \
                    if res else None
        data[row] = rec
    df = pd.DataFrame(data).T
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def table_three(runs: dict, ref_dataset: str) -> pd.DataFrame:
    """Table III: UA per visual extractor. ``runs``: {extractor key: {column: result}}."""
    r = _ref("Table III", ref_dataset)
    cols = ["A+V", "A+T", "V+T", "A+V+T (NP)", "A+V+T"]
    rows = []
    for key, (ref_row, desc) in VIDEO_EXTRACTORS.items():
        if key == "resnet" and key not in runs:
            continue
        rec = {"extractor": f"{key}: {desc}", "stands in for": ref_row}
        for c in cols:
            sel = r[(r.row == ref_row) & (r.column == c) & (r.metric == "ua")]
            rec[(c, "reported")] = float(sel.value.iloc[0]) if len(sel) else None
            res = runs.get(key, {}).get(c)
            rec[(c, "measured")] = round(res["ua"], 2) if res else None
        rows.append(rec)
    return pd.DataFrame(rows).set_index("extractor")


def comparisons(grid: dict, video_runs: dict, headline: dict, ref_dataset: str, note: str) -> list:
    """Every reported-vs-measured row the chapter shows, for ``metrics.json``."""
    from ..results import compare_with_paper

    out = compare_with_paper(PAPER, "Table I", "MCWSA-CMHA (Proposed)", {"ua": headline["ua"]},
                             dataset=ref_dataset, note=note)
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

def plot_confusions(confusions: dict, title_suffix: str = ""):
    """Fig. 4: one confusion matrix (row %) per model, side by side."""
    import matplotlib.pyplot as plt

    from ..results import plot_confusion

    fig, axes = plt.subplots(1, len(confusions), figsize=(4.5 * len(confusions), 3.8), squeeze=False)
    for ax, (name, conf) in zip(axes[0], confusions.items()):
        plot_confusion(conf, ax=ax, title=f"{name}{title_suffix}")
    fig.tight_layout()
    return fig


def plot_tsne_panels(panels: dict, y, labels, seed: int = 0):
    """Figs. 5 / 7: one t-SNE panel per named feature matrix, silhouette (on the 2-D map) in the title."""
    import matplotlib.pyplot as plt

    from ..analysis import tsne

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    scores = {}
    for ax, (name, X) in zip(axes[0], panels.items()):
        emb = tsne.embed(np.asarray(X, dtype=np.float32).reshape(len(X), -1), seed=seed)
        scores[name] = float(tsne.silhouette(emb, y))
        tsne.plot_tsne(emb, np.asarray(y), ax=ax, title=f"{name}\nsilhouette {scores[name]:.2f}",
                       label_names=list(labels))
    fig.tight_layout()
    return fig, scores


def _pca(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    k = min(k, X.shape[0] - 1, X.shape[1])
    return PCA(k, random_state=0).fit_transform(X).astype(np.float32)


PAIRS = {"V-T": ("video", "text"), "A-T": ("audio", "text"), "A-V": ("audio", "video")}


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


def digits_check(*, epochs: int = 30, n_train: int = 600, n_show: int = 6, sizes: dict | None = None,
                 seed: int = 0, mnist_dir: str | None = None) -> dict:
    """Fig. 6: digits 0-2, 3-5, 6-8 fed to channels 1-3 of one MCWSA (CMHA fusion); stage-1 training.

    Data: scikit-learn's bundled 8x8 ``load_digits`` (the offline stand-in for MNIST; each
    image is 8 rows of 8 values, scaled to [0, 1]). Training triples pair random images of
    the three groups; the test triples come from held-out images. ``mnist_dir`` is not read
    here (a user's MNIST would need 28x28 shapes). Returns inputs/reconstructions of
    ``n_show`` test triples per channel and the loss curve.
    """
    from sklearn.datasets import load_digits

    if mnist_dir:
        raise NotImplementedError("the MNIST folder path is not wired yet; the check uses load_digits")
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

    tr, te = triples(0, n_train), triples(1, n_show)
    kw = dict(sizes or {})
    kw.update(modalities=names, extra_shapes={c: (8, 8) for c in names}, rows=8,
              encoder_kinds={c: "conv1d" for c in names}, fusion="cmha", n_classes=2)
    model = models.create("mcwsa_cmha", **kw)
    feats = [{c: tr[c][i] for c in names} for i in range(n_train)]
    cfg = train.TrainConfig(batch_size=64, lr=1e-3, seed=seed, progress=False, device="cpu")
    hist = pretrain(model, feats, np.arange(n_train), cfg, epochs)
    model.eval()
    with torch.no_grad():
        rec = model.reconstruct(*[torch.as_tensor(te[c]) for c in names])
    return {"inputs": te, "outputs": {c: rec[c].numpy() for c in names}, "history": hist,
            "groups": groups, "test_mse": float(np.mean([np.mean((rec[c].numpy() - te[c]) ** 2) for c in names]))}


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


def original_views(features: list) -> dict:
    """{modality: (N, flattened input)} of the LTPP inputs (for Figs. 7-9)."""
    return {m: np.stack([f[m] for f in features]).reshape(len(features), -1) for m in features[0]}


# ----------------------------------------------------------------------------- leaderboard

PROFILES = {
    "smoke": dict(epochs=2, pretrain_epochs=1, batch_size=16, lr=1e-3, weight_decay=1e-4),
    "quick": dict(epochs=20, pretrain_epochs=10, batch_size=32, lr=1e-3, weight_decay=1e-4),
    "paper": dict(epochs=200, pretrain_epochs=200, batch_size=64, lr=1e-3, weight_decay=1e-4),
}


def method(profile: str = "quick", *, modalities=None, manifest=None, fusion: str = "cmha",
           video: str = "randproj", word2vec=None, **overrides) -> Method:
    """MCWSA-CMHA for the leaderboard: two-stage training (``run_cv``), CMHA fusion.

    Modalities: ``modalities`` when given; else those ``manifest`` has when given; else all
    three — and then :attr:`Method.features` keeps the ones the manifest it is handed has
    (``build`` follows what ``features`` found). ``overrides``: epochs, pretrain_epochs,
    batch_size, lr, weight_decay, seed, and model-size fields (``latent_dim``, ...).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    P = dict(PROFILES[profile], seed=0)
    sizes = dict(SIZES[profile])
    for k, v in overrides.items():
        (P if k in P or k in ("device",) else sizes)[k] = v
    requested = tuple(m for m in ALL if m in (modalities or (available_modalities(manifest) if manifest is not None
                                                             else ALL)))
    state = {"modalities": requested, "features": None}

    def features(man):
        have = available_modalities(man)
        mods = tuple(m for m in requested if m in have)
        if not mods:
            raise ValueError(f"MCWSA-CMHA needs one of {requested}; the manifest has {have}")
        feats = modality_features(man, mods, video=video, word2vec=word2vec, seed=P["seed"], progress=False)
        state.update(modalities=mods, features=feats)
        return feats

    def build(n_classes):
        if state["features"] is None:
            raise RuntimeError("call features(manifest) before build(): the input shapes come from the features")
        return builder(state["features"], state["modalities"], fusion, n_classes, sizes)()

    def cv(build_model, feats, y, folds, cfg, labels, **kw):
        cfg = replace(cfg, inputs=state["modalities"])
        return run_cv(build_model, feats, y, folds, cfg, labels, pretrain_epochs=int(P["pretrain_epochs"]),
                      **{k: v for k, v in kw.items() if k in ("segmented", "on_fold_end")})

    cfg = train.TrainConfig(epochs=int(P["epochs"]), batch_size=int(P["batch_size"]), lr=float(P["lr"]),
                            weight_decay=float(P["weight_decay"]), seed=int(P["seed"]), early_stop_metric="ua",
                            inputs=requested, device=P.get("device", "auto"))
    letters = "+".join(MODALITY_LETTER[m] for m in requested)
    note = (f"MCWSA-CMHA ({letters}; profile {profile}: {P['pretrain_epochs']} reconstruction + {P['epochs']} "
            f"fine-tuning epochs{', reduced widths' if sizes else ''}); text: "
            f"{'word2vec' if word2vec else 'MiniLM token states projected to 300-d (stand-in for word2vec)'}; "
            f"video: {VIDEO_EXTRACTORS[video][1]}")
    return Method(name="MCWSA-CMHA", paper=PAPER, modalities=requested, features=features, build=build,
                  train=cfg, run_cv=cv, note=note)


def params_frame(P: dict) -> pd.DataFrame:
    """The training settings of this run beside the paper's (Sec. IV-C)."""
    paper = dict(epochs=200, pretrain_epochs="up to 200 (not stated separately)", batch_size=64, lr=1e-3,
                 weight_decay="L2 1e-4", dropout=0.5, latent="32 x 300", folds="10 (8 train / 1 val / 1 test)")
    sizes = dict(SIZES["paper"], **(P.get("sizes") or {}))
    cfg = models.preset("mcwsa_cmha")
    ours = dict(epochs=P["epochs"], pretrain_epochs=P["pretrain_epochs"], batch_size=P["batch_size"], lr=P["lr"],
                weight_decay=f"L2 {P['weight_decay']} (Adam weight decay)",
                dropout=sizes.get("dropout", cfg.dropout),
                latent=f"{cfg.rows} x {sizes.get('latent_dim', cfg.latent_dim)}",
                folds=f"{P.get('k', 10)} parts, first {P.get('max_folds') or 'all'} fold(s) run")
    return pd.DataFrame({"paper": {k: str(v) for k, v in paper.items()},
                         "this run": {k: str(v) for k, v in ours.items()}})


__all__ = ["available_modalities", "modality_features", "audio_features", "text_features", "video_features",
           "builder", "pretrain", "run_cv", "run_setting", "run_grid", "plan", "parse_column", "with_video",
           "sizes_from_params", "run_table_three", "grid_frame", "deviations", "embed", "table_one",
           "table_two", "table_three", "comparisons", "plot_confusions", "plot_tsne_panels", "mine_curves",
           "plot_mine", "dcca_curves", "plot_dcca", "digits_check", "plot_digits", "original_views", "method",
           "SUBSETS", "FUSION_ROWS", "VIDEO_EXTRACTORS", "SIZES", "PROFILES", "params_frame"]
