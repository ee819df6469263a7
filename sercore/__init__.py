"""sercore: a reproducible study book for speech emotion recognition (SER).

The package holds the data layer (:mod:`sercore.data`), feature extractors
(:mod:`sercore.features`), the five papers' models (:mod:`sercore.models`),
the training engine (:mod:`sercore.train`), evaluation protocols
(:mod:`sercore.protocols`), metrics (:mod:`sercore.metrics`) and the
results/book pipeline (:mod:`sercore.results`, :mod:`sercore.cli`).

Nothing here touches the network at import time.
"""

__version__ = "0.1.0"

PAPERS = ("ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat")


def __getattr__(name):
    """Lazy exports: ``sercore.predict`` (the CA-SER demo tool) loads torch only when used.

    ``sercore.predict`` is the module :mod:`sercore.predict`, which is callable:
    ``sercore.predict(paths, checkpoint=DIR)`` is ``sercore.predict.predict(...)``.
    """
    if name == "predict":
        import importlib
        return importlib.import_module(".predict", __name__)
    raise AttributeError(f"module 'sercore' has no attribute {name!r}")
