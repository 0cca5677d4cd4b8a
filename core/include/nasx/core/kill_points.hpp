#pragma once
/// Named moments where a test can kill nasx, so that "a kill at any moment resumes to
/// the identical result" is tested at the moments that matter rather than at whatever
/// moment a timer happens to hit. With NASX_KILL_AT="point" (or "point:n") in the
/// environment, the process sends itself SIGKILL the first (n-th) time it passes
/// `point`; without it, a kill point costs one comparison.
///
/// Points: "step_logged" (a step's lines are in the logs, its checkpoint is not yet
/// written), "checkpoint" (a step's checkpoint was just written; selection steps and
/// training epochs count too), "answer_logged" (the end events are in the log,
/// genotype.txt and summary.json not yet written), "genotype_written" (summary.json
/// not yet written).

namespace nasx::core {

void kill_point(const char* point);

}  // namespace nasx::core
