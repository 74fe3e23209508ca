"""The course: graded exercises for students and the helpers its notebooks use.

- ``notebook.py``: where a notebook lives and writes (``notebook_dir``, ``notebook_outputs``, ``quick``).
- ``ad_runs.py``: the AD notebooks' shared steps: a shipped AD config trained once (QUICK: tiny,
  every time) and reused, and its held-out subjects with their true atrophy maps.
- ``templates/``: the student workspace, one file per exercise, written by ``vaegan exercises init``.
- ``catalogue.py``: the exercises, each with its numerical checks against the shipped implementation
  (built from ``compare.py``: same config, same weights, same seed, same numbers).
- ``workspace.py``: writing a workspace from the templates, loading it, checking it, the scoreboard.
- ``contract.py``: the model contract checks (also ``vaegan check-model``).
"""

from vaegan.exercises.notebook import notebook_dir, notebook_outputs, quick

__all__ = ["notebook_dir", "notebook_outputs", "quick"]
