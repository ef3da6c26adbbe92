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
    """The board energy of one GPU, picked by NVML ``index``, ``uuid`` (``GPU-...``) or
    ``pci_bus_id`` (``0000:65:00.0``). NVML numbers the GPUs itself and ignores
    ``CUDA_VISIBLE_DEVICES``: to meter the GPU a torch device ran on, use
    :meth:`for_torch_device` (it matches by UUID, then by PCI bus id), never the CUDA index."""

    name = "nvml"
    domain = "gpu-board"
    #: Estimate: NVML's power readings refresh at about 10-50 Hz depending on the GPU and driver
    #: (NVIDIA documents no period for the energy counter); windows shorter than 0.1 s report none.
    update_period_s = 0.1

    def __init__(self, index: int | None = None, *, uuid: str | None = None, pci_bus_id: str | None = None) -> None:
        which = f"uuid {uuid}" if uuid else f"PCI bus {pci_bus_id}" if pci_bus_id else f"index {index or 0}"
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            if uuid:
                self._handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
            elif pci_bus_id:
                self._handle = pynvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id)
            else:
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(int(index or 0))
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except ImportError:
            raise MeterInitError("NVML: the nvidia-ml-py package is not installed (pip install nvidia-ml-py)") from None
        except Exception as exc:  # pynvml raises NVMLError subclasses
            raise MeterInitError(f"NVML: cannot read the energy counter of the GPU with {which} ({exc})") from None
        self.name = f"nvml:{uuid or pci_bus_id or int(index or 0)}"

    @classmethod
    def for_torch_device(cls, device) -> NvmlMeter:
        """The meter of the GPU that torch ``device`` (``cuda:N``, an index or a torch.device)
        runs on: NVML's handle found by the device's UUID, else by its PCI bus id."""
        ids = torch_device_ids(device)
        if ids.get("uuid"):
            try:
                return cls(uuid=ids["uuid"])
            except MeterInitError:
                if not ids.get("pci_bus_id"):
                    raise
        if ids.get("pci_bus_id"):
            return cls(pci_bus_id=ids["pci_bus_id"])
        raise MeterInitError(
            f"NVML: torch reports neither a UUID nor a PCI bus id for {device!r}, so its NVML device "
            "cannot be found (NVML ignores CUDA_VISIBLE_DEVICES: the CUDA index is not NVML's)"
        )

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


def torch_device_ids(device) -> dict:
    """``{"uuid": "GPU-...", "pci_bus_id": "0000:65:00.0"}`` of a torch CUDA device, as far as
    this torch reports them (``uuid`` from torch 2.1, ``pci_*_id`` from torch 2.3)."""
    import torch

    dev = torch.device(device if not isinstance(device, int) else f"cuda:{device}")
    if dev.type != "cuda":
        raise MeterInitError(f"NVML meters NVIDIA GPUs; device {str(dev)!r} is not a CUDA device")
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    out = {}
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        text = str(uuid)
        out["uuid"] = text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"
    if getattr(props, "pci_bus_id", None) is not None:
        out["pci_bus_id"] = (
            f"{int(getattr(props, 'pci_domain_id', 0) or 0):08x}:{int(props.pci_bus_id):02x}:"
            f"{int(getattr(props, 'pci_device_id', 0) or 0):02x}.0"
        )
    return out
