"""Every figure, one function each, grouped by what shows it: :mod:`.figures` for the studies (one
network or a few: ``analyze``, ``robustness``, ``slow-points``, ``extrapolate``, ``recall-memory``,
``speed-regularization``, ``compare-models``; those of robustness in :mod:`.robustness` and of the
slow-point and delayed-recall studies in :mod:`.slow_points`, all importable from :mod:`.figures`), :mod:`.report` for the HTML report across many
runs, :mod:`.timescales` for ``timescales`` (recorded activity), and :mod:`.reproduction` for the
reproduction's published figures; :mod:`.bands` is the one way all of them draw a mean with its
spread. Functions take tables and arrays and return or save a matplotlib figure; none computes."""
