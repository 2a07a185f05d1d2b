"""Judging one stage from the logs: plan + data -> Evaluation (docs/data.md, docs/statistics.md).

stage.py orchestrates (`evaluate_stage`); needs.py says what the guards need from the logs;
judge.py judges each guard on one population into `Check`s; reasons.py words the results;
verdict.py holds the result types (Check, SrmResult, Evaluation and its typed parts), which
transitions/ and cli/ read. Nothing here writes state or touches a router.
"""
