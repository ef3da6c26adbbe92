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
    def unavailable_reason(cls, index: int = 0) -> str | None:
        """Probe NVML (init, read GPU ``index``'s energy counter, shut down): the reason, or None."""
        try:
            import pynvml
        except ImportError:
            return "NVML: the nvidia-ml-py package is not installed (pip install nvidia-ml-py)"
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # pynvml raises NVMLError subclasses
            return f"NVML: cannot start ({exc})"
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(pynvml.nvmlDeviceGetHandleByIndex(index))
        except Exception as exc:
            return f"NVML: cannot read GPU {index}'s energy counter ({exc})"
        finally:
            try:
                pynvml.nvmlShutdown()
            except Exception:
                pass
        return None

    def close(self) -> None:
        """Shut NVML down (each ``nvmlInit`` is paired with one ``nvmlShutdown``)."""
        nvml, self._nvml = getattr(self, "_nvml", None), None
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except Exception:
                pass

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
