"""The matrix-game study of the paper (sec. 5, Table 1, Fig. 4, Fig. 9a-b) on 2x2 games with exact gradients.

Modules, one idea each:

* `games`: named 2x2 games and the official code's random generators (bit-exact per seed).
* `batch`: a batch of games with exact values, gradients and convergence targets.
* `learners`: IGA, IGA-PP and WoLF-IGA, vectorised over games.
* `metagame`: MATRL's 2x2 meta-game (exact, or the official code's), its equilibria and selection rules.
* `trust_region`: MATRL itself, in the `paper` and the `original` variant.
* `runner`: iterate a learner until each game converges (converged games stop computing).
* `study`: `run_study`, Table 1 and its CSV; `plots`: the figures; `files`: atomic writes;
  `reference`: the paper's and the official code's published numbers.
"""
