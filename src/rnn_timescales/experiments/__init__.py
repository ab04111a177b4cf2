"""Experiments at scale: sweeps of many runs (:mod:`.sweep`, executed by :mod:`.backends`), the
report that aggregates them into figures and one HTML page (:mod:`.report`), and experiments that
train a set of configurations and tabulate them (:mod:`.compare_models`); the result tables of
sweeps (:mod:`.results`, with every sweep analysis's tables gathered by :mod:`.run_tables`)."""
