"""The dynamics of a trained network as a map h -> F(h, x): Jacobians and their timescales, the
speed q, and the slow-point finder (docs/science.md). Used by training (the speed regulariser of
[H19]) and by the studies; nothing here reads or writes files of a run."""
