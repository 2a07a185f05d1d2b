"""Simulation on top of everything else: logs.py writes realistic synthetic logs for a plan
(tests, benchmarks, `rollout simulate`); demo.py runs a whole rollout on one machine with the
real controller, store and file router (`rollout demo`)."""
