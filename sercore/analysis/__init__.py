"""Analysis tools shared by chapters: mutual information (MINE), deep CCA and t-SNE helpers.

- :mod:`.mine`: Belghazi et al. 2018, MINE (Donsker-Varadhan bound, moving-average
  bias-corrected gradient), validated on correlated Gaussians;
- :mod:`.dcca`: Andrew et al. 2013, deep canonical correlation analysis, validated on
  views with and without a shared component;
- :mod:`.tsne`: seeded t-SNE embeddings, class-coloured scatter plots, silhouette scores.
"""
from .dcca import DCCA, DCCAResult, cca_correlation, dcca_loss, fit_dcca  # noqa: F401
from .mine import MINE, MIResult, correlated_gaussians, estimate_mi, gaussian_mi, smooth  # noqa: F401
from .tsne import embed, plot_tsne, silhouette  # noqa: F401

__all__ = [
    "MINE", "MIResult", "correlated_gaussians", "estimate_mi", "gaussian_mi", "smooth",
    "DCCA", "DCCAResult", "cca_correlation", "dcca_loss", "fit_dcca",
    "embed", "plot_tsne", "silhouette",
]
