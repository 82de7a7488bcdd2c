"""datadiet: find the important examples of a training set early in training, prune the rest.

An implementation of Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet" (NeurIPS 2021).
"""
