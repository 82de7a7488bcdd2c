"""A run's working directory: created if needed, never deleted, bound to one config.

The first launch writes ``config.json``; a later launch into the same directory must carry the
same config (it then resumes), otherwise it is refused before anything is touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections


class WorkdirConfigMismatchError(ValueError):
  """The workdir holds the results of a different config."""


def claim(workdir: str | Path, config: ml_collections.ConfigDict) -> Path:
  """Creates ``workdir`` or checks that it belongs to ``config``; returns it as a Path."""
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  config_path = workdir / 'config.json'
  wanted = json.loads(config.to_json())
  if config_path.exists():
    found = json.loads(config_path.read_text())
    if found != wanted:
      changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
      raise WorkdirConfigMismatchError(
          f'{workdir} holds results of a different config (differs in {changed}). Use a new '
          '--workdir; existing results are never overwritten.')
    return workdir
  tmp = config_path.with_suffix('.json.tmp')
  tmp.write_text(json.dumps(wanted, indent=2, sort_keys=True))
  tmp.replace(config_path)
  return workdir
