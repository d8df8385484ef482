"""Named, seeded, re-runnable experiments around the library: ``edgesplit reproduce``'s experiments
beside their paper (``shi2025``, ``zhang2026``, ``chukhno2023``; what they share in ``harness``;
run by ``reproduce`` over ``sweep``'s local workers or Ray), shi2025 Table II and Observations
(``predict_eval``), learning curves of training runs, the stable-baselines3 cross-check of DDP and
the figures (``plots``). They contain no algorithm: they call the library's."""
