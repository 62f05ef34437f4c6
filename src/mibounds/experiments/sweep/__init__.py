"""The sweep machinery: run a grid of cells into an SQLite results file and report on it.

Torch-free (NumPy at most): worker processes that only run cells import this and the cell
function's module, nothing more. The studies of :mod:`mibounds.experiments` run on it.

- :mod:`~mibounds.experiments.sweep.grid`: cells (``make_cells``, spec files) with stable ids.
- :mod:`~mibounds.experiments.sweep.cells`: the registered cell functions and the paths they had.
- :mod:`~mibounds.experiments.sweep.runner`: ``run_sweep``, resumable, one sweep per file.
- :mod:`~mibounds.experiments.sweep.executors`: where cells run (this process, worker processes, Ray).
- :mod:`~mibounds.experiments.sweep.store`: ``ResultStore``, the results file.
- :mod:`~mibounds.experiments.sweep.report`: ``write_report``, the tables and figure of a file.
- :mod:`~mibounds.experiments.sweep.statistics`: ``summarize_errors``, the one bias/variance summary.

The public names are re-exported, lazily, by :mod:`mibounds.experiments`.

Example:
    >>> from mibounds.experiments.sweep.cells import choose_cell
    >>> choose_cell("synthetic")  # a registered cell: the dotted path worker processes import
    'mibounds.experiments.sweep.cells:synthetic_cell'
    >>> choose_cell("mibounds.experiments.cells:synthetic_cell")  # its path before the move
    'mibounds.experiments.sweep.cells:synthetic_cell'
"""
