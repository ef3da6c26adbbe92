"""Trials whose worker died: the heartbeat an RDB-backed search records for the batch in flight,
and the RUNNING trials presumed dead (their owner gone, or older than ``stale_after_s``) failed
and queued again with the same parameters."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from edgespace.study._journal import dead_trial_ids

if TYPE_CHECKING:
    from edgespace.study._loop import _Context

#: The search loop's own machinery.
__all__ = ["_Heartbeat", "_fail_stale"]


def _fail_stale(ctx: _Context) -> None:
    """Fail RUNNING trials whose worker is presumed dead, and queue each again (same params)."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    if ctx.heartbeat:
        optuna.storages.fail_stale_trials(ctx.study)
        return
    if isinstance(ctx.storage, optuna.storages.InMemoryStorage):
        return
    running = ctx.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    dead = dead_trial_ids(ctx.lease, ctx.storage)  # owners on this host known to be gone: at once
    now = time.time()
    retry = RetryHeartbeatStaleTrialCallback(max_retry=3)
    for t in running:
        if t.number in ctx.own_running:
            continue
        old = (
            ctx.stale_after_s is not None
            and t.datetime_start is not None
            and now - t.datetime_start.timestamp() >= ctx.stale_after_s
        )
        if t._trial_id not in dead and not old:
            continue
        try:
            ok = ctx.storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if ok:
            retry(ctx.study, ctx.storage.get_trial(t._trial_id))


class _Heartbeat:
    """Records a heartbeat for the trials of the batch in flight (RDB storages)."""

    def __init__(self, storage, interval: float) -> None:
        self.storage, self.interval = storage, interval
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set(self, ids: list[int]) -> None:
        self.ids = list(ids)
        self.beat()

    def beat(self) -> None:
        for i in list(self.ids):
            self.storage.record_heartbeat(i)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.beat()

    def close(self) -> None:
        self.stop.set()
