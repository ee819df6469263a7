"""A papermill engine that executes a notebook's cells in this Python process (``sercore run --in-process``).

A Jupyter kernel is a fresh process: it starts (about a second) and imports torch, pandas and matplotlib
again (about three more) before the notebook's first line of work. For one long run that is nothing;
for many small ones it is most of the time, so the run matrix in the tests runs its paper-scale cells
(every params file on the ``paper``, ``quick`` and ``reference`` profiles, with sizes shrunk) this way,
and its ``smoke`` cells in a kernel, as a user runs them.

What stays the same: the notebook, its injected parameters, the working folder (papermill's ``cwd``),
the environment the run sets (:func:`sercore.runs.execute._execute`), and the executed notebook written
out with each cell's outputs (text, rich displays, figures as PNG) and its error, which papermill turns
into the same :class:`papermill.exceptions.PapermillExecutionError` as a kernel's. A cell's printed text
comes before its displays (a kernel interleaves them as they happen).

What differs: the cells share this process (its imported modules, its torch thread count and global
flags). Each notebook gets a fresh IPython shell and namespace, and its open figures are shown and
closed at the end of each cell, as the inline backend does.
"""
from __future__ import annotations

import sys
import traceback

from papermill.engines import Engine, papermill_engines

NAME = "sercore-inprocess"


def _shell():
    """A fresh IPython shell (the singleton ``get_ipython()`` and ``display()`` find), with no history file."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats
    from traitlets.config import Config

    class Shell(InteractiveShell):
        last_traceback: list[str] | None = None

        def _showtraceback(self, etype, evalue, stb):       # keep the traceback for the error output
            self.last_traceback = stb

    InteractiveShell.clear_instance()
    cfg = Config()
    cfg.HistoryManager.enabled = False          # no sqlite history shared by processes running side by side
    shell = Shell.instance(config=cfg)
    select_figure_formats(shell, {"png"})       # figures display as PNG, as the inline backend shows them
    return shell


def _outputs(cap, results: list, count: int) -> list:
    import nbformat

    out = []
    if cap.stdout:
        out.append(nbformat.v4.new_output("stream", name="stdout", text=cap.stdout))
    if cap.stderr:
        out.append(nbformat.v4.new_output("stream", name="stderr", text=cap.stderr))
    for o in cap.outputs:
        out.append(nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata or {}))
    for r in results:           # the cell's last expression
        out.append(nbformat.v4.new_output("execute_result", data=r["data"], metadata=r["metadata"] or {},
                                          execution_count=count))
    return out


def _quiet(source: str) -> bool:
    from IPython.core.displayhook import DisplayHook

    try:
        return DisplayHook.semicolon_at_end_of_expression(source)
    except Exception:  # noqa: BLE001 - source that does not tokenize (a magic): shown, as IPython does
        return False


def _show_open_figures(display) -> None:
    import matplotlib.pyplot as plt

    for num in plt.get_fignums():
        fig = plt.figure(num)
        display(fig)
        plt.close(fig)


class InProcessEngine(Engine):
    """Execute the code cells one by one in a fresh :func:`_shell`; stop at the first error, as nbclient does."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        import nbformat
        from IPython.core.displayhook import CapturingDisplayHook
        from IPython.display import display
        from IPython.utils.capture import capture_output

        import matplotlib.pyplot as plt

        plt.switch_backend("agg")       # never a window: figures are shown as PNG at the end of each cell
        # the shell makes its namespace this process's __main__ (and may set the display and except hooks);
        # they are given back afterwards: a later multiprocessing "spawn" needs the real __main__
        saved = (sys.modules.get("__main__"), sys.displayhook, sys.excepthook)
        shell = _shell()
        count = 0
        try:
            for index, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code":
                    continue
                nb_man.cell_start(cell, index)
                shell.last_traceback = None
                count += 1
                cell.execution_count = count
                results: list[dict] = []
                try:
                    with capture_output(display=True) as cap:
                        # the cell's last expression becomes its execute_result, as a kernel shows it
                        hook, shell.display_trap.hook = shell.display_trap.hook, CapturingDisplayHook(
                            shell=shell, outputs=results)
                        try:
                            res = shell.run_cell(cell.source, store_history=False)
                            _show_open_figures(display)
                        finally:
                            shell.display_trap.hook = hook
                    if results and _quiet(cell.source):
                        results.clear()             # a last expression ending in ';' is not shown
                    cell.outputs = _outputs(cap, results, count)
                    err = res.error_before_exec or res.error_in_exec
                    if err is not None:
                        tb = shell.last_traceback or traceback.format_exception(err)
                        cell.outputs.append(nbformat.v4.new_output(
                            "error", ename=type(err).__name__, evalue=str(err), traceback=list(tb)))
                        nb_man.cell_exception(cell, cell_index=index, exception=err)
                        break
                finally:
                    nb_man.cell_complete(cell, cell_index=index)
        finally:
            from IPython.core.interactiveshell import InteractiveShell

            plt.close("all")
            shell.user_ns.clear()
            InteractiveShell.clear_instance()
            if saved[0] is not None:
                sys.modules["__main__"] = saved[0]
            sys.displayhook, sys.excepthook = saved[1], saved[2]


papermill_engines.register(NAME, InProcessEngine)
