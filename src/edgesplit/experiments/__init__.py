"""Named, seeded, re-runnable experiments around the library: shi2025 Table II and Observations
(``predict_eval``), learning curves of training runs, the stable-baselines3 cross-check of DDP,
and the figures (``plots``). They contain no algorithm: they call the library's."""
