"""edgesplit: energy-aware collaborative DNN inference at the network edge."""

__version__ = "0.2.0"
