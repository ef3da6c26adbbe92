"""The Optuna sampler behind a search, by name (or an Optuna sampler object as is)."""

from __future__ import annotations

from edgespace.study._errors import SearchError

__all__ = ["SAMPLERS", "make_sampler", "default_batch_size"]

SAMPLERS = ("nsga2", "tpe", "random", "grid")
#: Trials asked per batch when ``batch_size`` is not given (NSGA-II: one generation).
_DEFAULT_BATCH = {"tpe": 8, "random": 256, "grid": 256}


def default_batch_size(sampler, population_size: int) -> int:
    return population_size if sampler == "nsga2" else _DEFAULT_BATCH.get(sampler, 32)


def _grid_sampler_class():
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        """Optuna's grid sampler, minus its ``study.stop()`` once the grid is covered (that call
        only works inside ``study.optimize``; the ask-and-tell loop stops by counting)."""

        def after_trial(self, study, trial, state, values) -> None:
            return None

    return GridSampler


def make_sampler(sampler, *, seed, population_size, grid_size):
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "grid":
        return _grid_sampler_class()({"point": list(range(grid_size))}, seed=seed)
    raise SearchError(f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)} or an optuna sampler object")
