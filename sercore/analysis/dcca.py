"""Deep canonical correlation analysis (DCCA).

Andrew, Arora, Bilmes & Livescu, "Deep Canonical Correlation Analysis", ICML 2013.

Two networks ``f1, f2`` map the views to ``H1 = f1(X1)``, ``H2 = f2(X2)`` (N, o); the
objective is the total canonical correlation of ``H1`` and ``H2``. With centred outputs,

    S11 = H1'H1 / (N-1) + r I,   S22 = H2'H2 / (N-1) + r I,   S12 = H1'H2 / (N-1),
    T   = S11^{-1/2} S12 S22^{-1/2},

the canonical correlations are the singular values of ``T`` (the paper's regularised
covariances, ``r = eps``). Any whitening ``W`` with ``W S11 W' = I`` gives the same
singular values, so we whiten with Cholesky factors (stable gradients) instead of
symmetric inverse square roots. The loss is the negative sum of the top-k singular
values (k = o gives the paper's ``corr(H1, H2) = ||T||_tr``).

Used by the MCWSA-CMHA chapter (Fig. 9: DCCA correlation per fusion method over
training steps).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..paths import show_progress

__all__ = ["canonical_correlations", "cca_correlation", "dcca_loss", "DCCA", "DCCAResult", "fit_dcca"]


def _views(h1, h2, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Arrays/tensors (N, d1), (N, d2) (a 1-D (N,) view counts as (N, 1)) -> two tensors, checked."""
    out = []
    for name, h in (("h1", h1), ("h2", h2)):
        t = h if isinstance(h, torch.Tensor) else torch.as_tensor(np.asarray(h, dtype=np.float64))
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2:
            raise ValueError(f"{where}: expected {name} of shape (N, d), got {tuple(t.shape)}")
        out.append(t)
    a, b = out
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{where}: the two views must hold the same number of samples (rows), "
                         f"got h1 {tuple(a.shape)} and h2 {tuple(b.shape)}")
    if a.shape[0] < 2:
        raise ValueError(f"{where}: expected at least 2 samples to estimate covariances, got {a.shape[0]}")
    return a, b


def canonical_correlations(h1: torch.Tensor, h2: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """All canonical correlations of two views, largest first (differentiable, float64 inside).

    h1 (N, d1), h2 (N, d2) tensors -> (min(d1, d2),) tensor in h1's dtype.
    ``eps`` is added to the diagonals of both view covariances (ridge regularisation).
    """
    h1, h2 = _views(h1, h2, "canonical_correlations")
    dtype = h1.dtype if h1.is_floating_point() else torch.float32
    a, b = h1.double(), h2.double().to(h1.device)
    n = a.shape[0]
    a = a - a.mean(0, keepdim=True)                                        # (N, d1)
    b = b - b.mean(0, keepdim=True)                                        # (N, d2)
    s11 = a.T @ a / (n - 1) + eps * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)   # (d1, d1)
    s22 = b.T @ b / (n - 1) + eps * torch.eye(b.shape[1], dtype=b.dtype, device=b.device)   # (d2, d2)
    s12 = a.T @ b / (n - 1)                                                # (d1, d2)
    l1, l2 = torch.linalg.cholesky(s11), torch.linalg.cholesky(s22)
    m = torch.linalg.solve_triangular(l1, s12, upper=False)               # L1^-1 S12      (d1, d2)
    t = torch.linalg.solve_triangular(l2, m.T, upper=False).T             # L1^-1 S12 L2^-T (d1, d2)
    return torch.linalg.svdvals(t).to(dtype)                               # (min(d1, d2),)


def _check_k(k, d1: int, d2: int, where: str) -> int:
    kmax = min(d1, d2)
    k = kmax if k is None else int(k)
    if not 1 <= k <= kmax:
        raise ValueError(f"{where}: expected 1 <= k <= min(d1, d2) = {kmax}, got k={k}")
    return k


def cca_correlation(h1, h2, k: int | None = None, eps: float = 1e-4) -> float:
    """Mean of the top-k canonical correlations between two views (linear, regularised CCA).

    Args:
        h1: (N, d1) numpy array or tensor; h2: (N, d2), row i paired with h1's row i.
        k: how many correlations to average (default ``min(d1, d2)``).
        eps: ridge added to both covariance diagonals (absolute: views on a very small
            scale should be standardised first).

    Returns a float in [0, 1]. With N not much larger than d1 + d2 the sample
    correlations are biased upward (about sqrt(d/N) for independent views).
    """
    a, b = _views(h1, h2, "cca_correlation")
    k = _check_k(k, a.shape[1], b.shape[1], "cca_correlation")
    with torch.no_grad():
        rho = canonical_correlations(a.detach().double(), b.detach().double(), eps)
    return float(rho[:k].mean().clamp(0.0, 1.0))


def dcca_loss(h1: torch.Tensor, h2: torch.Tensor, k: int | None = None, eps: float = 1e-4) -> torch.Tensor:
    """DCCA objective to minimise: minus the sum of the top-k canonical correlations.

    h1 (B, o1), h2 (B, o2) tensors -> scalar tensor (differentiable w.r.t. both views).
    ``k`` defaults to ``min(o1, o2)`` (the paper's total correlation).
    """
    a, b = _views(h1, h2, "dcca_loss")
    k = _check_k(k, a.shape[1], b.shape[1], "dcca_loss")
    return -canonical_correlations(a, b, eps)[:k].sum()


class DCCA(nn.Module):
    """Two MLPs, one per view: ``d -> hidden -> hidden -> out_dim`` with ReLU.

    ``forward(x1, x2)``: x1 (B, d1), x2 (B, d2) -> (h1 (B, out_dim), h2 (B, out_dim)).
    """

    def __init__(self, d1: int, d2: int, out_dim: int = 10, hidden: int = 256):
        super().__init__()
        if min(d1, d2, out_dim, hidden) < 1:
            raise ValueError(f"DCCA: expected positive sizes, got d1={d1}, d2={d2}, out_dim={out_dim}, hidden={hidden}")
        self.d1, self.d2, self.out_dim = int(d1), int(d2), int(out_dim)

        def mlp(d):
            return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, out_dim))
        self.f1, self.f2 = mlp(self.d1), mlp(self.d2)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x1 (B, d1), x2 (B, d2) -> h1 (B, out_dim), h2 (B, out_dim)."""
        if x1.ndim != 2 or x1.shape[1] != self.d1:
            raise ValueError(f"DCCA: expected x1 of shape (B, {self.d1}), got {tuple(x1.shape)}")
        if x2.ndim != 2 or x2.shape[1] != self.d2:
            raise ValueError(f"DCCA: expected x2 of shape (B, {self.d2}), got {tuple(x2.shape)}")
        if x1.shape[0] != x2.shape[0]:
            raise ValueError(f"DCCA: x1 and x2 must hold the same number of samples, got {x1.shape[0]} and {x2.shape[0]}")
        return self.f1(x1), self.f2(x2)


@dataclass
class DCCAResult:
    """What :func:`fit_dcca` measured (and the trained networks)."""
    corr: float                    # mean canonical correlation of the outputs on all training rows, in [0, 1]
    curve: np.ndarray              # (steps,) mean canonical correlation on each training batch
    val_corr: float | None = None  # same on (x1_val, x2_val) when given (networks frozen), else None
    model: DCCA | None = field(default=None, repr=False)   # trained networks (eval mode)
    stats: tuple | None = field(default=None, repr=False)  # (mean1, std1, mean2, std2) used to standardise inputs

    def transform(self, x1, x2) -> tuple[np.ndarray, np.ndarray]:
        """Raw views (N, d1), (N, d2) -> network outputs (N, out_dim) each, numpy float32."""
        m1, s1, m2, s2 = self.stats
        dev = next(self.model.parameters()).device
        a, b = _views(x1, x2, "DCCAResult.transform")
        a = ((a.float().to(dev) - m1) / s1)
        b = ((b.float().to(dev) - m2) / s2)
        with torch.no_grad():
            h1, h2 = self.model(a, b)
        return h1.cpu().numpy(), h2.cpu().numpy()


def fit_dcca(x1, x2, *, out_dim: int = 10, steps: int = 500, batch_size: int = 256, lr: float = 1e-3,
             seed: int = 0, progress: bool | None = None, hidden: int = 256, eps: float = 1e-4,
             x1_val=None, x2_val=None, device: str | torch.device | None = None) -> DCCAResult:
    """Train :class:`DCCA` on two views and report their canonical correlation.

    Args:
        x1: (N, d1) array or tensor; x2: (N, d2), row i paired with x1's row i.
        out_dim: size of each network output (and number of canonical correlations averaged).
        steps: Adam steps, each on ``batch_size`` rows drawn without replacement (clipped to N).
        lr: Adam learning rate. hidden: MLP width. eps: covariance ridge.
        seed: seeds initialisation and batch draws (the global torch RNG is left untouched).
        progress: tqdm bar (None: on unless ``SERCORE_PROGRESS=0``).
        x1_val, x2_val: optional held-out views; their correlation (``val_corr``) is measured
            with the trained networks frozen (linear CCA refitted on the held-out outputs).
        device: where to train (default: x1's device when x1 is a tensor, else CPU).

    Inputs are standardised per feature with the training rows' mean and std. Returns a
    :class:`DCCAResult`: ``corr`` on all training rows, ``curve`` (steps,) per batch.
    """
    if device is None:
        device = x1.device if isinstance(x1, torch.Tensor) else "cpu"
    a, b = _views(x1, x2, "fit_dcca")
    n = a.shape[0]
    if n <= out_dim + 1:
        raise ValueError(f"fit_dcca: expected more samples than out_dim + 1 = {out_dim + 1}, got {n}")
    if batch_size <= out_dim + 1:
        raise ValueError(f"fit_dcca: expected batch_size > out_dim + 1 = {out_dim + 1}, got {batch_size}")
    if (x1_val is None) != (x2_val is None):
        raise ValueError("fit_dcca: give both x1_val and x2_val, or neither")
    a, b = a.detach().float().to(device), b.detach().float().to(device)
    m1, s1 = a.mean(0), a.std(0).clamp_min(1e-8)
    m2, s2 = b.mean(0), b.std(0).clamp_min(1e-8)
    a, b = (a - m1) / s1, (b - m2) / s2
    bs = min(int(batch_size), n)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DCCA(a.shape[1], b.shape[1], out_dim, hidden).to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve = np.empty(int(steps), dtype=np.float64)
    model.train()
    for step in tqdm(range(int(steps)), desc="DCCA", disable=not show_progress(progress), leave=False):
        idx = torch.randperm(n, generator=gen)[:bs].to(device)
        h1, h2 = model(a[idx], b[idx])                                     # (B, o), (B, o)
        loss = dcca_loss(h1, h2, out_dim, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        curve[step] = -float(loss.detach()) / out_dim
    model.eval()
    res = DCCAResult(corr=0.0, curve=curve, model=model, stats=(m1, s1, m2, s2))
    h1, h2 = res.transform(x1, x2)
    res.corr = cca_correlation(h1, h2, out_dim, eps)
    if x1_val is not None:
        v1, v2 = res.transform(x1_val, x2_val)
        if v1.shape[0] <= out_dim + 1:
            raise ValueError(f"fit_dcca: expected more held-out samples than out_dim + 1 = {out_dim + 1}, "
                             f"got {v1.shape[0]}")
        res.val_corr = cca_correlation(v1, v2, out_dim, eps)
    return res
