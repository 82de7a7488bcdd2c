"""Metrics to TensorBoard event files and a JSON-lines file, and a progress line with ETA.

TensorBoard event files need TensorFlow; without it only ``metrics.jsonl`` is written (one
notice per process says so).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from absl import logging

from datadiet import errors, optional_deps

_notified = False


class MetricWriter:
  """Writes ``{name: per-seed values}`` at a step to ``metrics.jsonl`` and TensorBoard.

  Each JSON line is ``{"step": s, "split": "train", "seed": k, "loss": ..., ...}``; TensorBoard
  scalars are named ``<split>/<name>/seed_<k>``.
  """

  def __init__(self, workdir: str | Path, tensorboard: bool = True, enabled: bool = True,
               resume_step: int | None = None):
    """``resume_step``: the run resumes from this checkpoint, so rows logged after it by the
    interrupted run are dropped (the resumed run logs those steps again)."""
    self.workdir = Path(workdir)
    self._jsonl = self._tb = None
    if not enabled:  # Not process 0 of a multi-process run: process 0 writes the metrics.
      return
    self.workdir.mkdir(parents=True, exist_ok=True)
    path = self.workdir / 'metrics.jsonl'
    if resume_step is not None and path.exists():
      kept = [line for line in path.read_text().splitlines(keepends=True)
              if _complete_row_at_or_before(line, resume_step)]
      # Process 0 alone (the others returned above): an atomic rename, no barrier to meet.
      tmp = path.with_name(f'.{path.name}.tmp')
      tmp.write_text(''.join(kept))
      tmp.replace(path)
    self._jsonl = open(path, 'a')
    if tensorboard and not optional_deps.tensorflow_available():
      _notice_no_tensorboard()
    elif tensorboard:
      optional_deps.import_tensorflow()  # Off the GPUs before flax's writer imports it.
      from flax.metrics import tensorboard as flax_tensorboard  # pylint: disable=g-import-not-at-top
      self._tb = flax_tensorboard.SummaryWriter(str(self.workdir / 'tensorboard'))

  def has_rows(self, step: int, split: str) -> bool:
    """Whether ``metrics.jsonl`` already holds ``split``'s rows at ``step`` (always True for a
    disabled writer: it writes nothing anyway)."""
    return self._jsonl is None or logged(self.workdir, step, split)

  def write(self, step: int, split: str, seeds: list[int], values: dict[str, Any]) -> None:
    if self._jsonl is None:
      return
    try:
      self._write(step, split, seeds, values)
    except OSError as e:
      errors.raise_if_unwritable(e, self._jsonl.name)
      raise

  def _write(self, step: int, split: str, seeds: list[int], values: dict[str, Any]) -> None:
    for k, seed in enumerate(seeds):
      row = {'step': int(step), 'split': split, 'seed': int(seed)}
      row.update({name: float(v[k]) for name, v in values.items()})
      self._jsonl.write(json.dumps(row) + '\n')
      if self._tb is not None:
        for name, v in values.items():
          self._tb.scalar(f'{split}/{name}/seed_{seed}', float(v[k]), int(step))
    self._jsonl.flush()
    if self._tb is not None:
      self._tb.flush()

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


def logged(workdir: str | Path, step: int, split: str) -> bool:
  """Whether ``<workdir>/metrics.jsonl`` holds ``split``'s rows at ``step``."""
  path = Path(workdir) / 'metrics.jsonl'
  if not path.exists():
    return False
  with open(path) as f:
    return any(_is_row(line, step, split) for line in f)


def _is_row(line: str, step: int, split: str) -> bool:
  try:
    row = json.loads(line)
    return row['step'] == step and row['split'] == split
  except (ValueError, KeyError, TypeError):
    return False


def _complete_row_at_or_before(line: str, step: int) -> bool:
  try:
    return json.loads(line)['step'] <= step
  except (ValueError, KeyError, TypeError):  # A line cut short by the interruption.
    return False


def _notice_no_tensorboard() -> None:
  global _notified
  if not _notified:
    _notified = True
    logging.warning('TensorFlow is not installed: no TensorBoard event files, metrics go to '
                    f'metrics.jsonl only ({optional_deps.INSTALL_HINT} for TensorBoard).')


class Progress:
  """Logs ``step s/N (p%), images/s, ETA`` at a report, at most every ``every_seconds`` (the
  last step always): a pipeline of many short runs prints a line per run, not one per logged
  step (``metrics.jsonl`` keeps every one).

  Rates count from :meth:`start_clock` (the loop calls it once the first step has run, so that
  compilation is not counted as training time), or from construction.
  """

  def __init__(self, total_steps: int, start_step: int, images_per_step: int, label: str = '',
               every_seconds: float = 10.0):
    self.total = total_steps
    self.start_step = start_step
    self.images_per_step = images_per_step
    self.label = label
    self.every_seconds = every_seconds
    self.start_time = time.perf_counter()
    self.last_logged = float('-inf')

  def start_clock(self, step: int) -> None:
    """Measures rates and the ETA from ``step``, now."""
    self.start_step = step
    self.start_time = time.perf_counter()

  def rate(self, step: int) -> float:
    """Images per second since the clock started (all seeds together)."""
    elapsed = time.perf_counter() - self.start_time
    return (step - self.start_step) * self.images_per_step / max(elapsed, 1e-9)

  def report(self, step: int, extra: str = '') -> str:
    elapsed = time.perf_counter() - self.start_time
    done = step - self.start_step
    eta = elapsed / done * (self.total - step) if done else float('nan')
    line = (f'{self.label}step {step}/{self.total} ({100 * step / max(self.total, 1):.0f}%), '
            f'{self.rate(step):.0f} images/s, ETA {eta:.0f}s {extra}').rstrip()
    now = time.perf_counter()
    if step >= self.total or now - self.last_logged >= self.every_seconds:
      logging.info(line)
      self.last_logged = now
    return line
