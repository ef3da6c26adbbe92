"""The layer table (second stage of the data flow): one row per operator of a spec, computed
analytically from the family's arch-def (no torch module is built), its totals, and the peak
activation memory from liveness over the graph."""

from __future__ import annotations

from edgespace._layer_table import LAYER_COLUMNS, layer_table, table_totals
from edgespace._liveness import live_bytes, peak_activation_bytes
from edgespace._ops import CONV_OPS  # the operator vocabulary, shared with profiles and cost

__all__ = ["CONV_OPS", "LAYER_COLUMNS", "layer_table", "live_bytes", "peak_activation_bytes", "table_totals"]
