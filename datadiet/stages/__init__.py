"""The data-diet pipeline's stages: pretrain → score → prune → retrain → report."""
