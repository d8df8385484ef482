"""The names users choose among, importable without NumPy or torch (the command's help lists
them before any command runs)."""

GRANULARITIES = ("fx", "operator", "layer", "block")  # graph.granularity
PREDICTORS = ("nodes", "shi2025", "neurosurgeon")  # profile.predictors
OBJECTIVES = ("latency", "energy", "weighted")  # plan
