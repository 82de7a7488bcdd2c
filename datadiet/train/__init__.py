"""Training engine: K seeds as one sharded ensemble, optax schedules, checkpoints, metrics."""
