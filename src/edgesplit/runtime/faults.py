"""The fault language of ``edgesplit live`` (and the testbed): what goes wrong, when (seconds
from the run's first step) and for how long. The launcher that started the processes strikes
them; the controller is not told (it sees what any controller would: silence, failures)."""

from __future__ import annotations

from dataclasses import dataclass

from edgesplit.errors import InvalidParameterError

# kind: (usage, needs a device, takes a duration BACK, takes a rate)
FAULT_KINDS = {
    "kill-server": "kill-server@T[:BACK] (server 0 killed at T s, restarted BACK s later)",
    "kill-device": "kill-device@T:DEVICE[:BACK] (the agent of device DEVICE killed, rejoins)",
    "kill-controller": "kill-controller@T:BACK (restarted on its journal BACK s later, it goes on)",
    "drop": "drop@P (the servers withhold a share P in 0..1 of their replies)",
    "slow-link": "slow-link@T:MBPS (from T s every device's uplink is capped at MBPS)",
    "rate": "rate@T:DEVICE:MBPS (from T s the device's uplink is MBPS: a step)",
    "link-down": "link-down@T:DEVICE[:BACK] (testbed: the device's link down, up BACK s later)",
}
TESTBED_ONLY = ("link-down",)
USAGE = "; ".join(FAULT_KINDS.values())


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` at ``at_s``, on ``device`` (kill-device), lasting ``back_s`` (None:
    for good), or the ``value`` of drop (a share) and slow-link (Mbit/s)."""

    kind: str
    at_s: float = 0.0
    device: int | None = None
    back_s: float | None = None
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        kind, _, rest = text.partition("@")
        if kind not in FAULT_KINDS or not rest:
            raise InvalidParameterError("--fault", text, USAGE)
        usage = FAULT_KINDS[kind]
        try:
            numbers = [float(part) for part in rest.split(":")]
        except ValueError:
            raise InvalidParameterError("--fault", text, usage) from None
        if any(n != n or n < 0 or n == float("inf") for n in numbers):
            raise InvalidParameterError("--fault", text, f"{usage}, with finite values >= 0")
        if kind == "drop":
            if len(numbers) != 1 or not numbers[0] <= 1:
                raise InvalidParameterError("--fault", text, usage)
            return cls(kind, value=numbers[0])
        if kind == "slow-link":
            if len(numbers) != 2 or numbers[1] <= 0:
                raise InvalidParameterError("--fault", text, usage)
            return cls(kind, numbers[0], value=numbers[1])
        if kind == "rate":
            if len(numbers) != 3 or numbers[1] != int(numbers[1]) or numbers[2] <= 0:
                raise InvalidParameterError("--fault", text, usage)
            return cls(kind, numbers[0], device=int(numbers[1]), value=numbers[2])
        if kind in ("kill-device", "link-down"):
            if len(numbers) not in (2, 3) or numbers[1] != int(numbers[1]):
                raise InvalidParameterError("--fault", text, usage)
            back = numbers[2] if len(numbers) == 3 else None
            return cls(kind, numbers[0], device=int(numbers[1]), back_s=back)
        if len(numbers) > 2 or (kind == "kill-controller" and len(numbers) != 2):
            raise InvalidParameterError("--fault", text, usage)
        return cls(kind, numbers[0], back_s=numbers[1] if len(numbers) == 2 else None)

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop@{self.value:g}"
        if self.kind == "slow-link":
            return f"slow-link@{self.at_s:g}:{self.value:g}"
        if self.kind == "rate":
            return f"rate@{self.at_s:g}:{self.device}:{self.value:g}"
        device = "" if self.device is None else f":{self.device}"
        back = "" if self.back_s is None else f":{self.back_s:g}"
        return f"{self.kind}@{self.at_s:g}{device}{back}"
