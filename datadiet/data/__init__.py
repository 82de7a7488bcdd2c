"""Data: datasets by name with stable example ids, tf.data pipelines, label noise."""
