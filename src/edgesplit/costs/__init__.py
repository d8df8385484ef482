"""The cost model: per-cut cost tables (built once from the graph and profile layers, then
cached) and one composer per paper quantity. Importing it does not import torch."""

from edgesplit.costs.link import LinkCosts, LinkTerms, load_link
from edgesplit.costs.tables import ModelTable, TableSpec, build_table, load_table, save_table
from edgesplit.costs.terms import (
    batch_service_s,
    closed_loop_throughput_per_s,
    md1_waiting_time_s,
    server_share_s,
    task_energy_j,
    task_latency_s,
    transmit_s,
    with_exit,
)

__all__ = [
    "LinkCosts",
    "LinkTerms",
    "ModelTable",
    "TableSpec",
    "batch_service_s",
    "build_table",
    "closed_loop_throughput_per_s",
    "load_link",
    "load_table",
    "md1_waiting_time_s",
    "save_table",
    "server_share_s",
    "task_energy_j",
    "task_latency_s",
    "transmit_s",
    "with_exit",
]
