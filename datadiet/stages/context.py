"""What every stage of one experiment shares: config, workdir layout, data and labels."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np

from datadiet import atomic_files, score_files
from datadiet.data import dataset, noise, normalization, sources


@dataclasses.dataclass
class Context:
  """One experiment: its config, its directory and its (possibly noisy) training data."""
  config: ml_collections.ConfigDict
  workdir: Path | None  # None: only planning (preflight), nothing is read or written.
  # Whether a finished stage ran again in this launch (set by
  # :func:`datadiet.experiment.run_stage`): the finished stages after it run again too.
  reopened: bool = dataclasses.field(default=False, init=False)

  @functools.cached_property
  def data(self) -> dataset.Dataset:
    return sources.for_config(self.config)

  @functools.cached_property
  def noise(self) -> tuple[np.ndarray, np.ndarray]:
    """``(training labels, is_noisy)``; saved by id in ``label_noise.npz`` when noise is on."""
    return noise.training_labels(self.config, self.data, self.workdir)

  @property
  def train_labels(self) -> np.ndarray:
    return self.noise[0]

  @functools.cached_property
  def normalized_train_images(self) -> np.ndarray:
    return normalization.normalize(self.data.train['image'],
                                   normalization.channel_stats(self.data.train['image']))

  @property
  def score_models(self) -> list[str]:
    """Architectures pretrained and scored: ``config.model.name`` first, then
    ``scores.compare_models``."""
    extra = [m for m in self.config.scores.compare_models if m != self.config.model.name]
    return [self.config.model.name] + list(dict.fromkeys(extra))

  def _suffix(self, model: str | None) -> str:
    # The scoring model keeps the plain names; other architectures get their own directories.
    return '' if model in (None, self.config.model.name) else f'_{model}'

  def pretrain_dir_for(self, model: str | None = None) -> Path:
    return self.workdir / f'pretrain{self._suffix(model)}'

  def scores_dir_for(self, model: str | None = None) -> Path:
    return self.workdir / f'scores{self._suffix(model)}'

  @property
  def pretrain_dir(self) -> Path:
    return self.pretrain_dir_for()

  @property
  def scores_dir(self) -> Path:
    return self.scores_dir_for()

  @property
  def subsets_dir(self) -> Path:
    return self.workdir / 'subsets'

  @property
  def retrain_dir(self) -> Path:
    return self.workdir / 'retrain'

  def score_step(self, step: int | None = None) -> int:
    """``step``, or when it is None the last scoring step (what every "at step" field
    defaults to)."""
    return max(self.config.scores.steps) if step is None else step

  def once(self, path: Path, compute: Callable[[], Any]) -> Any:
    """The JSON value at ``path``: computed, written atomically and read back the first time,
    read on every later call and relaunch (so both return the same thing)."""
    if not path.exists():
      atomic_files.write_json(path, compute())
    return json.loads(path.read_text())

  def settings_dir(self, name: str, settings: dict[str, Any]) -> Path:
    """``<workdir>/<name>/<digest of settings>``, with the settings beside the results in
    ``settings.json``: an analysis continued with other settings that decide its results (a
    score, a validation split) computes into a new directory instead of reusing the old
    results, which its per-item names alone would match."""
    text = json.dumps(settings, sort_keys=True)
    directory = self.workdir / name / hashlib.sha256(text.encode()).hexdigest()[:12]
    atomic_files.write_json(directory / 'settings.json', settings)
    return directory

  def score_path(self, score: str, step: int, model: str | None = None) -> Path:
    return self.scores_dir_for(model) / f'{score}@{step}.npz'

  def mean_score(self, score: str, step: int | None = None,
                 model: str | None = None) -> np.ndarray:
    """The K-seed mean ``score`` at ``step`` (default: the last scoring step) of ``model``
    (default: the run's own, ``model.name``), aligned to the training split; the file is checked
    to be that score of this dataset, step, model and seeds."""
    step = self.score_step(step)
    return score_files.load_scores(self.score_path(score, step, model), ids=self.data.train['id'],
                                   dataset=self.data.name, score=score, step=step,
                                   model=model or self.config.model.name,
                                   seeds=self.config.pretrain.seeds).score

  def with_retrain_budget(self, steps: int) -> 'Context':
    """The same experiment (workdir, data, labels, scores) retraining ``steps`` steps per run
    (``retrain.budget_steps``), for analyses that retrain at other budgets."""
    config = self.config.copy_and_resolve_references()
    with config.unlocked():
      config.retrain.budget_steps = int(steps)
    other = Context(config, self.workdir)
    for cached in ('data', 'noise'):  # What this context has loaded already, not reloaded.
      if cached in self.__dict__:
        other.__dict__[cached] = self.__dict__[cached]
    return other

  def with_label_noise(self, fraction: float) -> 'Context':
    """The same experiment with ``fraction`` of the training labels corrupted: this context if
    that is its own noise level, else one in ``<workdir>/label_noise_<fraction>/`` (its own
    pretraining, scores and analyses), for analyses that compare clean and noisy labels."""
    if fraction == self.config.data.label_noise_fraction:
      return self
    config = self.config.copy_and_resolve_references()
    with config.unlocked():
      config.data.label_noise_fraction = float(fraction)
    workdir = None if self.workdir is None else self.workdir / f'label_noise_{fraction:g}'
    return Context(config, workdir)
