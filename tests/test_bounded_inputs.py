"""Bounded inputs: files are size-checked (special files refused) before reading, and
``estimate_many`` works in chunks whose working memory does not grow with the frame."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import edgespace.cost._estimate_many as E
from edgespace._errors import IngestError
from edgespace._paths import read_input
from edgespace.calibration import CalibrationError, read_trtexec_profile
from edgespace.cli import main
from edgespace.cost import load_calibration
from edgespace.runners import read_ort_profile

PROFILE = "jetson-orin-nano-8gb"


def test_special_and_oversized_files_are_refused_before_reading(tmp_path, capsys):
    with pytest.raises(CalibrationError, match="not a regular file"):
        load_calibration("/dev/zero")
    assert main(["estimate", "--profile", PROFILE, "--family", "mobilenetv2", "--calibration", "/dev/zero"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(CalibrationError, match="not a regular file"):
        load_calibration(fifo)  # would block for ever if it were opened
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(2048)
    with pytest.raises(CalibrationError, match="2,048 bytes: larger than the 1,024"):
        read_input(big, CalibrationError, limit=1024)
    # profiler output (ONNX Runtime, trtexec) goes through the same check
    for reader in (read_ort_profile, read_trtexec_profile):
        with pytest.raises(IngestError, match="/dev/zero: not a regular file"):
            reader("/dev/zero")
        with pytest.raises(IngestError, match="pipe.json: not a regular file"):
            reader(fifo)


def _frame(rows: int) -> pd.DataFrame:
    res = np.resize(np.arange(96, 600, 4), rows)
    return pd.DataFrame({"family": "mobilenetv2", "width": 1.0, "depth": 1.0, "resolution": res, "precision": "int8"})


def _peak(frame, monkeypatch, chunk) -> tuple[pd.DataFrame, int]:
    monkeypatch.setattr(E, "CHUNK_ROWS", chunk)
    E.estimate_many(frame.head(10), PROFILE, "7W")  # warm caches outside the measurement
    tracemalloc.start()
    out = E.estimate_many(frame, PROFILE, "7W")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak


def test_estimate_many_in_chunks_gives_the_same_rows_with_bounded_working_memory(monkeypatch):
    frame = _frame(40_000)
    whole, peak_whole = _peak(frame, monkeypatch, 10**9)
    chunked, peak_chunked = _peak(frame, monkeypatch, 2_000)
    pd.testing.assert_frame_equal(whole, chunked)
    out_bytes = int(chunked.memory_usage(deep=True).sum())
    # one pass over the whole frame holds rows x layers intermediates; chunks hold a chunk's worth
    assert peak_chunked < 0.5 * peak_whole, (peak_chunked, peak_whole, out_bytes)
    assert peak_chunked < 4 * out_bytes + 50e6
