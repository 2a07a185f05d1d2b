"""Stage-level reasons from the data-quality scan (data/quality.py): what holds a stage.

- More than DUPLICATE_TOLERANCE of the window's prediction rows, or of its outcome rows,
  repeated: the stage holds, whatever the guards say — a log shipped twice is a broken pipeline,
  and no verdict on it can be trusted to pass. (Exact repeats of outcome rows are also dropped
  before measuring, so below the tolerance they cannot inflate a sum either.)
- More than UNKNOWN_ARM_TOLERANCE of the rows carry an arm value other than `baseline` or
  `candidate`: the stage holds with the values named, and the sample-ratio check is not judged
  — `CANDIDATE` instead of `candidate` is a logging fault, not a router splitting 100/0, and must
  not roll the rollout back as one.
docs/data.md, "Duplicates and unknown arms".
"""

from __future__ import annotations

from rollout_cli.data.quality import DataQuality
from rollout_cli.plan.model import Plan

DUPLICATE_TOLERANCE = 0.01
UNKNOWN_ARM_TOLERANCE = 0.01


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def unknown_arms_hold(quality: DataQuality) -> bool:
    """Whether unrecognised arm values are too many for the arms' unit counts to mean anything."""
    return _share(quality.unknown_arm_rows, quality.prediction_rows) > UNKNOWN_ARM_TOLERANCE


def unknown_arm_words(plan: Plan, quality: DataQuality) -> str:
    column = plan.data.columns.get("arm", "arm")
    values = ", ".join(f"{'NULL' if v is None else repr(v)} ({n} rows)" for v, n in quality.unknown_arms)
    return (f"{quality.unknown_arm_rows} of {quality.prediction_rows} prediction rows in the window have an arm "
            f"value other than 'baseline' or 'candidate' in column '{column}': {values}; those rows are in no arm "
            "(fix the logging: values are case-sensitive)")


def quality_reasons(plan: Plan, quality: DataQuality) -> list[str]:
    """Why the data hold the stage (empty when they do not)."""
    reasons = []
    share = _share(quality.duplicate_predictions, quality.prediction_rows)
    if share > DUPLICATE_TOLERANCE:
        reasons.append(f"{quality.duplicate_predictions} of {quality.prediction_rows} prediction rows in the window "
                       f"({100 * share:.2g}%) repeat the {quality.duplicate_key} of an earlier row (tolerated: "
                       f"{100 * DUPLICATE_TOLERANCE:g}%); duplicated logging biases every metric")
    share = _share(quality.duplicate_outcomes, quality.outcome_rows)
    if share > DUPLICATE_TOLERANCE:
        reasons.append(f"{quality.duplicate_outcomes} of {quality.outcome_rows} outcome rows in the window "
                       f"({100 * share:.2g}%) are exact repeats of another row (tolerated: {100 * DUPLICATE_TOLERANCE:g}%; "
                       "repeats are counted once, but the outcome log is not trustworthy)")
    if unknown_arms_hold(quality):
        reasons.append(unknown_arm_words(plan, quality))
    return reasons
