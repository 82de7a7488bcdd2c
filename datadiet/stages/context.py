"""What every stage of one experiment shares: config, workdir layout, data and labels."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np

from datadiet.data import noise, pipeline, sources
from datadiet.score_files import write_npz_atomic


def write_json_atomic(path: Path, value: Any) -> None:
  """Writes JSON so that ``path`` holds the old content or the complete new one."""
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f'.{path.name}.tmp')
  with open(tmp, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True)
    f.flush()
    os.fsync(f.fileno())
  tmp.replace(path)


@dataclasses.dataclass
class Context:
  """One experiment: its config, its directory and its (possibly noisy) training data."""
  config: ml_collections.ConfigDict
  workdir: Path

  @functools.cached_property
  def data(self) -> sources.Dataset:
    return sources.load(self.config.dataset, data_dir=self.config.get('data_dir'))

  @functools.cached_property
  def noise(self) -> tuple[np.ndarray, np.ndarray]:
    """``(training labels, is_noisy)``; saved by id in ``label_noise.npz`` when noise is on."""
    labels = self.data.train['label']
    if not self.config.label_noise_fraction:
      return labels, np.zeros(len(labels), bool)
    noisy, is_noisy = noise.corrupt_labels(labels, self.config.label_noise_fraction,
                                           self.data.num_classes, self.config.label_noise_seed)
    path = self.workdir / 'label_noise.npz'
    if not path.exists():
      write_npz_atomic(path, ids=self.data.train['id'], noisy_label=noisy, is_noisy=is_noisy,
                       true_label=labels)
    return noisy, is_noisy

  @property
  def train_labels(self) -> np.ndarray:
    return self.noise[0]

  @functools.cached_property
  def normalized_train_images(self) -> np.ndarray:
    return pipeline.normalize(self.data.train['image'],
                              pipeline.channel_stats(self.data.train['image']))

  @property
  def pretrain_dir(self) -> Path:
    return self.workdir / 'pretrain'

  @property
  def scores_dir(self) -> Path:
    return self.workdir / 'scores'

  @property
  def subsets_dir(self) -> Path:
    return self.workdir / 'subsets'

  @property
  def retrain_dir(self) -> Path:
    return self.workdir / 'retrain'

  def score_path(self, score: str, step: int) -> Path:
    return self.scores_dir / f'{score}@{step}.npz'
