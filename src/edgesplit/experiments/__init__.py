"""Named, seeded, re-runnable experiments around the library: shi2025 Table II and Observations
(``predict_eval``), learning curves of training runs, the stable-baselines3 cross-check of DDP,
the figures (``plots``), sweeps over local workers or Ray (``sweep``) and ``edgesplit
reproduce``'s experiments (``reproduce``). They contain no algorithm: they call the library's."""
