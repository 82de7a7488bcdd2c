"""Per-example importance scores as pure, jit-able JAX functions.

Every score maps a fixed-size batch (with a boolean ``mask`` marking padding) to one float32 value
per example, higher meaning harder / more important:

* :func:`el2n`, :func:`loss`, :func:`margin`, :func:`entropy` — from logits;
* :func:`grand` (linen models; fast path with generic fallback), :func:`grand_linen`,
  :func:`grand_generic` (any loss and params pytree);
* :func:`random_score`, :func:`input_norm` — model-free baselines;
* :mod:`forgetting` — a tracker updated from the training loop;
* :func:`over_seeds` — any score over a stack of K models: per-seed values and their mean.

Example::

  from datadiet import scores
  per_seed, mean = scores.over_seeds(
      lambda v, x, y, m: scores.el2n(model.apply(v, x, train=False), y, m),
      stacked_variables, images, labels, mask)
"""

# Each module registers its scores beside their functions: imported here in the order the
# registry lists them (logit scores, GraNd, the baselines, then the training-time ones).
from datadiet.scores.logit_scores import el2n, entropy, l1_error, loss, margin, prob_margin
from datadiet.scores.grand import grand, grand_generic, linen_example_loss
from datadiet.scores.baselines import input_norm, random_score
from datadiet.scores import forgetting
from datadiet.scores import aum  # noqa: F401  (registers aum)
from datadiet.scores import accumulated  # noqa: F401  (registers el2n_sum, loss_sum, ...)
from datadiet.scores.grand_linen import SUPPORTED_LAYERS, UnsupportedModelError, grand_linen
from datadiet.scores.losses import softmax_cross_entropy
from datadiet.seed_axis import over_seeds, stack_seeds  # The scoring form of the seed axis.

__all__ = [
    'SUPPORTED_LAYERS', 'UnsupportedModelError', 'el2n', 'entropy', 'forgetting', 'grand',
    'grand_generic', 'grand_linen', 'input_norm', 'l1_error', 'linen_example_loss', 'loss',
    'margin', 'over_seeds', 'prob_margin', 'random_score', 'softmax_cross_entropy',
    'stack_seeds',
]
