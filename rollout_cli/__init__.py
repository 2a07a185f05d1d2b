"""rollout: take an ML model from offline evaluation to serving everyone, safely."""

__version__ = "0.1.0"
