"""Deep CCA (Andrew et al., 2013) and linear CCA against known answers.

Known answers and tolerances:
- linear CCA, views sharing a 3-d unit component s (x1 = s A, x2 = (s + sigma e) B, A, B
  invertible mixes): every canonical correlation is 1 / sqrt(1 + sigma^2). N = 20000;
  |measured - truth| < 0.02 for sigma = 0.5 (truth 0.894) and > 0.9 for sigma = 0.1;
- linear CCA on independent 5-d views, N = 5000: mean canonical correlation < 0.1;
- DCCA on a nonlinear pair (x1 mixes z, x2 mixes z^2, z ~ U(-1.5, 1.5)^2, plus 4 noise
  dims each; linearly uncorrelated: linear CCA < 0.2): split 2000 train / 2000 held-out
  rows, out_dim 2, 150 steps; held-out correlation > 0.8. Independent 6-d views with
  the same split and settings: held-out correlation < 0.2 (the training rows may be
  overfitted; only held-out numbers are asserted).
"""
import numpy as np
import pytest
import torch

from sercore.analysis import DCCA, DCCAResult, cca_correlation, dcca_loss, fit_dcca
from sercore.analysis.dcca import canonical_correlations

FIT = dict(out_dim=2, steps=150, hidden=64, lr=5e-3, batch_size=256, seed=0, progress=False)


def _shared_linear(n, sigma, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, 3))
    a, b = rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 3)) + 3 * np.eye(3)
    return s @ a, (s + sigma * rng.standard_normal((n, 3))) @ b


def _shared_nonlinear(n, seed=0):
    """x1 = [z, noise] Q1, x2 = [z^2, noise] Q2 (+ small noise): (n, 6) each, float32."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.5, 1.5, (n, 2))
    q1, _ = np.linalg.qr(np.random.default_rng(99).standard_normal((6, 6)))
    q2, _ = np.linalg.qr(np.random.default_rng(98).standard_normal((6, 6)))
    x1 = np.concatenate([z, rng.standard_normal((n, 4))], 1) @ q1 + 0.05 * rng.standard_normal((n, 6))
    x2 = np.concatenate([z ** 2, rng.standard_normal((n, 4))], 1) @ q2 + 0.05 * rng.standard_normal((n, 6))
    return x1.astype(np.float32), x2.astype(np.float32)


def test_linear_cca_known_shared_component():
    x1, x2 = _shared_linear(20000, 0.5)
    truth = 1 / np.sqrt(1 + 0.5 ** 2)
    rho = canonical_correlations(torch.from_numpy(x1), torch.from_numpy(x2)).numpy()
    np.testing.assert_allclose(rho, truth, atol=0.02)
    assert cca_correlation(x1, x2) == pytest.approx(truth, abs=0.02)
    x1, x2 = _shared_linear(20000, 0.1, seed=1)
    assert cca_correlation(x1, x2) > 0.9
    assert cca_correlation(x1, x2, k=1) >= cca_correlation(x1, x2)      # top-1 >= mean of all


def test_linear_cca_independent_views_near_zero():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5000, 5)), rng.standard_normal((5000, 5))
    assert cca_correlation(a, b) < 0.1


def test_cca_invariant_to_affine_maps_and_input_type():
    x1, x2 = _shared_linear(3000, 0.7)
    rng = np.random.default_rng(4)
    m = rng.standard_normal((3, 3)) + 2 * np.eye(3)
    ref = cca_correlation(x1, x2)
    assert cca_correlation(x1 @ m + 5.0, 10 * x2 - 1.0) == pytest.approx(ref, abs=1e-4)
    assert cca_correlation(torch.from_numpy(x1), torch.from_numpy(x2)) == pytest.approx(ref, abs=1e-9)


def test_dcca_loss_gradients():
    torch.manual_seed(0)
    a = torch.randn(12, 3, dtype=torch.float64, requires_grad=True)
    b = (a[:, :2].detach() + torch.randn(12, 2, dtype=torch.float64)).requires_grad_(True)
    loss = dcca_loss(a, b, k=2)
    assert loss.item() == pytest.approx(-2 * cca_correlation(a.detach(), b.detach(), k=2), abs=1e-9)
    assert torch.autograd.gradcheck(lambda u, v: dcca_loss(u, v, k=2), (a, b))
    net = DCCA(6, 5, out_dim=3, hidden=16)
    h1, h2 = net(torch.randn(32, 6), torch.randn(32, 5))
    assert h1.shape == h2.shape == (32, 3)
    dcca_loss(h1, h2).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_fit_dcca_recovers_nonlinear_shared_component():
    x1, x2 = _shared_nonlinear(4000)
    assert cca_correlation(x1[:2000], x2[:2000], k=2) < 0.2               # invisible to linear CCA
    r = fit_dcca(x1[:2000], x2[:2000], x1_val=x1[2000:], x2_val=x2[2000:], **FIT)
    print(f"\nDCCA shared: train {r.corr:.3f}, held-out {r.val_corr:.3f}")
    assert isinstance(r, DCCAResult) and r.curve.shape == (150,)
    assert 0.8 < r.val_corr <= 1.0 and 0.8 < r.corr <= 1.0
    assert r.curve[-10:].mean() > r.curve[:10].mean()                     # training raised the correlation
    h1, h2 = r.transform(x1[2000:], x2[2000:])
    assert h1.shape == h2.shape == (2000, 2)
    assert cca_correlation(h1, h2) == pytest.approx(r.val_corr)


def test_fit_dcca_independent_views_stay_low_on_held_out_rows():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4000, 6)), rng.standard_normal((4000, 6))
    r = fit_dcca(a[:2000], b[:2000], x1_val=a[2000:], x2_val=b[2000:], **FIT)
    print(f"\nDCCA independent: train {r.corr:.3f}, held-out {r.val_corr:.3f}")
    assert r.val_corr < 0.2


def test_fit_dcca_deterministic_and_leaves_global_rng():
    x1, x2 = _shared_nonlinear(300, seed=2)
    kw = dict(FIT, steps=15, batch_size=64)
    torch.manual_seed(1)
    before = torch.rand(2)
    torch.manual_seed(1)
    r1 = fit_dcca(x1, x2, **kw)
    after = torch.rand(2)
    r2 = fit_dcca(torch.from_numpy(x1), torch.from_numpy(x2), **kw)
    r3 = fit_dcca(x1, x2, **dict(kw, seed=1))
    np.testing.assert_array_equal(r1.curve, r2.curve)
    assert r1.corr == r2.corr and r1.val_corr is None
    assert not np.array_equal(r1.curve, r3.curve)
    assert torch.equal(before, after)


def test_errors_name_what_was_expected():
    a, b = np.zeros((10, 3)), np.zeros((9, 3))
    with pytest.raises(ValueError, match="same number of samples"):
        cca_correlation(a, b)
    with pytest.raises(ValueError, match="at least 2 samples"):
        cca_correlation(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"1 <= k <= min\(d1, d2\) = 2"):
        cca_correlation(np.random.rand(20, 2), np.random.rand(20, 4), k=3)
    with pytest.raises(ValueError, match="more samples than out_dim"):
        fit_dcca(np.random.rand(8, 3), np.random.rand(8, 3), out_dim=10, progress=False)
    with pytest.raises(ValueError, match="same number of samples"):
        fit_dcca(np.random.rand(50, 3), np.random.rand(40, 3), out_dim=2, progress=False)
    with pytest.raises(ValueError, match="both x1_val and x2_val"):
        fit_dcca(np.random.rand(50, 3), np.random.rand(50, 3), out_dim=2, x1_val=np.random.rand(20, 3),
                 progress=False)
    with pytest.raises(ValueError, match=r"expected x1 of shape \(B, 6\)"):
        DCCA(6, 5)(torch.randn(4, 5), torch.randn(4, 5))
