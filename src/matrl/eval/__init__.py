"""Reading finished (or running) training runs back: learning curves and summary tables.

* `curves`: load run directories, average curves over seeds on a common env-step grid, plot, tabulate.
"""
