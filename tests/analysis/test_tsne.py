"""t-SNE helpers: seeded embeddings, small-N perplexity clipping, silhouette, class-coloured plots."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sercore.analysis import embed, plot_tsne, silhouette  # noqa: E402


def _blobs(n_per=40, k=3, d=60, sep=6.0, seed=0):
    """k well-separated Gaussian clusters in d dims: features (k*n_per, d), labels (k*n_per,)."""
    rng = np.random.default_rng(seed)
    centres = sep * rng.standard_normal((k, d)) / np.sqrt(d) * 3
    y = np.repeat(np.arange(k), n_per)
    return centres[y] + rng.standard_normal((k * n_per, d)), y


def test_embed_shape_and_repeatable_under_seed():
    x, _ = _blobs()
    a = embed(x, seed=0)
    b = embed(torch.from_numpy(x), seed=0)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)                                 # bit-identical on repeat


def test_embed_small_n_clips_perplexity_and_flattens():
    rng = np.random.default_rng(1)
    e = embed(rng.standard_normal((10, 4, 5)), seed=0, perplexity=30.0)   # 30 > N: clipped to 3
    assert e.shape == (10, 2) and np.isfinite(e).all()
    with pytest.raises(ValueError, match="at least 4 samples"):
        embed(rng.standard_normal((3, 5)))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        embed(np.zeros(7))


def test_silhouette_separated_clusters_beat_shuffled_labels():
    x, y = _blobs()
    emb = embed(x, seed=0)
    y_shuf = np.random.default_rng(0).permutation(y)
    s_true, s_shuf = silhouette(emb, y), silhouette(emb, y_shuf)
    assert s_true > 0.5 and s_true > s_shuf + 0.4 and abs(s_shuf) < 0.1
    assert silhouette(x, y) > silhouette(x, y_shuf)                         # also on raw features
    with pytest.raises(ValueError, match="between 2 and N-1"):
        silhouette(emb, np.zeros(len(y)))
    with pytest.raises(ValueError, match=r"labels of shape \(120,\)"):
        silhouette(emb, y[:-1])


def test_plot_tsne_one_collection_per_class():
    x, y = _blobs(n_per=10, k=4, d=8)
    emb = np.random.default_rng(0).standard_normal((40, 2))
    ax = plot_tsne(emb, y, title="fused", label_names=["angry", "happy", "neutral", "sad"])
    assert len(ax.collections) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["angry", "happy", "neutral", "sad"]
    assert ax.get_title() == "fused"
    fig, ax2 = plt.subplots()
    assert plot_tsne(emb, np.array(["a", "b"] * 20), ax=ax2) is ax2 and len(ax2.collections) == 2
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_tsne(np.zeros((40, 3)), y)
    plt.close("all")


def test_standardised_pca_clips_components_and_zeroes_constant_columns():
    from sercore.analysis.tsne import standardised_pca

    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 30)) * 5 + 3
    x[:, 0] = 7.0                                                          # a constant column
    z = standardised_pca(x, None)
    assert z.shape == (12, 30) and np.allclose(z[:, 0], 0) and np.allclose(z[:, 1:].std(0), 1)
    p = standardised_pca(x, 16)
    assert p.shape == (12, 11)                                             # 12 centred rows span 11 directions
    assert np.allclose(p.mean(0), 0) and np.all(np.diff(p.var(0)) <= 1e-9)  # components by decreasing variance
    assert standardised_pca(x, 4, seed=0).shape == (12, 4)
    np.testing.assert_array_equal(standardised_pca(x, 4), standardised_pca(torch.from_numpy(x), 4))
