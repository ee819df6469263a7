"""MINE (Belghazi et al., 2018) against the closed form of correlated Gaussians.

Known answer: d independent pairs of unit Gaussians with correlation rho have
I(X; Y) = -d/2 * log(1 - rho^2) nats. Tolerances (stated, not tuned per case):
    |estimate - truth| < 0.15 nats + 15 % of the truth      for rho in {0.5, 0.8}
    |estimate|         < 0.10 nats                          for rho = 0
and the estimate grows with rho for each d. The DV bound with a finite network
underestimates large MI slightly (measured ~ -0.25 nats at d=5, rho=0.8, truth 2.55).
Settings kept small for speed: 4096 samples, hidden 64, Adam lr 1e-2, batch 256,
150 steps (d <= 2) or 400 steps with batch 512 (d = 5), seed 0. Over three
seeds the worst errors were -0.12 (d=2, rho=0.8) and -0.28 (d=5, rho=0.8).
"""
import math

import numpy as np
import pytest
import torch

from sercore.analysis import MINE, MIResult, correlated_gaussians, estimate_mi, gaussian_mi, smooth

RHOS = (0.0, 0.5, 0.8)
DIMS = (1, 2, 5)


def _settings(d):
    return dict(steps=400, batch_size=512) if d >= 5 else dict(steps=150, batch_size=256)


@pytest.fixture(scope="module")
def grid():
    """{(rho, d): (estimate, truth)} for the whole grid, estimated once."""
    out = {}
    for d in DIMS:
        for rho in RHOS:
            x, y = correlated_gaussians(4096, d, rho, seed=10 * d + int(10 * rho))
            r = estimate_mi(x, y, hidden=64, lr=1e-2, seed=0, progress=False, **_settings(d))
            out[rho, d] = (r.mi, gaussian_mi(rho, d))
    lines = [f"rho={rho} d={d}: est {e:.3f} true {t:.3f} err {e - t:+.3f}" for (rho, d), (e, t) in out.items()]
    print("\nMINE known-answer grid\n" + "\n".join(lines))
    return out


def test_gaussian_mi_closed_form_and_sampler():
    assert gaussian_mi(0.0, 3) == 0.0
    assert gaussian_mi(0.8, 1) == pytest.approx(-0.5 * math.log(0.36))
    assert gaussian_mi(0.5, 4) == pytest.approx(4 * gaussian_mi(0.5, 1))
    x, y = correlated_gaussians(20000, 3, 0.6, seed=1)
    assert x.shape == y.shape == (20000, 3) and x.dtype == np.float32
    r = [np.corrcoef(x[:, j], y[:, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(r, 0.6, atol=0.02)
    assert abs(np.corrcoef(x[:, 0], y[:, 1])[0, 1]) < 0.03      # pairs are independent of each other
    with pytest.raises(ValueError, match="rho"):
        gaussian_mi(1.0, 1)
    with pytest.raises(ValueError, match="d >= 1"):
        gaussian_mi(0.5, 0)


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("rho", RHOS)
def test_mine_matches_closed_form(grid, rho, d):
    est, truth = grid[rho, d]
    if rho == 0.0:
        assert abs(est) < 0.10, f"rho=0, d={d}: estimate {est:.3f} should be ~0"
    else:
        tol = 0.15 + 0.15 * truth
        assert abs(est - truth) < tol, f"rho={rho}, d={d}: estimate {est:.3f} vs truth {truth:.3f} (tol {tol:.3f})"


@pytest.mark.parametrize("d", DIMS)
def test_mine_grows_with_rho(grid, d):
    ests = [grid[rho, d][0] for rho in RHOS]
    assert ests[0] < ests[1] < ests[2], f"d={d}: estimates {ests} not increasing with rho {RHOS}"


def test_result_fields_and_smoothing():
    x, y = correlated_gaussians(512, 2, 0.5, seed=0)
    r = estimate_mi(x, y, steps=30, batch_size=64, hidden=16, seed=0, progress=False)
    assert isinstance(r, MIResult)
    assert r.curve.shape == r.smoothed.shape == (30,)
    assert r.mi == pytest.approx(r.smoothed[-3:].mean())            # mean of the last 10 %
    np.testing.assert_allclose(smooth([1.0, 3.0], alpha=0.5), [1.0, 2.0])
    np.testing.assert_allclose(r.smoothed, smooth(r.curve, 0.05))


def test_deterministic_under_seed_and_leaves_global_rng():
    x, y = correlated_gaussians(512, 2, 0.5, seed=0)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = estimate_mi(x, y, steps=40, batch_size=64, hidden=16, seed=7, progress=False)
    after = torch.rand(3)
    b = estimate_mi(torch.from_numpy(x), torch.from_numpy(y), steps=40, batch_size=64, hidden=16, seed=7,
                    progress=False)
    c = estimate_mi(x, y, steps=40, batch_size=64, hidden=16, seed=8, progress=False)
    np.testing.assert_array_equal(a.curve, b.curve)
    assert not np.array_equal(a.curve, c.curve)
    assert torch.equal(before, after)                               # the caller's RNG stream is untouched


def test_lower_bound_value_and_gradients():
    torch.manual_seed(0)
    net = MINE(3, 2, hidden=8)
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    g = torch.Generator().manual_seed(0)
    lb = net.lower_bound(x, y, generator=g)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    ref = net(x, y).mean() - (torch.logsumexp(net(x, y[perm]), 0) - math.log(16))
    assert lb.ndim == 0 and lb.item() == pytest.approx(ref.item(), abs=1e-6)
    lb.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors_name_what_was_expected():
    x, y = correlated_gaussians(100, 2, 0.5)
    with pytest.raises(ValueError, match="same number of samples"):
        estimate_mi(x, y[:50], steps=2, progress=False)
    with pytest.raises(ValueError, match="at least 4 samples"):
        estimate_mi(x[:3], y[:3], steps=2, progress=False)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        estimate_mi(np.zeros((4, 2, 2)), np.zeros((4, 2)), steps=2, progress=False)
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 3\)"):
        MINE(3, 2)(torch.randn(4, 2), torch.randn(4, 2))
