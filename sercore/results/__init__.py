"""Results: ``metrics.json`` (write, read, validate), reported-vs-measured tables, the scoreboard, plots.

Every executed notebook writes one ``results/PAPER/DATASET/PROFILE/metrics.json``
in the schema of ``docs/contracts.md`` through :class:`Run`. Reported numbers come from the
paper reference tables (:mod:`sercore.reference`, copied with table and row);
measured numbers come from the run. :func:`collect` gathers every file for the
scoreboard.

The parts, each its own module (every name the package, the notebooks and the tests use is here too, as
``sercore.results.X``):

- :mod:`sercore.results.metrics_json`: the schema's keys, :func:`validate_metrics` (every problem named by
  its path, :class:`MetricsError`), :func:`write_metrics`, :func:`read_metrics`;
- :mod:`sercore.results.predictions`: per-utterance test predictions, aligned over seeds, and the
  headline's 95% intervals drawn from them (headline metrics and per-class ones);
- :mod:`sercore.results.comparisons`: comparison rows beside the paper, the test data they stand on, and
  :func:`decide`, the one decision of what is comparable;
- :mod:`sercore.results.writer`: :class:`ChapterResult` and :class:`Run`, which writes a run's folder
  with its provenance;
- :mod:`sercore.results.collection`: :func:`collect` and the scoreboard drawn from every run;
- :mod:`sercore.results.tidy`: :func:`export`, every number of every run as one tidy table;
- :mod:`sercore.results.display`: numbers as table cells, readable and interactive tables, plots.

A name is patched (a test's ``monkeypatch``) in the module that owns it, e.g.
``sercore.results.display._ITABLES_EMITTED``.
"""
from .collection import (VERDICTS, collect, collect_seeds, paper_summary, runs_frame, scoreboard, scoreboard_display,
                         scoreboard_notes, summary_text)
from .comparisons import (CHECK_METRICS, CHECK_VERDICTS, HEADLINE_TOLERANCE, METRIC_ALIASES, SCORE_VERDICTS, _scoped,
                          attach_intervals, comparable_verdict, compare_with_paper, comparison, comparison_frame,
                          decide, metric_key, paper_corpora, paper_corpus, reference_table, row_class, row_interval,
                          row_key, row_label,
                          run_corpora, scope, test_set_text)
from .display import (ABSENT, SYNTHETIC_BANNER, fmt_float, fmt_interval, fmt_num, fmt_value, frame_html, plot_confusion,
                      plot_history, readable_tables, said_once, table)
from .metrics_json import (COMPARISON_KEYS, COMPARISON_STAT_KEYS, INTERVAL_KEYS, METRIC_KEYS, PREDICTION_COLUMNS,
                           OPTIONAL_TOP_KEYS, PREDICTIONS_FILE, STRICT_SECTIONS, TOP_KEYS, MetricsError, nonfinite_paths, read_metrics,
                           validate_metrics, write_metrics)
from .predictions import (cv_predictions, headline_intervals, load_predictions, prediction_arrays, records_predictions,
                          run_intervals)
from .tidy import EXPORT_COLUMNS, export, export_frame
from .writer import ChapterResult, Run, device_name, environment, git_sha
