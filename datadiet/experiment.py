"""The data-diet pipeline: pretrain → score → prune → retrain → report, each stage resumable.

The stages are those of :mod:`datadiet.stages.registry`, in its order; ``config.stages`` selects
which run. The analyses ``offset_sweep``, ``ccs_cutoff_sweep``, ``error_barrier`` and
``ntk_velocity`` run between retrain and report when named there; the report adds their
sections.

A stage that finishes writes ``stages/<stage>.done``; a relaunch skips finished stages, and an
interrupted stage resumes where it stopped (its per-item outputs are written atomically and
skipped when present). A finished stage runs again, keeping what it finds and computing what is
missing, after a change of a config block it reads (``--continue_with_changed_config``), when it
owes an output (a scoring step's checkpoint moved aside), or after an earlier stage ran again.

Example::

  python launch.py --config configs/default.py --workdir /tmp/dd
"""

from __future__ import annotations

from pathlib import Path

import ml_collections

from datadiet.stages import registry
from datadiet.stages.context import Context


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> Context:
  """Runs the selected stages in pipeline order, skipping those already done."""
  ctx = Context(config, Path(workdir))
  for stage in registry.configured(config.stages):
    ctx.run_stage(stage)
  return ctx
