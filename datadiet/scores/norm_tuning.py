"""Which exact per-example norm a Dense/Conv layer uses: ghost or materialised, by FLOPs or by
measured time on this backend.

FLOPs predict the winner on a CPU, but not on a GPU, where the ghost norm's ``T × T`` Gram
matrices and the materialised form's ``K × C`` products run at very different efficiencies
(memory-bound batched matmuls against tensor-core GEMMs, and bfloat16 halves one but not the
other). ``'measure'`` compiles both forms for the layer's exact shapes and dtypes on the default
backend, times them, and keeps the faster; each geometry is timed once per process.
``'auto'`` is ``'measure'`` on GPU/TPU and the FLOPs rule on CPU (measured there to pick
well, and cheaper to decide).

Both forms are exact, so the choice changes the speed, never the scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Literal

import jax
import jax.numpy as jnp

from datadiet.scores import layer_norms

TuningMethod = Literal['auto', 'ghost', 'materialize', 'measure', 'flops']
TUNING_METHODS = ('auto', 'ghost', 'materialize', 'measure', 'flops')
_REPEATS = 5
_measured: dict[Hashable, str] = {}


def _seconds(fn: Callable, args: tuple) -> float:
  """Best of a few calls of the compiled ``fn`` (after a warm-up)."""
  compiled = jax.jit(fn).lower(*args).compile()
  jax.block_until_ready(compiled(*args))
  best = float('inf')
  for _ in range(_REPEATS):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    best = min(best, time.perf_counter() - start)
  return best


def measured_method(make_sq_norms: Callable[[str], Callable], inputs: jax.ShapeDtypeStruct,
                    output_grads: jax.ShapeDtypeStruct, key: Hashable) -> str:
  """'ghost' or 'materialize', whichever ``make_sq_norms(method)(inputs, output_grads)`` runs
  faster on the default backend for these shapes (cached under ``key`` and the shapes)."""
  cache_key = (jax.default_backend(), key, inputs.shape, str(inputs.dtype),
               output_grads.shape, str(output_grads.dtype))
  if cache_key not in _measured:
    args = (jnp.ones(inputs.shape, inputs.dtype), jnp.ones(output_grads.shape,
                                                           output_grads.dtype))
    times = {method: _seconds(make_sq_norms(method), args)
             for method in ('ghost', 'materialize')}
    _measured[cache_key] = min(times, key=times.get)
  return _measured[cache_key]


def choose(method: TuningMethod, make_sq_norms: Callable[[str], Callable],
           inputs: jax.ShapeDtypeStruct, output_grads: jax.ShapeDtypeStruct, kernel_inputs: int,
           key: Hashable) -> str:
  """The form one layer uses.

  Args:
    method: 'ghost' / 'materialize' (forced), 'flops' (the cheaper by FLOPs), 'measure' (the
      faster on this backend), or 'auto' ('measure' on GPU/TPU, 'flops' on CPU).
    make_sq_norms: ``method -> (inputs, output_grads) -> (batch,)`` for this layer.
    inputs, output_grads: the layer's input (as the kernel sees it) and output shapes.
    kernel_inputs: input entries per kernel column (``k² · C_in`` for a convolution).
    key: what else identifies the layer's computation (its geometry).
  """
  if method not in TUNING_METHODS:
    raise ValueError(f'Unknown norm method {method!r}; valid: {", ".join(TUNING_METHODS)}.')
  if method == 'auto':
    method = 'flops' if jax.default_backend() == 'cpu' else 'measure'
  if method == 'measure':
    return measured_method(make_sq_norms, inputs, output_grads, key)
  positions = 1
  for size in output_grads.shape[1:-1]:
    positions *= size
  return layer_norms.choose_method(positions, kernel_inputs, output_grads.shape[-1],
                                   'auto' if method == 'flops' else method)
