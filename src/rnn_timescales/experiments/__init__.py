"""Experiments at scale: sweeps of many runs (:mod:`.sweep`, executed by :mod:`.backends`) and
the report that aggregates them into figures and one HTML page (:mod:`.report`)."""
