"""The Optuna sampler behind a search, by name (or an Optuna sampler object as is)."""

from __future__ import annotations

import functools

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


@functools.cache
def _nsga2_class():
    import optuna

    class NSGAIISampler(optuna.samplers.NSGAIISampler):
        """Optuna's NSGA-II, keeping each generation's parent population once found: Optuna finds
        it again for every trial it samples by scanning all the study's trials (the largest cost
        of a long search, and one that grew with it: 6 ms a trial at 7,500 trials). The parents of
        a generation never change once chosen (Optuna stores their ids with the study)."""

        def get_parent_population(self, study, generation: int) -> list:
            memo = self.__dict__.setdefault("_parents_memo", {})
            key = (study._study_id, generation)
            if key in memo:
                return memo[key]
            parents = super().get_parent_population(study, generation)
            while len(memo) >= 4:  # only the latest generations are asked for
                memo.pop(next(iter(memo)))
            # later calls get them as Optuna's own later calls do: in the study's trial order
            memo[key] = sorted(parents, key=lambda t: t.number)
            return parents

    return NSGAIISampler


def make_sampler(sampler, *, seed, population_size, grid_size):
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "nsga2":
        return _nsga2_class()(population_size=population_size, seed=seed)
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "grid":
        return _grid_sampler_class()({"point": list(range(grid_size))}, seed=seed)
    raise SearchError(f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)} or an optuna sampler object")
