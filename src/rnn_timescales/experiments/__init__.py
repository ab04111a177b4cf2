"""Experiments across several runs: each trains a set of configurations and tabulates them."""
