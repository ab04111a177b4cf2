"""Run abcTau (Zeraati et al. 2022) on one data set; called by benchmarks/abctau_compare.py and
abctau_field.py with the Python of an environment where abcTau's dependencies are installed (abcTau
is its own code, not part of this project). abcTau imports its modules by bare name, so both its
source checkout SRC and SRC/abcTau go on PYTHONPATH (the callers set it, see ``abctau_env``):

    PYTHONPATH=SRC:SRC/abcTau python abctau_run.py DATA.npy KIND OUT_DIR [--min-samples 100] [--steps 20] [--min-acc-rate 0.01] [--disp 1.5]

KIND: ou1 | poisson1 | ou2 | poisson2 | gamma2 (the generative model abcTau fits). DATA.npy is (trials, bins).
--prior-max: the upper end of the uniform prior of a one-timescale model (default 60, its examples').
Writes OUT_DIR/inter.npy after every ABC step (abcTau's own intermediate record), so a run stopped
by a time limit still says how far it got.
"""

import argparse
import os
import sys
import warnings

import numpy as np
from scipy import stats

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("kind")
p.add_argument("out")
p.add_argument("--min-samples", type=int, default=100)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--min-acc-rate", type=float, default=0.01)
p.add_argument("--disp", type=float, default=None)
p.add_argument("--max-lag", type=int, default=None)
p.add_argument("--prior-max", type=float, default=60.0)
args = p.parse_args()

np.warnings = warnings  # removed from NumPy 1.24; abcTau still calls np.warnings.filterwarnings
try:
    import abcTau
    from simple_abc_general import pmc_abc
except ImportError as exc:
    print(f"abctau_run.py: {exc}; put abcTau's checkout SRC and SRC/abcTau on PYTHONPATH", file=sys.stderr)
    raise SystemExit(2) from None

data = np.load(args.data)
max_lag = args.max_lag or {"ou1": 50, "poisson1": 50, "ou2": 110, "poisson2": 110, "gamma2": 110}[args.kind]
data_ac, data_mean, data_var, T, n_trials = abcTau.preprocessing.extract_stats(
    data, 1, 1, "comp_ac_fft", True, max_lag)
if args.kind in ("ou1", "poisson1"):
    prior = [stats.uniform(loc=0, scale=args.prior_max)]
    gen = {"ou1": "oneTauOU", "poisson1": "oneTauOU_poissonSpikes"}[args.kind]
else:
    prior = [stats.uniform(loc=0, scale=60), stats.uniform(loc=20, scale=120), stats.uniform(loc=0, scale=1)]
    gen = {"ou2": "twoTauOU", "poisson2": "twoTauOU_poissonSpikes", "gamma2": "twoTauOU_gammaSpikes"}[args.kind]
generator = getattr(abcTau.generative_models, gen)


class Model(abcTau.Model):
    def __init__(self):
        pass

    def draw_theta(self):
        return [q.rvs() for q in self.prior]

    def generate_data(self, theta):
        extra = (args.disp,) if args.kind == "gamma2" else ()
        syn, n_bins = generator(theta, 1, 1, T, n_trials, data_mean, data_var, *extra)
        return abcTau.summary_stats.comp_sumStat(syn, "comp_ac_fft", True, 1, 1, T, n_bins, max_lag)

    def summary_stats(self, d):
        return d

    def distance_function(self, d, s):
        if np.nansum(s) <= 0:
            return 10**4
        return abcTau.distance_functions.linear_distance(d, s)


model = Model()
model.set_prior(prior)
model.set_data(data_ac)
os.makedirs(args.out, exist_ok=True)
pmc_abc(model, data_ac, args.out + "/", "inter", epsilon_0=1, min_samples=args.min_samples, steps=args.steps,
        parallel=False, n_procs=1, minAccRate=args.min_acc_rate)
print("abcTau finished")
