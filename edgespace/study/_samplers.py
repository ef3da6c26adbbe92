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
        a generation never change once chosen (Optuna stores their ids with the study). Its
        search space is intersected incrementally (:class:`IncrementalIntersection`)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._search_space = IncrementalIntersection()

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


class IncrementalIntersection:
    """Optuna's ``IntersectionSearchSpace`` as NSGA-II uses it: the distributions every
    complete trial shares. Optuna's keeps a cursor at the oldest unfinished
    trial and intersects again, on every trial sampled, every finished trial after it; with
    other workers on the study their RUNNING trials hold the cursor back, and each worker
    re-intersected the trials of the others' batches (17 distribution comparisons a trial) for
    every trial it sampled: a cost that grew with the number of workers. This one intersects
    each complete trial once (it remembers which, by number) and gives the same dictionary; on
    a storage that promises ``fixed_states`` (a batch's snapshot, see
    :mod:`edgespace.study._snapshot`) it looks at the trials once per storage, not per trial."""

    def __init__(self) -> None:
        self.space: dict | None = None
        self.below = -1  # every complete trial numbered below this one is in ``space``
        self.done: set[int] = set()  # complete trials at or above ``below`` that are in it
        self.sorted: dict = {}
        self.study_id: int | None = None
        self.last_storage = None
        self.equal: dict = {}  # (id, id) -> (a, b, a == b): the pair is kept, so ids stay theirs

    def _same(self, a, b) -> bool:
        """``a == b`` for two distributions, remembered by identity: a storage hands out the same
        few distribution objects again and again, and comparing two (a categorical's choices one
        by one) cost more than the rest of a trial's intersection."""
        if a is b:
            return True
        if a is None:
            return False
        key = (id(a), id(b))
        hit = self.equal.get(key)
        if hit is None:
            if len(self.equal) >= 4096:  # a storage that makes new objects for every trial
                self.equal.clear()
            hit = self.equal[key] = (a, b, a == b)
        return hit[2]

    def calculate(self, study) -> dict:
        from optuna.trial import TrialState

        if self.study_id is None:
            self.study_id = study._study_id
        elif self.study_id != study._study_id:
            raise ValueError("`IntersectionSearchSpace` cannot handle multiple studies.")
        storage = getattr(study, "_storage", None)
        if getattr(storage, "fixed_states", False) and storage is self.last_storage:
            # a batch's snapshot: its trials keep their states and new ones are asked RUNNING,
            # so the space cannot have changed since the last trial of the batch was sampled
            return dict(self.sorted)
        self.last_storage = storage
        finished = (TrialState.COMPLETE,)
        skip = (TrialState.FAIL, TrialState.PRUNED)  # as Optuna's without include_pruned
        trials = study._get_trials(deepcopy=False, use_cache=False)
        changed, lowest_open = False, None
        for t in reversed(trials):
            if t.number < self.below:
                break
            if t.state in skip or t.number in self.done:
                continue
            if t.state not in finished:
                lowest_open = t.number
                continue
            self.done.add(t.number)
            changed = True
            if self.space is None:
                self.space = dict(t.distributions)
            else:
                self.space = {n: d for n, d in self.space.items() if self._same(t.distributions.get(n), d)}
        # move the floor up to the oldest trial still open (or past the newest one)
        floor = lowest_open if lowest_open is not None else (trials[-1].number + 1 if trials else -1)
        if floor > self.below:
            self.below = floor
            self.done = {n for n in self.done if n >= floor}
        if changed or not self.sorted and self.space:
            self.sorted = dict(sorted(self.space.items()))
        return dict(self.sorted)


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
