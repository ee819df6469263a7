"""t-SNE helpers with fixed seeds (van der Maaten & Hinton, JMLR 2008, through scikit-learn).

Used by the MCWSA-CMHA chapter (Fig. 5: fused features per fusion method; Fig. 7:
original, unsupervised-fused and supervised-fused features). A t-SNE picture is a
qualitative view; :func:`silhouette` gives a number to print beside it.
:func:`standardised_pca` is the reduction t-SNE runs first; the chapter also uses it to bring
views of very different sizes to one size before MINE and DCCA.
"""
from __future__ import annotations

import numpy as np

__all__ = ["embed", "plot_tsne", "silhouette", "standardised_pca"]


def _matrix(features, where: str) -> np.ndarray:
    """Array/tensor (N, ...) -> float64 array (N, D) (trailing axes flattened), finite."""
    if hasattr(features, "detach"):
        features = features.detach().cpu().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"{where}: expected features of shape (N, D), got {x.shape}")
    x = x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: features contain NaN or infinite values")
    return x


def embed(features, *, seed: int = 0, perplexity: float = 30.0, pca_dim: int | None = 50) -> np.ndarray:
    """2-D t-SNE embedding of ``features``.

    Args:
        features: (N, D) array or tensor (trailing axes of (N, ...) are flattened); N >= 4.
        seed: ``random_state`` of PCA and t-SNE: the same seed gives the same embedding
            (t-SNE starts from the PCA layout, so in practice the seed changes little).
        perplexity: clipped to ``(N - 1) / 3`` for small N (t-SNE needs perplexity < N).
        pca_dim: features are standardised per column, then reduced with PCA to
            ``min(pca_dim, N - 1)`` components when D is larger (None: no PCA); see
            :func:`standardised_pca`.

    Returns:
        (N, 2) float64 array.
    """
    from sklearn.manifold import TSNE

    x = _matrix(features, "embed")
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"embed: t-SNE needs at least 4 samples, got {n}")
    if perplexity <= 0:
        raise ValueError(f"embed: expected perplexity > 0, got {perplexity}")
    x = standardised_pca(x, pca_dim if pca_dim is not None and x.shape[1] > pca_dim else None, seed=seed)
    perp = float(min(perplexity, (n - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto", random_state=seed)
    return tsne.fit_transform(x).astype(np.float64)                           # (N, 2)


def standardised_pca(features, k: int | None, *, seed: int = 0) -> np.ndarray:
    """Every column standardised (constant columns become 0), then the first ``min(k, N - 1, D)``
    principal components (``k`` None: standardised only).

    Args:
        features: (N, D) array or tensor (trailing axes of (N, ...) are flattened), finite.
        k: number of components wanted; fewer when N - 1 or D is smaller (N rows, centred,
            span at most N - 1 directions).
        seed: ``random_state`` of PCA (matters for the randomised solver sklearn picks on large inputs).

    Returns:
        (N, min(k, N - 1, D)) float64 array, or (N, D) when ``k`` is None.
    """
    from sklearn.decomposition import PCA

    x = _matrix(features, "standardised_pca")
    std = x.std(0)
    x = (x - x.mean(0)) / np.where(std > 1e-12, std, 1.0)                     # (N, D), constant columns -> 0
    if k is None:
        return x
    k = min(int(k), x.shape[0] - 1, x.shape[1])
    if k < 1:
        raise ValueError(f"standardised_pca: need at least 2 rows and 1 column, got {x.shape}")
    return PCA(n_components=k, random_state=seed).fit_transform(x)           # (N, k)


def plot_tsne(emb, labels, *, ax=None, title: str | None = None, label_names=None, s: float = 8.0):
    """Scatter a 2-D embedding coloured by class, one collection (and legend entry) per class.

    Args:
        emb: (N, 2) embedding (e.g. from :func:`embed`).
        labels: (N,) class ids or names.
        ax: matplotlib Axes to draw on (default: a new figure).
        title: axes title.
        label_names: names for the classes: a sequence indexed by integer label, or a dict
            label -> name (default: the labels themselves).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    e = _matrix(emb, "plot_tsne")
    if e.shape[1] != 2:
        raise ValueError(f"plot_tsne: expected a 2-D embedding of shape (N, 2), got {e.shape}")
    lab = np.asarray(labels)
    if lab.shape != (e.shape[0],):
        raise ValueError(f"plot_tsne: expected labels of shape ({e.shape[0]},), got {lab.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    colours = plt.get_cmap("tab10" if len(np.unique(lab)) <= 10 else "tab20")
    for i, c in enumerate(np.unique(lab)):
        if label_names is None:
            name = str(c)
        elif isinstance(label_names, dict):
            name = str(label_names.get(c.item() if hasattr(c, "item") else c, c))
        else:
            name = str(label_names[int(c)])
        sel = lab == c
        ax.scatter(e[sel, 0], e[sel, 1], s=s, alpha=0.8, color=colours(i % colours.N), label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", markerscale=2, frameon=False, loc="best")
    return ax


def silhouette(emb_or_features, labels) -> float:
    """Silhouette score (sklearn, Euclidean) of ``labels`` on an embedding or features (N, D).

    In [-1, 1]; higher means tighter, better-separated classes. Needs 2 <= classes <= N - 1.
    """
    from sklearn.metrics import silhouette_score

    x = _matrix(emb_or_features, "silhouette")
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise ValueError(f"silhouette: expected labels of shape ({x.shape[0]},), got {lab.shape}")
    k = len(np.unique(lab))
    if not 2 <= k <= x.shape[0] - 1:
        raise ValueError(f"silhouette: expected between 2 and N-1 = {x.shape[0] - 1} classes, got {k}")
    return float(silhouette_score(x, lab))
