"""The data-diet pipeline's stages: pretrain → score → prune → retrain → [analyses] → report.

Each module registers its stage(s) in :mod:`datadiet.stages.registry` where it defines them;
they are imported here in pipeline order, which is the order the registry holds them in.
"""

# pylint: disable=unused-import
# ruff: noqa: F401
from datadiet.stages import pretrain_and_score  # pretrain, score
from datadiet.stages import prune
from datadiet.stages import retrain
# Training dynamics (the paper's section 5) and when keeping the hardest pays: between retrain
# and report, which adds their sections.
from datadiet.stages import offset_sweep
from datadiet.stages import ccs_cutoff_sweep
from datadiet.stages import budget_sweep
from datadiet.stages import error_barrier
from datadiet.stages import ntk_velocity
from datadiet.stages import report
