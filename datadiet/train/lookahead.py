"""Lookahead over the weights *and* the BatchNorm statistics, as airbench trains (K. Jordan 2024).

A slow copy of the network follows the trained ("fast") one: every ``every_steps`` steps it moves
part of the way towards it, ``slow ← slow + (1 − d_t)(fast − slow)``, and the fast network
restarts from it (``fast ← slow``). The decay ``d_t = decay · (t / T)^power`` is 0 early in a run
of ``T`` steps (the slow copy jumps to the fast one) and grows towards ``decay`` at the end; the
run ends on the slow copy (``fast ← slow`` at step ``T``). airbench: every 5 steps, decay
0.95⁵, power 3.

Hand-written rather than ``optax.lookahead``: that one averages parameters only, with a fixed
step size, while this recipe also averages the BatchNorm statistics (which the optimizer never
sees) with a decay that follows the schedule. The slow copy is part of the ensemble state
(checkpointed: a resumed run continues bit-identically).

Example::

  lookahead = Lookahead(every_steps=5, decay=0.95**5, power=3.0, total_steps=476)
  slow = lookahead.init(params, batch_stats)
  slow, params, batch_stats = lookahead.update(slow, params, batch_stats, step)  # in the step
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from datadiet import config_checks, errors


@dataclasses.dataclass(frozen=True)
class Lookahead:
  """The slow copy's cadence and decay over a run of ``total_steps``; ``every_steps=0`` is off."""
  every_steps: int
  decay: float
  power: float
  total_steps: int

  @property
  def enabled(self) -> bool:
    return self.every_steps > 0

  def init(self, params: Any, batch_stats: Any) -> dict:
    """The slow copy at the start (the initial network), or ``{}`` when off."""
    if not self.enabled:
      return {}
    return {'params': params, 'batch_stats': batch_stats}

  def decay_at(self, step: jax.Array) -> jax.Array:
    """``d_t`` at ``step`` (the number of steps taken)."""
    fraction = step.astype(jnp.float32) / self.total_steps
    return self.decay * fraction ** self.power

  def update(self, slow: dict, params: Any, batch_stats: Any,
             step: jax.Array) -> tuple[dict, Any, Any]:
    """``(slow, params, batch_stats)`` after training step number ``step`` (1-based, traced):
    the slow copy moves and the network restarts from it on every ``every_steps``-th step, and
    the network becomes the slow copy at the last step."""
    if not self.enabled:
      return slow, params, batch_stats
    fast = {'params': params, 'batch_stats': batch_stats}
    moves = step % self.every_steps == 0
    weight = jnp.where(moves, 1.0 - self.decay_at(step), 0.0)
    # slow + w·(fast − slow): exact for w = 0 (the slow copy stays) and for equal leaves.
    slow = jax.tree.map(lambda s, f: (s + weight.astype(s.dtype) * (f - s)).astype(s.dtype),
                        slow, fast)
    restart = moves | (step >= self.total_steps)
    fast = jax.tree.map(lambda s, f: jnp.where(restart, s, f), slow, fast)
    return slow, fast['params'], fast['batch_stats']

  @classmethod
  def off(cls) -> Lookahead:
    """No slow copy: :meth:`update` returns the network as it is."""
    return cls(0, 0.0, 0.0, 1)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, total_steps: int) -> Lookahead:
    """``config.optim.lookahead`` over a run of ``total_steps`` (off in configs without it).

    Raises:
      InputError: a cadence that is not a non-negative integer or exceeds the run (the slow
        copy would never move, and the run would end on its initial weights), a decay outside
        [0, 1], or a negative power.
    """
    options = config.optim.get('lookahead', None)
    if options is None:
      return cls.off()
    every = options.every_steps
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
      raise errors.InputError(f'config.optim.lookahead.every_steps must be an integer >= 0 (0: '
                              f'off), got {every!r}.')
    if every > total_steps:
      raise errors.InputError(
          f'config.optim.lookahead.every_steps {every} exceeds the run\'s {total_steps} steps: '
          'the slow copy would never move and the run would end on its initial weights; use at '
          f'most {total_steps} (airbench: 5), or 0 for no lookahead.')
    decay = config_checks.in_interval('optim.lookahead.decay', options.decay, 0, 1)
    power = config_checks.in_interval('optim.lookahead.power', options.power, 0, float('inf'))
    return cls(every, decay, power, total_steps)
