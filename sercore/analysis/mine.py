"""Mutual Information Neural Estimation (MINE).

Belghazi, Baratin, Rajeswar, Ozair, Bengio, Courville & Hjelm, "Mutual Information
Neural Estimation", ICML 2018 (PMLR 80, 531-540).

A statistics network ``T(x, y)`` is trained to maximise the Donsker-Varadhan (DV)
lower bound on the mutual information

    I(X; Y) >= E_{P_XY}[T] - log E_{P_X x P_Y}[exp T]

where samples of the product of marginals come from shuffling ``y`` within a batch.
The naive minibatch gradient of ``log E[exp T]`` is biased; MINE replaces the
denominator ``E[exp T]`` of that gradient by an exponential moving average over
batches (Sec. 3.2, "Correcting the bias from the stochastic gradients"). We keep the
moving average in log space so that large values of ``T`` cannot overflow.

The known answer used by the tests: for ``d`` independent pairs of unit Gaussians
with correlation ``rho``, ``I(X; Y) = -d/2 * log(1 - rho^2)`` nats (:func:`gaussian_mi`).

Used by the MCWSA-CMHA chapter (Fig. 8: MI between original and encoded features
over training steps, smoothed with :func:`smooth`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..paths import show_progress

__all__ = ["gaussian_mi", "correlated_gaussians", "MINE", "MIResult", "estimate_mi", "smooth"]


def gaussian_mi(rho: float, d: int) -> float:
    """Mutual information (nats) of ``d`` independent pairs of unit Gaussians with correlation ``rho``.

    ``I = -0.5 * d * log(1 - rho^2)``; ``|rho| < 1``, ``d >= 1``.
    """
    if not -1.0 < rho < 1.0:
        raise ValueError(f"gaussian_mi: expected -1 < rho < 1, got rho={rho}")
    if int(d) < 1:
        raise ValueError(f"gaussian_mi: expected d >= 1, got d={d}")
    return float(-0.5 * int(d) * math.log1p(-rho * rho))


def correlated_gaussians(n: int, d: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` pairs ``(x, y)`` with ``x ~ N(0, I_d)``, ``y = rho * x + sqrt(1 - rho^2) * e``.

    Each coordinate pair ``(x_j, y_j)`` is a unit bivariate Gaussian with correlation
    ``rho``, independent of the other pairs, so ``I(X; Y) = gaussian_mi(rho, d)``.

    Returns:
        x, y: float32 arrays of shape (n, d).
    """
    if int(n) < 2:
        raise ValueError(f"correlated_gaussians: expected n >= 2 samples, got n={n}")
    gaussian_mi(rho, d)  # validates rho and d
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(n), int(d)))
    e = rng.standard_normal((int(n), int(d)))
    y = rho * x + math.sqrt(1.0 - rho * rho) * e
    return x.astype(np.float32), y.astype(np.float32)


def _as_2d_tensor(a, name: str) -> torch.Tensor:
    """Array or tensor (N,) or (N, D) -> float32 tensor (N, D) (detached)."""
    t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name}: expected shape (N, D) (or (N,)), got {tuple(t.shape)}")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


class MINE(nn.Module):
    """Statistics network ``T(x, y)``: an MLP on the concatenation ``[x, y]``.

    Args:
        dx: features of ``x``; dy: features of ``y``.
        hidden: width of the two hidden layers (ELU activations).

    ``forward(x, y)``: x (B, dx), y (B, dy) -> T (B,).
    """

    def __init__(self, dx: int, dy: int, hidden: int = 128):
        super().__init__()
        if dx < 1 or dy < 1 or hidden < 1:
            raise ValueError(f"MINE: expected dx, dy, hidden >= 1, got dx={dx}, dy={dy}, hidden={hidden}")
        self.dx, self.dy = int(dx), int(dy)
        self.net = nn.Sequential(
            nn.Linear(self.dx + self.dy, hidden), nn.ELU(),
            nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, 1),
        )

    def _check(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.dx:
            raise ValueError(f"MINE: expected x of shape (B, {self.dx}), got {tuple(x.shape)}")
        if y.ndim != 2 or y.shape[1] != self.dy:
            raise ValueError(f"MINE: expected y of shape (B, {self.dy}), got {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"MINE: x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}")

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x (B, dx), y (B, dy) -> T(x, y) (B,)."""
        self._check(x, y)
        return self.net(torch.cat([x, y], dim=1)).squeeze(1)  # (B,)

    def _terms(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """Joint mean of T and log-mean-exp of T on the marginal (y shuffled within the batch)."""
        self._check(x, y)
        if x.shape[0] < 2:
            raise ValueError(f"MINE: a batch needs at least 2 samples to shuffle y, got {x.shape[0]}")
        perm = torch.randperm(y.shape[0], generator=generator, device="cpu").to(y.device)
        t = self(torch.cat([x, x]), torch.cat([y, y[perm]]))             # (2B,) one pass for both
        t_joint, t_marg = t[: x.shape[0]], t[x.shape[0]:]                # (B,), (B,)
        lme = torch.logsumexp(t_marg, 0) - math.log(t_marg.shape[0])     # log mean exp, scalar
        return t_joint.mean(), lme

    def lower_bound(self, x: torch.Tensor, y: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Donsker-Varadhan bound on one batch (nats): ``mean T(x, y) - log mean exp T(x, y_shuffled)``.

        x (B, dx), y (B, dy) -> scalar tensor (differentiable). ``generator`` seeds the shuffle.
        """
        joint, lme = self._terms(x, y, generator)
        return joint - lme


@dataclass
class MIResult:
    """What :func:`estimate_mi` measured."""
    mi: float                 # final estimate (nats): mean of the last 10% of `smoothed`
    curve: np.ndarray         # (steps,) DV bound on each training batch (nats)
    smoothed: np.ndarray      # (steps,) exponential moving average of `curve` (see `smooth`)


def smooth(curve, alpha: float = 0.05) -> np.ndarray:
    """Exponential moving average ``s_t = (1 - alpha) s_{t-1} + alpha c_t`` (``s_0 = c_0``).

    curve (T,) -> (T,) float64. Used for Fig. 8/9-style plots ("moving average smoothing").
    """
    c = np.asarray(curve, dtype=np.float64).reshape(-1)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"smooth: expected 0 < alpha <= 1, got {alpha}")
    out = np.empty_like(c)
    s = None
    for i, v in enumerate(c):
        s = v if s is None else (1.0 - alpha) * s + alpha * v
        out[i] = s
    return out


def estimate_mi(x, y, *, steps: int = 1000, batch_size: int = 256, lr: float = 1e-3, hidden: int = 128,
                ema: float = 0.01, seed: int = 0, progress: bool | None = None,
                device: str | torch.device | None = None, smooth_alpha: float = 0.05) -> MIResult:
    """Estimate ``I(X; Y)`` in nats with MINE (DV bound, moving-average bias-corrected gradient).

    Args:
        x: (N, dx) array or tensor (a 1-D (N,) input is taken as (N, 1)).
        y: (N, dy) array or tensor, row ``i`` paired with ``x[i]``.
        steps: Adam steps; each draws ``batch_size`` rows (without replacement within the batch).
        batch_size: rows per batch (clipped to N).
        lr: Adam learning rate.
        hidden: width of the statistics network (:class:`MINE`).
        ema: rate of the moving average of ``E[exp T]`` that corrects the gradient bias
            (the paper's ``alpha``; 1.0 gives the plain biased minibatch gradient).
        seed: seeds the network initialisation, batch draws and shuffles (the global torch
            RNG is left untouched).
        progress: tqdm bar (None: on unless ``SERCORE_PROGRESS=0``).
        device: where to train (default: x's device when x is a tensor, else CPU).
        smooth_alpha: rate of the moving average that gives ``smoothed``.

    Returns:
        :class:`MIResult` with ``curve`` (steps,) the DV bound on each batch, ``smoothed``
        (steps,) and ``mi`` the mean of the last 10% of ``smoothed``.

    Inputs are standardised per feature first (MI is invariant to invertible maps of
    each variable, and the statistics network trains better on unit-scale inputs).
    The per-batch estimates are measured on the rows the network trains on: with few
    rows and many features the network can memorise pairs and the curve keeps rising
    past the true MI, so compare curves only between inputs of the same N and size
    (reduce wide features, e.g. with PCA, first).
    """
    if device is None:
        device = x.device if isinstance(x, torch.Tensor) else "cpu"
    xt, yt = _as_2d_tensor(x, "estimate_mi: x"), _as_2d_tensor(y, "estimate_mi: y")
    n = xt.shape[0]
    if yt.shape[0] != n:
        raise ValueError(f"estimate_mi: x and y must hold the same number of samples (rows), "
                         f"got x {tuple(xt.shape)} and y {tuple(yt.shape)}")
    if n < 4:
        raise ValueError(f"estimate_mi: expected at least 4 samples, got {n}")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"estimate_mi: expected steps >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    if not 0.0 < ema <= 1.0:
        raise ValueError(f"estimate_mi: expected 0 < ema <= 1, got {ema}")
    xt = (xt - xt.mean(0)) / xt.std(0).clamp_min(1e-8)
    yt = (yt - yt.mean(0)) / yt.std(0).clamp_min(1e-8)
    xt, yt = xt.to(device), yt.to(device)
    bs = min(int(batch_size), n)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MINE(xt.shape[1], yt.shape[1], hidden).to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    log_ma = None           # log of the moving average of E_marginal[exp T]
    log_keep, log_rate = math.log1p(-ema) if ema < 1 else -math.inf, math.log(ema)
    curve = np.empty(int(steps), dtype=np.float64)
    for step in tqdm(range(int(steps)), desc="MINE", disable=not show_progress(progress), leave=False):
        idx = torch.randperm(n, generator=gen)[:bs].to(device)
        joint, lme = net._terms(xt[idx], yt[idx], gen)               # scalars
        with torch.no_grad():
            lme_d = lme.detach()
            log_ma = lme_d if log_ma is None else torch.logaddexp(log_keep + log_ma, log_rate + lme_d)
        # surrogate whose gradient is grad(mean T_joint) - grad(E exp T_marg) / moving average:
        # exp(lme - log_ma) equals mean(exp T_marg) / ma, with value 1 at the current point
        loss = -(joint - torch.exp(lme - log_ma))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        curve[step] = float(joint.detach() - lme_d)
    sm = smooth(curve, smooth_alpha)
    tail = max(1, int(round(0.1 * len(sm))))
    return MIResult(mi=float(sm[-tail:].mean()), curve=curve, smoothed=sm)
