"""NVIDIA GPU energy through NVML (``nvmlDeviceGetTotalEnergyConsumption``, Volta and newer).

Needs the ``nvidia-ml-py`` package (imported as ``pynvml``) and an NVIDIA driver. The counter is
the board's energy since the driver loaded, in millijoules (the whole board: GPU, HBM and
regulators; ``domain`` = ``gpu-board``). :meth:`NvmlMeter.telemetry` reads the temperature, SM
clock and instantaneous board power for per-second traces.
"""

from __future__ import annotations

from edgespace.meters.common import MeterInitError, PowerMeter

__all__ = ["NvmlMeter"]


class NvmlMeter(PowerMeter):
    domain = "gpu-board"
    name = "nvml"
    domain = "gpu-board"

    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except ImportError:
            raise MeterInitError("NVML: the nvidia-ml-py package is not installed (pip install nvidia-ml-py)") from None
        except Exception as exc:  # pynvml raises NVMLError subclasses
            raise MeterInitError(f"NVML: cannot read GPU {index}'s energy counter ({exc})") from None
        self.name = f"nvml:{index}"

    @classmethod
    def is_available(cls) -> bool:
        try:
            cls()
            return True
        except Exception:
            return False

    def _read_mj(self) -> float:
        return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def telemetry(self) -> tuple[float, float, float]:
        """``(temperature_c, sm_clock_mhz, power_w)`` now: GPU core temperature
        (``nvmlDeviceGetTemperature``, NVML_TEMPERATURE_GPU), SM clock (``nvmlDeviceGetClockInfo``,
        NVML_CLOCK_SM) and board power (``nvmlDeviceGetPowerUsage``, mW → W)."""
        n = self._nvml
        return (
            float(n.nvmlDeviceGetTemperature(self._handle, n.NVML_TEMPERATURE_GPU)),
            float(n.nvmlDeviceGetClockInfo(self._handle, n.NVML_CLOCK_SM)),
            float(n.nvmlDeviceGetPowerUsage(self._handle)) / 1e3,
        )

    def device_name(self) -> str:
        name = self._nvml.nvmlDeviceGetName(self._handle)
        return name.decode() if isinstance(name, bytes) else str(name)
