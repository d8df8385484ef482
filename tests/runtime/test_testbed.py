"""The testbed: namespaces linked through a bridge of their own, a device uplink shaped by the
kernel at the rate asked (measured by a transfer between two of its hosts), CPU caps, removal of
whatever a run left (processes included), and a run of the three roles inside it that accounts
for every task and leaves nothing. Skipped, with the reason, where root or namespaces are
missing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from edgesplit.runtime import testbed
from edgesplit.runtime.faults import Fault
from edgesplit.runtime.hosts import HOST  # the shipped profiles: a run costs the same on any CPU
from edgesplit.runtime.launcher import LiveConfig, run_live

WHY = testbed.support()
pytestmark = pytest.mark.skipif(WHY is not None, reason=WHY or "")

RECEIVE = """
import socket, sys, time
server = socket.socket()
server.bind((sys.argv[1], 9000))
server.listen()
print("ready", flush=True)
connection, _ = server.accept()
connection.settimeout(30)
total, first = 0, None
while True:
    data = connection.recv(1 << 16)
    if not data:
        break
    first = first or time.monotonic()
    total += len(data)
print(total, time.monotonic() - first, flush=True)
"""
SEND = """
import socket, sys
with socket.create_connection((sys.argv[1], 9000), timeout=30) as connection:
    connection.sendall(bytes(int(sys.argv[2])))
"""


def _transfer(bed: testbed.Testbed, sender: str, receiver: str, size: int) -> float:
    """Seconds from the first to the last byte of ``size`` bytes over the emulated link."""
    address = bed.host(receiver).address
    listening = subprocess.Popen(
        [*bed.command(receiver), sys.executable, "-c", RECEIVE, address],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert listening.stdout.readline().strip() == "ready"
    subprocess.run(
        [*bed.command(sender), sys.executable, "-c", SEND, address, str(size)],
        check=True, timeout=60,
    )  # fmt: skip
    got, seconds = listening.stdout.readline().split()
    listening.wait(30)
    assert int(got) == size
    return float(seconds)


def test_a_device_uplink_runs_at_the_rate_the_kernel_is_given():
    with testbed.Testbed(2, 1) as bed:
        bed.shape("device-0", 20e6)
        size = 2_000_000
        seconds = _transfer(bed, "device-0", "server-0", size)
        assert 8 * size / seconds == pytest.approx(20e6, rel=0.15)
        bed.shape("device-0", 5e6)  # changed in place, as a run's rate model goes
        seconds = _transfer(bed, "device-0", "server-0", 500_000)
        assert 8 * 500_000 / seconds == pytest.approx(5e6, rel=0.15)
        # the unshaped device and the server are not held to any of it
        fast = _transfer(bed, "device-1", "server-0", size)
        assert 8 * size / fast > 100e6
        group = bed.cap_cpu("device-1", 0.25)
        if bed.cgroups == 1:
            assert (group / "cpu.cfs_quota_us").read_text().strip() == str(
                testbed.CFS_PERIOD_US // 4
            )
        assert testbed.leftovers(bed.run)["namespaces"]
    assert testbed.leftovers(bed.run) == {
        "namespaces": [], "processes": [], "cgroups": [], "shared_memory": [],
    }  # fmt: skip


def test_down_removes_what_a_killed_run_left_and_is_idempotent():
    bed = testbed.Testbed(1, 1).up()
    bed.cap_cpu("device-0", 0.5)
    orphan = subprocess.Popen([*bed.command("device-0"), "sleep", "600"])
    deadline = time.monotonic() + 10
    while not testbed.leftovers(bed.run)["processes"] and time.monotonic() < deadline:
        time.sleep(0.05)  # ``ip netns exec`` has entered the namespace
    left = testbed.leftovers(bed.run)
    assert left["processes"] and len(left["namespaces"]) == 4 and left["cgroups"]
    removed = testbed.remove(bed.run)
    assert removed["namespaces"] == left["namespaces"]
    assert orphan.wait(10) == -9  # killed with its namespace
    assert testbed.leftovers(bed.run) == {
        "namespaces": [], "processes": [], "cgroups": [], "shared_memory": [],
    }  # fmt: skip
    assert testbed.remove(bed.run)["namespaces"] == []  # again: nothing to do


@pytest.mark.slow  # namespaces, cgroups and three processes importing torch: 40-50 s
def test_a_testbed_run_accounts_for_every_task_and_leaves_nothing():
    """Two devices and a server, each in its namespace: the links are the kernel's (the agents
    get no link plan), every decided task is run and reported, the agents' estimates follow the
    true rates, and nothing is left afterwards."""
    report = run_live(
        LiveConfig(
            "live-demo", "optimum", devices=2, duration_s=8.0, seed=1, testbed=True, hardware=HOST
        )
    )
    totals = report["totals"]
    assert totals["devices_finished"] == 2 and totals["not_run"] == 0
    assert totals["done"] == totals["decided"] == sum(sum(d["tasks"]) for d in report["decisions"])
    hosts = report["testbed"]["hosts"]
    assert report["server_addresses"] == [f"{hosts['server-0']}:50051"]
    assert testbed.leftovers(report["testbed"]["run"]) == {
        "namespaces": [], "processes": [], "cgroups": [], "shared_memory": [],
    }  # fmt: skip
    # the Wi-Fi device (uniform 10-20 Mbit/s) measures its kernel-shaped link: after the first
    # slot its estimate is within half of the true rate
    wifi = [d["observed_uplink_bps"][0] / d["rate_bps"][0] for d in report["decisions"][2:]]
    assert all(0.5 < ratio < 2.0 for ratio in wifi), wifi


@pytest.mark.slow  # three devices, two servers and each fault: minutes
@pytest.mark.parametrize(
    "fault",
    [
        None,
        "kill-server@3:2",
        "kill-device@3:1:2",
        "link-down@3:0:2",
        "rate@3:1:5",
        "kill-controller@3:2",
    ],
)
def test_every_task_is_accounted_for_through_each_fault(fault):
    faults = () if fault is None else (Fault.parse(fault),)
    report = run_live(
        LiveConfig("live-demo", "optimum", devices=3, servers=2, duration_s=16.0, seed=2,
                   faults=faults, testbed=True, hardware=HOST)
    )  # fmt: skip
    totals = report["totals"]
    assert totals["devices_finished"] == 3
    # every decided task was run, or belongs to a device that was down when it was decided
    killed = fault is not None and fault.startswith("kill-device")
    assert totals["not_run"] == 0 or killed
    assert totals["done"] + totals["not_run"] >= totals["decided"]
    assert testbed.leftovers(report["testbed"]["run"])["namespaces"] == []
    if fault == "kill-controller@3:2":  # it came back and decided again
        assert max(d["step"] for d in report["decisions"]) >= 6
    if fault == "rate@3:1:5":  # the kernel's link of device 1 steps from the next slot on
        assert all(d["rate_bps"][1] == 5e6 for d in report["decisions"] if d["t_s"] >= 4)


WORK = """
import time
time.sleep(0.2)  # the launcher moves this process into its cgroup meanwhile
wall, cpu = time.monotonic(), time.process_time()
total = 0
for i in range(3_000_000):
    total += i * i
print((time.process_time() - cpu) / (time.monotonic() - wall))
"""


def test_a_capped_host_gets_no_more_of_a_core_than_its_cap():
    """The same busy loop in a host capped to a quarter of a core gets at most a quarter of a
    core (CPU time over wall time, the cgroup's quota per period), in an uncapped one more
    (what it gets depends on the machine's load, so the cap is checked, not a fixed ratio)."""
    with testbed.Testbed(2, 1) as bed:
        group = bed.cap_cpu("device-0", 0.25)
        if group is None:
            pytest.skip("no cgroup cpu controller on this machine")

        def share(host: str) -> float:
            process = subprocess.Popen(
                [*bed.command(host), sys.executable, "-c", WORK], stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            if host == "device-0":
                testbed.join_cgroup(group, process.pid)
            return float(process.communicate(timeout=120)[0])

        free, capped = share("device-1"), share("device-0")
        assert 0.05 < capped <= 0.25 * 1.15
        assert free > 1.5 * capped


def test_devices_keep_the_speed_ratios_of_their_catalogue_hardware():
    """shi2025-5g's Jetsons on this host: each slowdown is its catalogue latency over this
    host's (the model on each machine at all its cores), divided by the fastest's; the cap is
    its inverse."""
    from edgesplit.profile.catalogue import hardware_profile, whole_latency_s
    from edgesplit.runtime.hosts import device_speeds
    from edgesplit.sim.scenario import load_scenario

    preset = load_scenario("shi2025-5g")
    speeds = device_speeds(preset, 3, "epyc2")
    ratios = []
    for kind in preset.devices:
        there, device = hardware_profile(kind.hardware, kind.model)
        here, _ = hardware_profile("epyc2", kind.model)
        ratios.append(whole_latency_s(there, device) / whole_latency_s(here, "cpu"))
    fastest = min(1.0, *ratios)
    for speed, ratio in zip(speeds, ratios, strict=True):
        assert speed.slowdown == pytest.approx(ratio / fastest)
        assert speed.cores is None or speed.cores == pytest.approx(1 / speed.slowdown)
    same = device_speeds(load_scenario("live-demo"), 2, "epyc2")  # the host itself: uncapped
    assert [s.cores for s in same] == [None, None]
