"""The names users choose among, importable without NumPy or torch (the command's help lists
them before any command runs)."""

GRANULARITIES = ("fx", "operator", "layer", "block")  # graph.granularity
PREDICTORS = ("nodes", "shi2025", "neurosurgeon")  # profile.predictors
OBJECTIVES = ("latency", "energy", "weighted")  # plan
PRUNE_METHODS = ("structured", "unstructured")  # compress.prune
QUANTIZE = ("none", "int8")  # compress.report
INT8_BACKENDS = ("onnxruntime", "pt2e")  # compress.quantize
RESULTS_FOLDER = "out"  # where `reproduce` writes unless told (not the committed docs/results)
STYLES = ("slot", "task_window", "time_slot")  # sim.scenario: a scenario's decision style
