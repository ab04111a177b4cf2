"""One module per analysis a user runs, each the same four steps: validated settings -> run (on a
network or a run directory) -> result (tables) -> write (an output directory, all at once, with
its figures). The command line (:mod:`rnn_timescales.cli`) and the sweeps call these.

- :mod:`.analyze`: timescales, dimensionality and Jacobian timescales of checkpoints (``analyze``).
- :mod:`.evaluate`: per-head accuracy of a network (``evaluate``).
- :mod:`.robustness`: perturbation, ablation, forgetting, continuous time, retraining (``robustness``).
- :mod:`.retraining`: the robustness analyses that train (run directories of their own).
- :mod:`.slow_points`: slow and fixed points of a checkpoint (``slow-points``).
- :mod:`.extrapolate`: delayed recall beyond the trained delays (``extrapolate``).
- :mod:`.speed_regularization`: fine-tuning with and without the speed term (``speed-regularization``).
- :mod:`.compare_models`: leaky RNN, GRU and LSTM under two curricula (``compare-models``).
- :mod:`.recorded_timescales`: timescales of any activity from files, with intervals (``timescales``).
- :mod:`.reproduction`: the reproduction's per-network timescale rows (a sweep analysis).
- :mod:`.per_run`: how a sweep runs a study on each run's latest network (one staleness rule).
"""
