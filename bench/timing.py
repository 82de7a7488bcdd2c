"""Timing compiled JAX programs for the benchmarks: median seconds per call, XLA's peak memory.

A benchmark script imports this as ``timing`` (scripts run with ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax


def peak_bytes(compiled) -> int:
  """XLA's buffer assignment for a compiled program: arguments + outputs + temporaries."""
  stats = compiled.memory_analysis()
  return int(stats.argument_size_in_bytes + stats.output_size_in_bytes +
             stats.temp_size_in_bytes - stats.alias_size_in_bytes)


def measure(name: str, fn: Callable, args: tuple, batch: int, *, donate: bool = False,
            min_seconds: float = 10.0, jitted: Callable | None = None,
            next_state: Callable = lambda out: out) -> dict:
  """Compiles ``fn(*args)`` (or takes ``jitted``), then times calls until ``min_seconds`` have
  passed (at least 2); with ``donate`` the first argument is donated and replaced by
  ``next_state(output)`` (a training state). Returns a row with images/s of ``batch``."""
  jitted = jitted or jax.jit(fn, donate_argnums=(0,) if donate else ())
  start = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  compile_seconds = time.perf_counter() - start

  def call(args):
    out = compiled(*args)
    jax.block_until_ready(out)
    return (next_state(out),) + tuple(args[1:]) if donate else args

  args = call(args)  # Warm-up.
  times = []
  while len(times) < 2 or sum(times) < min_seconds:
    start = time.perf_counter()
    args = call(args)
    times.append(time.perf_counter() - start)
  seconds = sorted(times)[len(times) // 2]
  return dict(measurement=name, batch_size=batch, images_per_s=batch / seconds,
              seconds_per_batch=seconds, peak_memory_mib=peak_bytes(compiled) / 2**20,
              compile_seconds=compile_seconds, calls=len(times))
