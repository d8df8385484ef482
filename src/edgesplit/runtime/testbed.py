"""``edgesplit testbed``: several hosts emulated on one Linux machine.

Every host (the controller, each edge server, each device) is a network namespace of its own
with one veth link to a bridge that lives in a switch namespace, so that every byte between the
roles crosses an emulated link and nothing touches this machine's own interfaces or addresses.
Each device's uplink (the egress of its veth) is shaped in the kernel by a token bucket filter
(``tc qdisc ... tbf``), changed with ``tc qdisc change`` as the run follows the scenario's rate
model; ``netem`` is not used (it is missing from some kernels). Each device's CPU is capped by
a cgroup (v1 ``cpu.cfs_quota_us`` or v2 ``cpu.max``, whichever the machine mounts) to the speed
ratio between its catalogue hardware and this host.

Everything a testbed makes is named from one prefix and its run id (``es<run>-``): ``down``
removes what one run (or every run) left, killed or not: the processes in its namespaces, the
namespaces and their links, its cgroups, and the servers' shared-memory files that no process
maps any more. It needs root and network namespaces; without either it refuses in one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgesplit.errors import EdgesplitError

PREFIX = "es"  # of every namespace, link and cgroup a testbed makes
SUBNET = "10.213"  # /16 inside the testbed's own namespaces only: never routed anywhere else
SWITCH = "sw"
CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 10_000  # short periods: a capped device is slow evenly, not in bursts
TBF_LATENCY = "2s"  # how long a packet may wait in a device's uplink queue
SHM = Path("/dev/shm")
LANE_FILES = "edgesplit-lane-"


class TestbedError(EdgesplitError):
    """The testbed cannot run here, or a kernel command failed (the message says which)."""


@dataclass(frozen=True)
class Host:
    """One emulated host: its namespace, the veth inside it, its address."""

    name: str  # "controller", "server-0", "device-3"
    namespace: str
    interface: str
    address: str


def support() -> str | None:
    """Why the testbed cannot run here (None: it can): root, ``ip netns``, ``tc``."""
    if os.geteuid() != 0:
        return "the testbed needs root (network namespaces, tc, cgroups)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the testbed needs the {tool!r} command (iproute2)"
    probe = f"{PREFIX}probe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"this kernel refuses network namespaces: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def cgroup_version() -> int | None:
    """1 where the cpu controller is mounted as cgroup v1, 2 for the unified hierarchy with cpu
    enabled, None without either."""
    if (CGROUP_V1 / "cpu.cfs_quota_us").exists():
        return 1
    controllers = CGROUP_V2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return 2
    return None


def _run(*command: str) -> str:
    done = subprocess.run(list(command), capture_output=True, text=True)
    if done.returncode != 0:
        raise TestbedError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def tbf_arguments(rate_bps: float) -> list[str]:
    """A token bucket filter at ``rate_bps``: a bucket of 2 ms of the rate, at least 8 KiB (a few
    packets: a larger bucket lets a small transfer through at line rate, and an agent's probe
    would see a faster link than the rate), packets queued up to 2 s."""
    burst = max(8 * 1024, int(rate_bps / 8 * 0.002))
    return ["tbf", "rate", f"{int(rate_bps)}bit", "burst", str(burst), "latency", TBF_LATENCY]


class Testbed:
    """One testbed: a controller host, ``servers`` server hosts and ``devices`` device hosts
    (see the module notes). ``up`` makes it, ``down`` removes it; a ``with`` block does both."""

    def __init__(self, devices: int, servers: int, run: str | None = None) -> None:
        if not 1 <= devices <= 250:
            raise TestbedError(f"--devices {devices}: the testbed holds 1 to 250 devices")
        if not 1 <= servers <= 250:
            raise TestbedError(f"--servers {servers}: the testbed holds 1 to 250 servers")
        self.run = run or secrets.token_hex(3)[:5]
        if not re.fullmatch(r"[0-9a-f]{5}", self.run):
            raise TestbedError(f"run id {self.run!r}: five hex digits")
        self.base = f"{PREFIX}{self.run}"
        self.switch = f"{self.base}-{SWITCH}"
        self.hosts = [self._host("controller", "c", f"{SUBNET}.0.1")]
        self.hosts += [
            self._host(f"server-{i}", f"s{i}", f"{SUBNET}.1.{i + 1}") for i in range(servers)
        ]
        self.hosts += [
            self._host(f"device-{i}", f"d{i}", f"{SUBNET}.2.{i + 1}") for i in range(devices)
        ]
        self.cgroups = cgroup_version()
        self.rates_bps: dict[str, float] = {}

    def _host(self, name: str, short: str, address: str) -> Host:
        return Host(name, f"{self.base}-{short}", f"{self.base}{short}", address)

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    @property
    def devices(self) -> list[Host]:
        return [h for h in self.hosts if h.name.startswith("device-")]

    @property
    def servers(self) -> list[Host]:
        return [h for h in self.hosts if h.name.startswith("server-")]

    # -- up and down -----------------------------------------------------------------------------

    def up(self) -> Testbed:
        """Make the namespaces, the bridge and every host's link (on failure, remove what was
        made and raise)."""
        reason = support()
        if reason is not None:
            raise TestbedError(reason)
        try:
            _run("ip", "netns", "add", self.switch)
            _run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.switch, "link", "set", "br0", "up")
            for host in self.hosts:
                self._link(host)
        except BaseException:
            self.down()
            raise
        return self

    def _link(self, host: Host) -> None:
        outside = f"{host.interface}x"  # the switch's end
        _run("ip", "netns", "add", host.namespace)
        _run("ip", "link", "add", outside, "type", "veth", "peer", "name", host.interface)
        _run("ip", "link", "set", host.interface, "netns", host.namespace)
        _run("ip", "link", "set", outside, "netns", self.switch)
        _run("ip", "-n", self.switch, "link", "set", outside, "master", "br0", "up")
        _run("ip", "-n", host.namespace, "addr", "add", f"{host.address}/16", "dev", host.interface)
        _run("ip", "-n", host.namespace, "link", "set", host.interface, "up")
        _run("ip", "-n", host.namespace, "link", "set", "lo", "up")

    def down(self) -> None:
        """Remove this testbed (see ``remove``)."""
        remove(self.run)

    def __enter__(self) -> Testbed:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- links and CPUs --------------------------------------------------------------------------

    def shape(self, device: str, rate_bps: float) -> None:
        """Set ``device``'s uplink to ``rate_bps`` (a tbf on its veth; changed in place)."""
        host = self.host(device)
        verb = "change" if device in self.rates_bps else "add"
        _run("tc", "-n", host.namespace, "qdisc", verb, "dev", host.interface, "root",
             *tbf_arguments(rate_bps))  # fmt: skip
        self.rates_bps[device] = rate_bps

    def set_link(self, name: str, up: bool) -> None:
        """Take a host's link down (or up again): ``ip link set``."""
        host = self.host(name)
        _run("ip", "-n", host.namespace, "link", "set", host.interface, "up" if up else "down")

    def cap_cpu(self, name: str, cores: float) -> Path | None:
        """A cgroup for host ``name`` allowed ``cores`` of CPU time; None where the machine
        has no cpu controller."""
        if self.cgroups is None:
            return None
        quota = max(1000, int(cores * CFS_PERIOD_US))
        if self.cgroups == 1:
            group = CGROUP_V1 / self.base / name
            group.mkdir(parents=True, exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            parent = CGROUP_V2 / self.base
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+cpu")
            group = parent / name
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
        return group

    def command(self, name: str) -> list[str]:
        """The prefix that runs a command on host ``name``."""
        return ["ip", "netns", "exec", self.host(name).namespace]


def join_cgroup(group: Path, pid: int) -> None:
    """Put process ``pid`` (and the processes it starts later) in ``group``."""
    name = "tasks" if (group / "tasks").exists() else "cgroup.procs"
    with contextlib.suppress(ProcessLookupError, OSError):
        (group / name).write_text(str(pid))


def leftovers(run: str | None = None) -> dict[str, list[str]]:
    """What testbeds (run ``run``, or any) left: namespaces, cgroups, processes in them, and
    the servers' shared-memory files that no process maps."""
    pattern = re.compile(rf"^{PREFIX}({run or '[0-9a-f]{5}'})-")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    spaces = [line.split()[0] for line in listed.splitlines() if pattern.match(line.split()[0])]
    processes = []
    for space in spaces:
        pids = subprocess.run(["ip", "netns", "pids", space], capture_output=True, text=True)
        processes += pids.stdout.split()
    groups = []
    for root in (CGROUP_V1, CGROUP_V2):
        if root.is_dir():
            groups += [
                str(p) for p in root.iterdir() if p.is_dir() and re.fullmatch(
                    rf"{PREFIX}{run or '[0-9a-f]{5}'}", p.name
                )
            ]  # fmt: skip
    return {
        "namespaces": spaces,
        "processes": processes,
        "cgroups": groups,
        "shared_memory": stale_lane_files(),
    }


def stale_lane_files() -> list[str]:
    """Lane regions in /dev/shm that no process maps (a server killed while it started)."""
    if not SHM.is_dir():
        return []
    files = [str(p) for p in SHM.glob(f"{LANE_FILES}*")]
    if not files:
        return []
    mapped = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            mapped.update(
                line.split()[-1] for line in maps.read_text().splitlines() if SHM.as_posix() in line
            )
    return [f for f in files if f not in mapped]


def remove(run: str | None = None) -> dict[str, list[str]]:
    """Remove what testbeds left (run ``run``, or every run): kill the processes in their
    namespaces, delete the namespaces (their links go with them), the cgroups and the stale
    shared-memory files. Idempotent; returns what it removed."""
    found = leftovers(run)
    for pid in found["processes"]:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    for space in found["namespaces"]:
        subprocess.run(["ip", "netns", "del", space], capture_output=True)
    for group in found["cgroups"]:
        _remove_cgroup(Path(group))
    for path in found["shared_memory"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return found


def _remove_cgroup(group: Path) -> None:
    """Remove a cgroup and its children, once the processes in it are gone."""
    for child in sorted((p for p in group.iterdir() if p.is_dir()), reverse=True):
        _remove_cgroup(child)
    for _ in range(50):  # killed processes leave their cgroup when the kernel has reaped them
        try:
            group.rmdir()
            return
        except OSError:
            for name in ("tasks", "cgroup.procs"):
                with contextlib.suppress(OSError):
                    for pid in (group / name).read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.05)
    raise TestbedError(f"cgroup {group} could not be removed")
