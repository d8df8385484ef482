"""Profile files: round trip, the reference layout, and every way a file can be wrong."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from edgesplit.errors import ProfileError
from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.profile.data import (
    load_profile_file,
    package_collections,
    package_profile,
    prefix_key,
    profile_to_dict,
    save_profile,
)

REFERENCE_MODELS = ("vgg16_bn", "resnet34", "mobilenet_v2", "resnet50", "googlenet", "densenet201")


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_reference_profiles_load_and_match_our_fx_graphs(name):
    profile = package_profile("xeon16-h100", name)
    graph = ModelGraph.from_module(build_model(name), example_input(name), "fx", model_name=name)
    profile.check_matches(name, tuple(n.name for n in graph.nodes), graph.input_shapes[0])
    assert sorted(profile.cpu) == list(range(1, 17))
    assert profile.source == "reference" and profile.cores == 16
    folder = resources.files("edgesplit.data") / "profiles" / "xeon16-h100"
    raw = json.loads((folder / f"{name}.json").read_text())
    # A tail timed "after node X" runs everything after X in node order.
    for node in raw["tail_cut_nodes"]:
        key = prefix_key(raw["node_order"].index(node))
        assert profile.cpu[4].tail[key].median_s == raw["cpu"]["4"]["tail"][node]["median_s"]
        assert profile.cuts[key] == (node,)
    assert profile.cuda is not None and len(profile.cuda.tail) == len(raw["tail_cut_nodes"])


def test_round_trip(tmp_path):
    profile = package_profile("xeon16-h100", "resnet34")
    path = tmp_path / "p.json"
    save_profile(profile, path)
    again = load_profile_file(path)
    assert again == profile
    assert profile_to_dict(again) == profile_to_dict(profile)


def _valid(tmp_path) -> dict:
    path = tmp_path / "p.json"
    save_profile(package_profile("xeon16-h100", "resnet34"), path)
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("node_order"), "node_order: Field required"),
        (lambda d: d.update(version=7), "version: Input should be 1"),
        (lambda d: d.update(format="other"), "format: Input should be 'edgesplit.profile'"),
        (lambda d: d["cpu"]["1"]["whole"].update(median_s=-1), r"cpu\.1\.whole\.median_s"),
        (lambda d: d["cpu"]["1"].update(per_node_s=[0.1]), "per_node_s and node_order differ"),
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
    ],
)
def test_corrupted_files_name_the_field(tmp_path, mutate, message):
    data = _valid(tmp_path)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=message):
        load_profile_file(path)


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ProfileError, match="no profile file"):
        load_profile_file(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "edgesplit.profile", ')
    with pytest.raises(ProfileError, match="is not valid JSON"):
        load_profile_file(broken)
    reference_like = tmp_path / "ref.json"
    reference_like.write_text(json.dumps({"tail_cut_nodes": [], "model": "x"}))
    with pytest.raises(ProfileError, match="not a valid reference profile"):
        load_profile_file(reference_like)


def test_shipped_collections_and_unknown_models():
    assert {"xeon16-h100", "epyc2"} <= set(package_collections())
    with pytest.raises(ProfileError, match="no alexnet profile in xeon16-h100; it has densenet201"):
        package_profile("xeon16-h100", "alexnet")
    with pytest.raises(ProfileError, match="no profile collection 'nope'"):
        package_profile("nope", "alexnet")
