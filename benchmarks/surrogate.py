"""The surrogate of the search space: a trial's validation accuracy (mean and noise) and its
seconds as functions of the four hyperparameters, fitted to real trials (`space_trials`).

The mean is a Gaussian process (scikit-learn; an anisotropic Matern 5/2 kernel plus a white
noise term) over the hyperparameters scaled to [0, 1] (the learning rate on its log scale, the
optimizer as 0/1): the response is smooth in four dimensions and 200 points are few, the
setting in which GPs beat forests as surrogates (Eggensperger et al., AAAI 2015). The noise of
a trial's score around that mean is measured, not fitted: the pooled spread of configurations
trained at several trial seeds, as a log-linear function of the learning rate (it may grow
with it) and the optimizer. Seconds are a least-squares line in the units and the optimizer.

A random forest can stand in for the GP (`mean="forest"`): a GP truth may favour the Bayesian
oracle, whose own model is a GP, so the simulated verdict is also read on a truth of another
kind, piecewise constant, as surrogate benchmarks do (Eggensperger et al.).

So that median stopping can be replayed, a trial is a *curve*: its val_accuracy at each epoch
before the last, then its score. Each column has its own GP mean and measured noise, and the
columns' noise is correlated as the repeated configurations' deviations are.
"""

import math

import numpy as np

# The search space (`hypermodel.build_model`), as ranges for scaling and the analysis grid.
UNITS = (64, 512, 32)
DROPOUT = (0.1, 0.5, 0.1)
LOG_LR = (-4.0, -2.0)
OPTIMIZERS = ("adam", "rmsprop")
NAMES = ("units", "dropout", "learning_rate", "optimizer")
# The noise's log-linear terms in the scaled learning rate and the optimizer: fitted only
# from this many repeated configurations (of each optimizer), and at most this steep.
MIN_REPEATED = 5
MIN_PER_OPTIMIZER = 2
MAX_SLOPE = 2.0


def features(hyperparameters):
    """Rows of the four hyperparameters scaled to [0, 1], from a list of dicts."""
    return np.array([[(h["units"] - UNITS[0]) / (UNITS[1] - UNITS[0]),
                      (h["dropout"] - DROPOUT[0]) / (DROPOUT[1] - DROPOUT[0]),
                      (math.log10(h["learning_rate"]) - LOG_LR[0]) / (LOG_LR[1] - LOG_LR[0]),
                      OPTIMIZERS.index(h["optimizer"])] for h in hyperparameters], dtype=float)


def grid(lr_points=41):
    """Every configuration of the space on a grid (the learning rate at `lr_points` log-spaced
    values): `(list of dicts, feature rows)`, for the optimum and the functional ANOVA."""
    units = range(UNITS[0], UNITS[1] + 1, UNITS[2])
    dropouts = np.round(np.arange(DROPOUT[0], DROPOUT[1] + 1e-9, DROPOUT[2]), 1)
    rates = np.logspace(*LOG_LR, lr_points)
    configs = [{"units": u, "dropout": float(d), "learning_rate": float(r), "optimizer": o}
               for u in units for d in dropouts for r in rates for o in OPTIMIZERS]
    return configs, features(configs)


class Surrogate:
    """A fitted surrogate: `mean(X)`, `noise_sd(X)`, `seconds(X)` of a trial's score on feature
    rows, and `curves(X, z)` that draws whole trials.

    Args:
        rows: real trials, dicts with `hyperparameters`, `curve` (the val_accuracy of each
            epoch before the last, then the score) and `seconds` (None: not timed alone).
        repeats: `{configuration key: (hyperparameters, [curves at different trial seeds])}`,
            for the noise.
        seed: the GP optimiser's random state, so that a fit is reproducible.
        curves: False fits the score alone (what the held-out validation needs).
        mean: "gp" or "forest", the model of each column's mean (`MEANS`).
    """

    def __init__(self, rows, repeats, seed=0, curves=True, mean="gp"):
        x = features([r["hyperparameters"] for r in rows])
        y = np.array([r["curve"] for r in rows], dtype=float)
        columns = range(y.shape[1]) if curves else [y.shape[1] - 1]
        self.models = [MEANS[mean](x, y[:, k], seed) for k in columns]
        hps = {key: h for key, (h, _) in repeats.items()}
        self.noise = [noise_model({key: [c[k] for c in cs] for key, (_, cs) in repeats.items()},
                                  hps) for k in columns]
        self.correlation = np.eye(len(columns)) if not curves else noise_correlation(
            repeats, self.noise)
        self.factor = np.linalg.cholesky(self.correlation)  # Once, not per simulated trial.
        clean = [r for r in rows if r.get("seconds") is not None]
        xs = features([r["hyperparameters"] for r in clean])
        self.seconds_coef = np.linalg.lstsq(seconds_design(xs), [r["seconds"] for r in clean],
                                            rcond=None)[0]

    def mean(self, x):
        return self.models[-1].predict(np.atleast_2d(x))

    def noise_sd(self, x):
        return column_sd(self.noise[-1], x)

    def seconds(self, x):
        x = np.atleast_2d(x)
        return seconds_design(x) @ self.seconds_coef

    def curves(self, x, z):
        """Simulated trials at feature rows `x`: each column's mean plus its noise, from
        independent standard normal draws `z` (rows x columns) correlated as measured."""
        x = np.atleast_2d(x)
        means = np.column_stack([m.predict(x) for m in self.models])
        sds = np.column_stack([column_sd(n, x) for n in self.noise])
        return means + sds * (np.atleast_2d(z) @ self.factor.T)


def seconds_design(x):
    """The seconds' linear terms at feature rows `x`: a constant, the units, the optimizer."""
    return np.column_stack([np.ones(len(x)), x[:, 0], x[:, 3]])


def gaussian_process(x, y, seed):
    """The GP mean of `y` at feature rows `x` (the kernel of the module docstring)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern([0.5] * 4, (1e-2, 1e2), nu=2.5)
              + WhiteKernel(1e-2, (1e-6, 1.0)))
    return GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=5,
                                    random_state=seed).fit(x, y)


def random_forest(x, y, seed):
    """A random forest's mean of `y` at feature rows `x`."""
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=200, min_samples_leaf=3,
                                 random_state=seed).fit(x, y)


MEANS = {"gp": gaussian_process, "forest": random_forest}


def column_sd(noise, x):
    """The noise sd `exp(a + b * scaled log learning rate + c * optimizer)` of `noise =
    (a, b, c)` at feature rows `x`."""
    a, b, c = noise
    x = np.atleast_2d(x)
    return np.exp(a + b * x[:, 2] + c * x[:, 3])


def noise_correlation(repeats, noise):
    """The correlation of the curve columns' noise: of each repeated configuration's deviations
    from its own mean, each divided by its column's sd there. The identity where the repeats
    cannot estimate a positive-definite one."""
    rows, freedom = [], 0
    for h, curves in repeats.values():
        c = np.asarray(curves, dtype=float)
        if len(c) < 2:
            continue
        sd = np.array([column_sd(n, features([h]))[0] for n in noise])
        rows.extend((c - c.mean(axis=0)) / sd)
        freedom += len(c) - 1  # A configuration's deviations sum to zero: one row less.
    if freedom <= len(noise):
        return np.eye(len(noise))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(np.array(rows).T)
    # A column that never deviates (nan) is uncorrelated with the others.
    r = np.nan_to_num(r, nan=0.0)
    np.fill_diagonal(r, 1.0)
    return r if np.linalg.eigvalsh(r).min() > 1e-9 else np.eye(len(noise))


def noise_model(repeats, repeat_hps):
    """`(a, b, c)` of sd = exp(a + b * scaled log learning rate + c * optimizer (0 Adam,
    1 RMSprop)), by maximum likelihood on the deviations of each repeated configuration's
    scores from their own mean (each config's mean is estimated, so a deviation's variance is
    sd**2 * (n - 1) / n). RMSprop's first epochs swing far more than Adam's, and median
    stopping judges them."""
    from scipy.optimize import minimize

    rows, dev, shrink = [], [], []
    for key, scores in repeats.items():
        scores = np.asarray(scores, dtype=float)
        if len(scores) < 2:
            continue
        x = features([repeat_hps[key]])[0]
        for s in scores - scores.mean():
            rows.append(x), dev.append(s), shrink.append((len(scores) - 1) / len(scores))
    x, dev, shrink = np.array(rows), np.array(dev), np.array(shrink)

    def negative_log_likelihood(params):
        var = np.exp(2 * (params[0] + params[1] * x[:, 2] + params[2] * x[:, 3])) * shrink
        return 0.5 * np.sum(np.log(var) + dev ** 2 / var)

    # A slope only from enough configurations (an optimizer's term only from enough of each),
    # and within a factor e**2: a few repeats would otherwise let the sd run off.
    repeated = [h for key, h in repeat_hps.items() if len(repeats.get(key, ())) > 1]
    per_optimizer = min(sum(h["optimizer"] == o for h in repeated) for o in OPTIMIZERS)
    free = (-MAX_SLOPE, MAX_SLOPE)
    bounds = [(math.log(1e-4), math.log(0.1)),
              free if len(repeated) >= MIN_REPEATED else (0.0, 0.0),
              free if per_optimizer >= MIN_PER_OPTIMIZER else (0.0, 0.0)]
    start = [math.log(max(dev.std(), 1e-4)), 0.0, 0.0]
    return tuple(minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=bounds).x)


def optimum(surrogate):
    """The surrogate's highest mean on the space's grid, and that configuration."""
    configs, x = grid()
    means = surrogate.mean(x)
    best = int(np.argmax(means))
    return float(means[best]), configs[best]


def functional_anova(surrogate, lr_points=41):
    """Each hyperparameter's and each pair's share of the variance of the surrogate's mean over
    the uniform space (on `grid`): `{name or "a x b": share}`, shares of the total."""
    configs, x = grid(lr_points)
    shape = (len(range(UNITS[0], UNITS[1] + 1, UNITS[2])), 5, lr_points, len(OPTIMIZERS))
    f = surrogate.mean(x).reshape(shape)
    total = f.var()
    mean = f.mean()
    axes = range(4)
    main = {i: f.mean(axis=tuple(a for a in axes if a != i)) - mean for i in axes}
    shares = {NAMES[i]: float((main[i] ** 2).mean() / total) for i in axes}
    for i in axes:
        for j in axes:
            if j <= i:
                continue
            pair = f.mean(axis=tuple(a for a in axes if a not in (i, j)))
            inter = pair - mean - main[i][:, None] - main[j][None, :]
            shares[f"{NAMES[i]} x {NAMES[j]}"] = float((inter ** 2).mean() / total)
    return shares
