"""Training dynamics through the lens of important examples (the paper's section 5): score
diagnostics, NTK velocity by score rank, and linear-mode-connectivity error barriers."""
