"""``rnn-timescales extrapolate``: delayed recall beyond the delays a network was trained on
(docs/slow_points.md), written as a table and its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from rnn_timescales.io import OutputDir
from rnn_timescales.plots.figures import plot_extrapolation
from rnn_timescales.studies.contract import Study

TABLE = "extrapolation.csv"
FIGURE = "extrapolation.png"
OUTPUT = OutputDir("extrapolation", marker=TABLE, kind="an extrapolation")


def write_extrapolation(tables: Sequence[pd.DataFrame], out: str | Path) -> dict[str, Path]:
    """Write ``extrapolation.csv`` (the tables, one after the other) and ``extrapolation.png``
    (every network on one figure) into the directory ``out``, all at once (a previous
    extrapolation there is replaced; a directory holding anything else is refused). Returns the
    paths written, under ``table`` and ``figure``."""
    table = pd.concat(list(tables), ignore_index=True)

    def fill(tmp: Path) -> None:
        table.to_csv(tmp / TABLE, index=False)
        fig = plot_extrapolation(table)
        try:
            fig.savefig(tmp / FIGURE, dpi=150)
        finally:
            plt.close(fig)

    OUTPUT.write(out, fill)
    return {"table": Path(out) / TABLE, "figure": Path(out) / FIGURE}


STUDY = Study("extrapolate", "delayed-recall accuracy beyond the trained delays", None, (TABLE,), (FIGURE,),
              "Delayed recall")
