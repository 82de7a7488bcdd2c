"""The architectures a config can name (``config.model.name``): the one list of them, and what
every one of them returns.

Each architecture's module registers it beside its definition (``register('mlp', MLP)``);
:mod:`datadiet.models` imports the modules, in the order the registry lists them. An
architecture is a linen module (or a ``functools.partial`` of one) that takes ``num_classes``
and ``dtype`` and returns :func:`float_logits`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp

from datadiet.registries import Registry


@dataclasses.dataclass(frozen=True)
class Architecture:
  """A registered architecture: its name and the linen module (or partial) that builds it."""
  name: str
  build: Callable[..., nn.Module]


MODELS: Registry[Architecture] = Registry('model', 'models')


def register(name: str, build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
  """Registers ``build`` as the architecture ``name`` (new); returns ``build``."""
  MODELS.register(Architecture(name, build))
  return build


def float_logits(logits):
  """Logits in at least float32 (bfloat16 → float32; float64 stays float64)."""
  return logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
