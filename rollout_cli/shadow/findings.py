"""What a person should look at first: the credible differences of a `ShadowResult`, located.

Each finding is backed by an always-valid interval at the plan's confidence (Holm across segment
values), so a healthy shadow shows none of them however long it runs:
- `missing_answers`: coverage credibly below `COVERAGE_FLOOR`; `segment_missing_answers` for a
  segment value whose coverage is credibly below the rest's;
- `late_answers` / `candidate_errors`: late answers (beyond the declared timeout) or candidate
  errors credibly above `LATE_OR_ERROR_FLOOR` of paired requests;
- `segment_disagreement`: a segment value whose agreement is credibly below the rest's;
- `score_shift`: the score distributions drifted: their PSI interval lies above `drift.max_psi`;
- `calibration_shift`: the candidate's calibration error exceeds the baseline's by `CALIBRATION_FLOOR`;
- `load_slowdown`: the candidate's paired latency ratio credibly rises from the quietest to the
  busiest minutes, by at least 5%;
- `unusual_disagreement`: agreement on unusual inputs credibly below the rest;
- `labels_changed`: labels the candidate gains or loses.
"""

from __future__ import annotations

import math

from rollout_cli.shadow.result import Finding, ShadowResult

COVERAGE_FLOOR = 0.99
LATE_OR_ERROR_FLOOR = 0.01
CALIBRATION_FLOOR = 0.02
MIN_SLOWDOWN = math.log(1.05)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.3g}%"


def findings_of(result: ShadowResult) -> list[Finding]:
    out: list[Finding] = []
    cov = result.coverage
    if cov.coverage.interval is not None and cov.coverage.interval[1] < COVERAGE_FLOOR:
        out.append(Finding("missing_answers", None,
                           f"{cov.missing} of {cov.baseline_requests} baseline requests ({_pct(1 - (cov.coverage.value or 0))}) "
                           f"have no candidate answer"))
    for kind, rate, what in (("late_answers", None, "late"), ("candidate_errors", None, "errored")):
        count = cov.late if what == "late" else cov.errored
        if cov.paired and count / cov.paired > LATE_OR_ERROR_FLOOR:
            out.append(Finding(kind, None, f"{count} of {cov.paired} candidate answers ({_pct(count / cov.paired)}) "
                                           f"were {what}" + (f" (timeout {cov.timeout_ms:g} ms)" if what == "late" else "")))
    for row in result.segment_rows:
        where = {row.segment: row.value}
        if row.coverage_worse:
            out.append(Finding("segment_missing_answers", where,
                               f"{row.segment}={row.value}: coverage {_pct(row.coverage.value)} against "
                               f"{_pct(cov.coverage.value)} overall"))
        if row.worse:
            out.append(Finding("segment_disagreement", where,
                               f"{row.segment}={row.value}: agreement {_pct(row.agreement.value)} against "
                               f"{_pct(result.agreement.value)} overall ({_pct(row.difference)} below the rest; "
                               "credible after Holm across segment values)"))
    scores = result.scores
    if scores is not None and scores.distance.credible and scores.distance.interval is not None:
        out.append(Finding("score_shift", None,
                           f"the candidate's scores are shifted: mean difference {scores.mean_difference:+.3g}, "
                           f"PSI {scores.distance.value:.3g} (interval from {scores.distance.interval[0]:.3g}; "
                           f"drift.max_psi {scores.distance.threshold:g})"))
    calib = scores.calibration if scores is not None else None
    if calib is not None and calib.shift is not None and calib.shift > CALIBRATION_FLOOR:
        out.append(Finding("calibration_shift", None,
                           f"the candidate is less calibrated on '{calib.event}': calibration error "
                           f"{calib.candidate_error:.3g} against the baseline's {calib.baseline_error:.3g}"))
    latency = result.latency
    if latency is not None:
        busy = latency.busiest_vs_quietest
        if busy.credible and busy.effect is not None and busy.effect >= MIN_SLOWDOWN:
            quiet, top = latency.buckets[0], latency.buckets[-1]
            out.append(Finding("load_slowdown", {"requests_per_minute": list(top.requests_per_minute)},
                               f"the candidate slows down under load: {_pct(math.expm1(busy.effect))} slower relative "
                               f"to the baseline in the busiest minutes ({top.requests_per_minute[0]}-"
                               f"{top.requests_per_minute[1]} requests/min) than in the quietest "
                               f"({quiet.requests_per_minute[0]}-{quiet.requests_per_minute[1]})"))
    unusual = result.unusual
    if unusual is not None and unusual.difference.credible:
        names = ", ".join(f.feature for f in unusual.features)
        out.append(Finding("unusual_disagreement", {"features": [f.feature for f in unusual.features]},
                           f"agreement on unusual inputs ({names} outside the training range or in its thin bins) is "
                           f"{_pct(unusual.agreement_unusual.value)} against {_pct(unusual.agreement_rest.value)} on "
                           f"the rest ({unusual.requests} requests)"))
    labels = result.labels
    if labels is not None and (labels.gained or labels.lost):
        out.append(Finding("labels_changed", None, f"labels gained: {', '.join(labels.gained) or 'none'}; "
                                                   f"lost: {', '.join(labels.lost) or 'none'}"))
    return out
