"""Accuracy from the user's own evaluation: a cached evaluator and a small ImageFolder proxy.

Both build the real timm module (``edgespace.build``); torch is imported only when they run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from edgespace._errors import SpecError, SpecTypeError
from edgespace._spec import ArchSpec
from edgespace.accuracy._published import AccuracyEstimate

__all__ = ["EvaluatorAccuracy", "ImageFolderProxy", "default_cache_path"]


def default_cache_path() -> Path:
    """``$EDGESPACE_CACHE_DIR/evaluator_accuracy.json`` (default dir ``~/.cache/edgespace``)."""
    root = os.environ.get("EDGESPACE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "edgespace")
    return Path(root) / "evaluator_accuracy.json"


class EvaluatorAccuracy:
    """An :class:`~edgespace.accuracy.AccuracyModel` that calls ``fn(model, spec) -> float`` (top-1
    in percent, 0–100) on the module ``build(spec)`` returns, and caches the answer on disk.

    The cache is one JSON file (``cache_path``, default :func:`default_cache_path`); its key is
    the spec's fields plus ``name`` and ``version``, so bump ``version`` when the evaluation
    changes (new data, more steps) and old answers stop matching. Writes go to a temporary file
    that replaces the cache atomically, so a killed run never leaves it half-written.
    """

    def __init__(
        self,
        fn: Callable,
        *,
        name: str,
        version: str = "1",
        cache_path: str | os.PathLike | None = None,
        build: Callable | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"EvaluatorAccuracy(fn=...) must be callable, got {type(fn).__name__}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"EvaluatorAccuracy(name={name!r}): give a non-empty name; it is part of the cache key")
        self.fn = fn
        self.name = name
        self.version = str(version)
        self.cache_path = Path(cache_path) if cache_path is not None else default_cache_path()
        self._build = build
        self.calls = 0  # evaluations actually run (cache misses) by this object

    def cache_key(self, spec: ArchSpec) -> str:
        payload = json.dumps({"spec": spec.to_dict(), "evaluator": self.name, "version": self.version}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _read(self) -> dict:
        try:
            with open(self.cache_path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(
                f"evaluator cache {str(self.cache_path)!r} is not valid JSON ({exc}); "
                "delete it or pass another cache_path"
            ) from None
        if not isinstance(data, dict):
            raise SpecError(f"evaluator cache {str(self.cache_path)!r} must hold a JSON object")
        return data

    def _write(self, data: dict) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".evaluator_accuracy.", dir=self.cache_path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.cache_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def predict(self, spec: ArchSpec) -> AccuracyEstimate:
        if not isinstance(spec, ArchSpec):
            raise SpecTypeError(f"predict() takes an ArchSpec, got {type(spec).__name__}")
        key = self.cache_key(spec)
        source = f"evaluator {self.name}@{self.version}"
        hit = self._read().get(key)
        if hit is not None:
            return AccuracyEstimate(top1=float(hit["top1"]), top1_std=None, in_range=True, source=source + " (cached)")
        if self._build is None:
            from edgespace._build import build

            self._build = build
        model = self._build(spec)
        value = self.fn(model, spec)
        self.calls += 1
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 <= value <= 100
        ):
            raise ValueError(
                f"evaluator {self.name!r} returned {value!r} for {spec.short_name()}; "
                "allowed: a top-1 accuracy in percent, 0 to 100"
            )
        data = self._read()  # re-read: another process may have added entries meanwhile
        data[key] = {"top1": float(value), "spec": spec.to_dict(), "evaluator": self.name, "version": self.version}
        self._write(data)
        return AccuracyEstimate(top1=float(value), top1_std=None, in_range=True, source=source)


class ImageFolderProxy:
    """A quick proxy for accuracy: fine-tune a built model briefly on a local ImageFolder
    (``root/<class>/<image>``, read by ``torchvision.datasets.ImageFolder``) on the CPU and
    report held-out top-1 in percent. Use it as the ``fn`` of :class:`EvaluatorAccuracy`.

    A stratified ``val_fraction`` of each class (fixed by ``seed``) is held out. The classifier
    is resized to the folder's class count. Training: AdamW, ``steps`` mini-batches of
    ``batch_size``, images resized to the spec's resolution (or ``image_size``). After 60% of
    the steps, batch-norm statistics are re-estimated over the training images and frozen for
    the remaining steps (a few dozen steps from random weights leave the running averages far
    from the statistics the network was trained with). ``last_losses`` keeps the
    training losses of the latest call. Torch threads are set to ``num_threads`` for the call.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        steps: int = 100,
        batch_size: int = 16,
        lr: float = 1e-3,
        val_fraction: float = 0.25,
        seed: int = 0,
        num_threads: int = 1,
        image_size: int | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SpecError(
                f"ImageFolderProxy(root={str(self.root)!r}): no such directory; expected root/<class>/<image>"
            )
        for name, value, ok in (
            ("steps", steps, isinstance(steps, int) and steps >= 1),
            ("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 2),
            ("lr", lr, isinstance(lr, (int, float)) and 0 < lr < 1),
            ("val_fraction", val_fraction, isinstance(val_fraction, (int, float)) and 0 < val_fraction < 1),
            ("num_threads", num_threads, isinstance(num_threads, int) and num_threads >= 1),
        ):
            if not ok:
                allowed = {
                    "steps": "an integer >= 1",
                    "batch_size": "an integer >= 2",
                    "lr": "0 < lr < 1",
                    "val_fraction": "0 < val_fraction < 1",
                    "num_threads": "an integer >= 1",
                }[name]
                raise ValueError(f"ImageFolderProxy({name}={value!r}) is not allowed; allowed: {allowed}")
        self.steps, self.batch_size, self.lr = steps, batch_size, float(lr)
        self.val_fraction, self.seed, self.num_threads = float(val_fraction), seed, num_threads
        self.image_size = image_size
        self.last_losses: list[float] = []

    def _split(self, targets: list[int]) -> tuple[list[int], list[int]]:
        import random

        rng = random.Random(self.seed)
        train, val = [], []
        for cls in sorted(set(targets)):
            idx = [i for i, t in enumerate(targets) if t == cls]
            rng.shuffle(idx)
            n_val = max(1, round(len(idx) * self.val_fraction))
            if n_val >= len(idx):
                raise SpecError(
                    f"ImageFolderProxy: class {cls} has {len(idx)} image(s); need at least 2 to hold one out"
                )
            val += idx[:n_val]
            train += idx[n_val:]
        return train, val

    def __call__(self, model, spec: ArchSpec) -> float:
        import torch
        from torch.utils.data import DataLoader, Subset
        from torchvision import datasets, transforms

        size = int(self.image_size or spec.resolution)
        tf = transforms.Compose(
            [
                transforms.Resize(size),
                transforms.CenterCrop(size),
                transforms.ToTensor(),
                transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
            ]
        )
        try:
            data = datasets.ImageFolder(str(self.root), transform=tf)
        except (FileNotFoundError, RuntimeError) as exc:
            raise SpecError(f"ImageFolderProxy(root={str(self.root)!r}): {exc}") from None
        if len(data.classes) < 2:
            raise SpecError(
                f"ImageFolderProxy(root={str(self.root)!r}): found {len(data.classes)} class folder(s); need 2 or more"
            )
        train_idx, val_idx = self._split(list(data.targets))

        threads = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            gen = torch.Generator().manual_seed(self.seed)
            torch.manual_seed(self.seed)
            if getattr(model, "num_classes", len(data.classes)) != len(data.classes):
                model.reset_classifier(len(data.classes))
            loader = DataLoader(
                Subset(data, train_idx),
                batch_size=self.batch_size,
                shuffle=True,
                generator=gen,
                drop_last=len(train_idx) > self.batch_size,
            )
            opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=1e-4)
            loss_fn = torch.nn.CrossEntropyLoss()
            self.last_losses = []
            # Phase 1 trains with batch statistics; then batch-norm statistics are re-estimated
            # over the training images and phase 2 trains with them frozen (eval-mode BN), so
            # the network that is evaluated is the one that was optimised: a few dozen steps
            # from random weights leave batch and population statistics far apart.
            bn_phase = max(1, int(self.steps * 0.6))
            step = 0
            model.train()
            while step < self.steps:
                for x, y in loader:
                    if step == bn_phase:
                        self._recalibrate_bn(model, DataLoader(Subset(data, train_idx), batch_size=self.batch_size))
                        self._freeze_bn(model)
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    opt.step()
                    self.last_losses.append(float(loss.detach()))
                    step += 1
                    if step >= self.steps:
                        break
            if bn_phase >= self.steps:
                self._recalibrate_bn(model, DataLoader(Subset(data, train_idx), batch_size=self.batch_size))
            model.eval()
            correct = total = 0
            with torch.no_grad():
                for x, y in DataLoader(Subset(data, val_idx), batch_size=self.batch_size):
                    correct += int((model(x).argmax(dim=1) == y).sum())
                    total += len(y)
        finally:
            torch.set_num_threads(threads)
        return 100.0 * correct / total

    @staticmethod
    def _freeze_bn(model) -> None:
        import torch

        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()

    @staticmethod
    def _recalibrate_bn(model, loader) -> None:
        import torch

        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
        model.train()
        with torch.no_grad():
            for x, _ in loader:
                model(x)
        for m, momentum in zip(bns, saved, strict=True):
            m.momentum = momentum
