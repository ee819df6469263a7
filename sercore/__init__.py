"""sercore: a reproducible study book for speech emotion recognition (SER).

The package holds the data layer (:mod:`sercore.data`), feature extractors
(:mod:`sercore.features`), the five papers' models (:mod:`sercore.models`),
the training engine (:mod:`sercore.train`), evaluation protocols
(:mod:`sercore.protocols`), metrics (:mod:`sercore.metrics`) and the
results/book pipeline (:mod:`sercore.results`, :mod:`sercore.cli`).

Nothing here touches the network at import time.
"""

__version__ = "0.1.0"


def __getattr__(name):
    """Lazy exports.

    ``sercore.PAPERS``: the papers' keys in book order, derived from their declarations
    (``PAPER = Paper(...)`` in ``sercore/schemas/<paper>.py``, :func:`sercore.registry.paper_keys`).

    ``sercore.predict`` (the CA-SER demo tool) loads torch only when used: it is the module
    :mod:`sercore.predict`, which is callable: ``sercore.predict(paths, checkpoint=DIR)`` is
    ``sercore.predict.predict(...)``.
    """
    if name == "PAPERS":
        from .registry import paper_keys
        return paper_keys()
    if name == "predict":
        import importlib
        return importlib.import_module(".predict", __name__)
    raise AttributeError(f"module 'sercore' has no attribute {name!r}")
