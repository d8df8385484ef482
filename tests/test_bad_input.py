"""Bad input, as a new user types it: each case ends in one line naming the option (exit 1, no
traceback) and nothing is written; the option rules refuse every generated bad value and accept
the good ones."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.cli.options import RULES, check_options, option_name
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.scenario import load_scenario

runner = CliRunner()

CASES = [
    (["train", "ddp+ta", "--scenario", "shi2025-5g", "--out", "d", "--steps", "0"], "--steps"),
    (["train", "ddp+ta", "--scenario", "shi2025-5g", "--out", "d", "--eval-episodes", "0"],
     "--eval-episodes"),
    (["train", "ddp+ta", "--scenario", "shi2025-5g", "--out", "d", "--seed", "-1"], "--seed"),
    (["train", "ddp+ta", "--scenario", "shi2025-5g", "--out", "d", "--set", "gamma=nan"],
     "--set gamma"),
    (["train", "ddp+ta", "--scenario", "shi2025-5g", "--out", "d", "--set", "hidden=-4"],
     "--set hidden"),
    (["evaluate", "--scenario", "shi2025-wifi", "--policies", "local", "--seed", "-1"], "--seed"),
    (["evaluate", "--scenario", "zhang2026-small", "--policies", "local", "--seed", "-1"],
     "--seed"),
    (["serve", "--models", "resnet18", "--port", "70001"], "--port"),
    (["serve", "--models", "resnet18", "--port", "-1"], "--port"),
    (["serve", "--models", "resnet18", "--max-message-mb", "nan"], "--max-message-mb"),
    (["serve", "--models", "resnet18", "--host", "256.1.1.1", "--port", "0"], "--host"),
    (["device", "resnet18", "--cut", "2", "--server", "127.0.0.1:99999"], "--server"),
    (["device", "resnet18", "--cut", "2", "--timeout-s", "nan"], "--timeout-s"),
    (["live", "--servers", "0"], "--servers"),
    (["live", "--hysteresis", "nan"], "--hysteresis"),
    (["live", "--timeout-s", "0"], "--timeout-s"),
    (["cuts", "resnet18", "--rows", "-1"], "--rows"),
    (["calibrate", "--out", "link.json", "--cuts", "0"], "--cuts"),
    (["calibrate", "--out", "link.json", "--repeats", "-1"], "--repeats"),
    (["reproduce", "zhang2026-bandwidth", "--quick", "--workers", "0"], "--workers"),
    (["reproduce", "zhang2026-bandwidth", "--quick", "--seeds", "0"], "--seeds"),
    (["convert-policy", "missing.pt", "--out", "new/policy.pt"], "checkpoint"),
    (["profile", "resnet18", "--out", "p.json", "--threads", "0,2"], "--threads"),
    (["graph", "lin.py:Net:width"], "'width' is not a keyword argument"),
    (["graph", "quits.py:Net"], "it called exit(3)"),
    (["scenario", "huge.yaml"], "episode_slots"),
    (["scenario", "endless.yaml"], "slot_s: Input should be a finite number"),
    (["bottleneck", "resnet18", "--cut", "3"], "model='resnet18' is invalid"),
    (["bottleneck", "digitsnet", "--cut", "11"], "exactly one 4-D feature map"),
    (["bottleneck", "digitsnet", "--cut", "-1"], "cut index -1 is out of range"),
    (["bottleneck", "digitsnet", "--cut", "3", "--latent-channels", "0"], "--latent-channels"),
    (["bottleneck", "digitsnet", "--cut", "3", "--rate-weight", "nan"], "--rate-weight"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "says"), CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_each_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lin.py").write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self, width=4):\n"
        "        super().__init__()\n        self.l = torch.nn.Linear(3, width)\n\n"
        "    def forward(self, x):\n        return self.l(x)\n"
    )
    (tmp_path / "quits.py").write_text("raise SystemExit(3)\n")
    huge = load_scenario("shi2025-wifi").model_dump(mode="json") | {"episode_slots": 10**12}
    (tmp_path / "huge.yaml").write_text(yaml.safe_dump(huge))
    endless = load_scenario("shi2025-wifi").model_dump(mode="json") | {"slot_s": math.inf}
    (tmp_path / "endless.yaml").write_text(yaml.safe_dump(endless))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error:") and says in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def _port_in_use():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


@pytest.mark.slow  # a process that imports torch and grpc (the message itself: test_live)
def test_a_server_on_a_port_in_use_says_so_in_one_line_without_grpc_logs():
    """The process's whole stderr (gRPC's C core logs there, not through Python) is our line."""
    with _port_in_use() as taken:
        done = subprocess.run(
            [sys.executable, "-m", "edgesplit", "serve", "--models", "resnet18", "--port",
             str(taken.getsockname()[1]), "--input-size", "64"],
            capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"},
        )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "this one is in use" in lines[0], lines


def test_tls_files_that_are_no_certificate_are_named_not_a_port_in_use(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    result = runner.invoke(app, [
        "serve", "--models", "resnet18", "--port", "0", "--tls-cert", str(tmp_path / "cert.pem"),
        "--tls-key", str(tmp_path / "key.pem"),
    ])  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, lines
    assert "--tls-cert" in lines[0] and "a PEM certificate and its key" in lines[0]
    assert "in use" not in lines[0]


BAD_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1, -1.5, -(2**70), 2**70, "x", True]),
    st.floats(max_value=-1e-9),
)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(RULES)), value=BAD_NUMBERS)
def test_the_rules_refuse_generated_bad_values_naming_the_option(name, value):
    """NaN, infinities, negatives, huge values and non-numbers are refused by every rule they
    break, and the error names the option."""
    rule = RULES[name]
    try:
        rule(option_name(name), value)
    except InvalidParameterError as error:
        assert option_name(name) in str(error)
        return
    # accepted: only possible for a value that the rule's range holds
    assert isinstance(value, (int, float)) and not isinstance(value, bool)
    assert math.isfinite(value) and value >= 0, (name, value)


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_defaults_and_typical_values_pass(name):
    """Every rule takes a typical value and an option left to its default: a rule that refused
    either raises InvalidParameterError here and fails the test (the check is that nothing is
    raised; the refusals are asserted in the tests above)."""
    typical = {"server": "127.0.0.1:50051", "controller": "127.0.0.1:50050",
               "listen": "127.0.0.1:0", "thread_list": "1,2", "train_threads": "1,2",
               "busy": "0,1", "cut_choice": "16", "max_message_mb": 64, "port": 50051,
               "metrics_port": 9100, "drop_replies": 0.1, "pf": 0.5}  # fmt: skip
    RULES[name](option_name(name), typical.get(name, 1))
    check_options({name: None})  # None: an option left to its default (or to a file) is not checked
