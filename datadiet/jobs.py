"""The jobs ``launch.py`` can run, by ``config.job``; each returns a report for the terminal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ml_collections
from absl import logging
import numpy as np

from datadiet import device_memory, errors, experiment, preflight, runtime
from datadiet import workdir as workdirs
from datadiet.data import dataset, sources
from datadiet.stages import registry as stage_registry
from datadiet.stages.context import Context
from datadiet.train import loop


def _train(config: ml_collections.ConfigDict, workdir: Path) -> str:
  with device_memory.one_line_if_out_of_memory(config, 'train'):
    result = loop.train_and_evaluate(config, workdir)
  done = ('already trained: nothing to resume' if result.start_step == result.num_steps
          else f'{result.images_per_second:.0f} images/s over all seeds')
  return (f'Trained seeds {result.seeds} for {result.num_steps} steps ({done}).\n'
          f'test accuracy per seed: {np.round(result.test["accuracy"], 4).tolist()}\n'
          f'Metrics: {workdir / "metrics.jsonl"}, checkpoints: {workdir / "checkpoints"}')


def _pipeline(config: ml_collections.ConfigDict, workdir: Path) -> str:
  experiment.run(config, workdir)
  summary = workdir / 'summary.md'
  if not summary.exists():
    return f'Stages {list(config.stages)} done; outputs in {workdir}'
  table = summary.read_text().split('\n![')[0].rstrip()  # Up to the first plot.
  return f'{table}\n\nFull summary (plots, score correlations, histograms): {summary}'


JOBS: dict[str, Callable[[ml_collections.ConfigDict, Path], str]] = {
    'train': _train,
    'pipeline': _pipeline,
}


def run(config: ml_collections.ConfigDict, workdir: str | Path,
        continue_with_changed_config: bool = False) -> str:
  """Runs the job named by ``config.job`` (in every process of a multi-process run)."""
  if config.job not in JOBS:
    raise errors.InputError(f'Unknown job {config.job!r}; valid jobs: {", ".join(JOBS)}.')
  runtime.initialize_distributed(config)
  preflight.check(config)  # Before the workdir is touched.
  # Outside the workdir: checked before it.
  if Path(config.runtime.compilation_cache_dir or '.').is_absolute():
    runtime.make_compilation_cache_dir(Path(config.runtime.compilation_cache_dir))
  if config.job == 'pipeline' and workdir and Path(workdir).is_dir():
    existing = Context(config, Path(workdir))  # Read only: nothing is written before the claim.
    for stage in stage_registry.configured(config.stages):
      if stage.check_workdir is not None:
        stage.check_workdir(existing)
  fingerprint = dataset.fingerprint(sources.for_config(config))  # Loaded once: preflight's.
  if workdir and Path(workdir).is_dir():
    workdirs.check_dataset(workdir, fingerprint)
  workdir = workdirs.claim(workdir, config, stage_registry.reads,
                           allow_config_change=continue_with_changed_config)
  workdirs.record_dataset(workdir, fingerprint)
  # The whole config is in the workdir, not on the terminal (launch.py --print_config shows it).
  logging.info('Config: %s', Path(workdir) / 'config.json')
  runtime.enable_compilation_cache(runtime.compilation_cache_dir(config, workdir))
  return JOBS[config.job](config, workdir)
