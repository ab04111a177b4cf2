"""Figure of the abcTau comparison from the ``results.json`` files of benchmarks/abctau_compare.py:
per data set, the true timescales, ours with the 95 % interval, and the 95 % range of abcTau's
accepted samples at the last step it completed.

    python benchmarks/abctau_figure.py OUT.png RESULTS.json [RESULTS.json ...]
"""

import json
import sys

import matplotlib.pyplot as plt
import numpy as np

out, paths = sys.argv[1], sys.argv[2:]
cases: dict = {}
for p in paths:
    for row in json.load(open(p)):
        c = cases.setdefault(row["case"], {"truth": row["truth"]})
        if "ours" in row and ("ours" not in c or "cpu_seconds" not in c["ours"]):
            c["ours"] = row["ours"]  # preferably a run that measured its CPU time
        if "abctau" in row and row["abctau"].get("steps", 0) >= c.get("abctau", {}).get("steps", -1):
            c["abctau"] = row["abctau"]  # the run that got furthest
names = [n for n in ("ou1", "ou2", "poisson2", "gamma2") if n in cases]
fig, axes = plt.subplots(1, len(names), figsize=(3.1 * len(names), 3.0), squeeze=False)
for ax, name in zip(axes[0], names):
    c = cases[name]
    truth = c["truth"]["timescales"]
    for j, t in enumerate(truth):
        ax.axhline(t, color="0.6", ls="--", lw=0.8)
    if "ours" in c:
        est, ci = np.array(c["ours"]["timescales"]), np.array(c["ours"]["intervals"])
        ax.errorbar(np.full(len(est), 0.0), est, yerr=[est - ci[:, 0], ci[:, 1] - est], fmt="o", color="C1",
                    capsize=3, label=f"ours ({c['ours'].get('cpu_seconds', c['ours']['seconds']):.0f} s CPU)")
    a = c.get("abctau", {})
    if "posterior_q" in a:
        q = np.array(a["posterior_q"])[: len(truth)]
        m = np.array(a["posterior_mean"])[: len(truth)]
        ax.errorbar(np.full(len(m), 1.0), m, yerr=[m - q[:, 0], q[:, 1] - m], fmt="s", color="C0", capsize=3,
                    label=f"abcTau, {a['steps']} ABC step(s) in {a['seconds'] / 60:.0f} min")
    else:
        ax.text(1.0, np.mean(truth), "abcTau:\nno step\ncompleted", ha="center", va="center", fontsize=7, color="C0")
    ax.set_xlim(-0.6, 1.6)
    ax.set_xticks([0, 1], ["ours", "abcTau"])
    ax.set_yscale("log")
    ax.set_title(f"{name}: τ = {', '.join(f'{t:g}' for t in truth)}", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
axes[0, 0].set_ylabel("timescale (steps), 95 % range")
fig.tight_layout()
fig.savefig(out, dpi=100)
print("wrote", out)
