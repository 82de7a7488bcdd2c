"""Empirical NTK Gram matrices of blocks of examples, and their velocity between checkpoints
(Fort et al. 2020; the paper's "stable representation subspaces").

For a block of B examples and a network with K logits f_k(x; θ), the Gram matrix combines the K
logits by their trace:

  G_ij = Σ_k ⟨∂f_k(x_i)/∂θ, ∂f_k(x_j)/∂θ⟩,

a B × B matrix (for a linear model f(x) = x W it is K · X Xᵀ). Its *velocity* between two
checkpoints is the cosine distance 1 − ⟨G, G′⟩_F / (‖G‖_F ‖G′‖_F): 0 when the kernel only
rescales.

``method='vector_products'`` (default) never forms the (B·K) × #params Jacobian J: it linearises
the block's forward pass once and, for each of the B·K one-hot cotangents e, applies J Jᵀ e (a
transposed linear pass, then a linear pass, both reusing the forward's residuals), keeping only
the entries that pair logit k with logit k. Memory is the forward's residuals plus
``chunk_size`` parameter-sized vectors; the cost is B·K pairs of passes over the block. The
``'jacobian'`` method materialises J (memory B·K·#params) and is there as a reference for small
models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

METHODS = ('vector_products', 'jacobian')


def block_gram(logits_fn: Callable[[Any, jax.Array], jax.Array], params: Any,
               inputs: jax.Array, *, method: str = 'vector_products',
               chunk_size: int | None = 16) -> jax.Array:
  """The (B, B) logit-trace NTK Gram matrix of ``inputs`` under ``logits_fn(params, inputs)``.

  Args:
    logits_fn: ``(params, inputs) -> (B, K)`` logits (e.g. a model's apply in eval mode).
    params: the parameters to differentiate (a pytree).
    inputs: a block of B examples.
    method: ``'vector_products'`` (bounded memory) or ``'jacobian'`` (reference).
    chunk_size: cotangents processed together by ``'vector_products'`` (memory ×chunk_size
      parameter vectors); ``None`` processes all B·K at once.
  """
  if method not in METHODS:
    raise ValueError(f'Unknown NTK method {method!r}; valid: {", ".join(METHODS)}.')
  logits_of = lambda p: logits_fn(p, inputs)
  if method == 'jacobian':
    jac = jax.jacrev(logits_of)(params)  # Leaves (B, K, *param_shape).
    return sum(jnp.einsum('ik...,jk...->ij', leaf, leaf) for leaf in jax.tree.leaves(jac))

  logits, jvp = jax.linearize(logits_of, params)
  vjp = jax.linear_transpose(jvp, params)
  num_examples, num_logits = logits.shape

  def column(flat_index):  # Cotangent e_(j, k): returns G's column j, logit k's term.
    cotangent = jax.nn.one_hot(flat_index, num_examples * num_logits, dtype=logits.dtype)
    jj_t_e = jvp(vjp(cotangent.reshape(num_examples, num_logits))[0])  # (B, K)
    return jj_t_e[:, flat_index % num_logits]

  columns = jax.lax.map(column, jnp.arange(num_examples * num_logits), batch_size=chunk_size)
  return columns.reshape(num_examples, num_logits, num_examples).sum(1)


def velocity(gram: jax.Array, next_gram: jax.Array) -> jax.Array:
  """Cosine distance between two Gram matrices: 0 for the same kernel up to scale."""
  inner = jnp.vdot(gram, next_gram)
  return 1.0 - inner / (jnp.linalg.norm(gram) * jnp.linalg.norm(next_gram))
