#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "simulator/scenario.hpp"

namespace sim {

/// Decides every `{ pick = [...] }` of the scenario's faults from `seed`. The
/// same seed always gives the same choices, whatever the order of other faults.
std::vector<fault> resolve_faults(const std::vector<fault_spec>& specs, std::uint64_t seed);

/// The target of a fault: the value of its first parameter (SPEC 4).
std::string fault_target(const fault& f);

/// Changes the live configuration the way the fault says.
void apply_fault(configuration& live, const fault& f);

/// Puts the fault's aspect of the live configuration back to the answer.
void revert_fault(configuration& live, const configuration& answer, const fault& f);

/// True when the fault's aspect of the live configuration equals the answer
/// configuration again: the fault is fixed, however that happened.
bool fault_cleared(const configuration& live, const configuration& answer, const fault& f);

/// True when a diagnosis (kind, target) names this fault: same kind, and the
/// target equal (case-insensitively) to the fault's target, any entry of a list
/// target, or the name or FQDN of the host it names.
bool diagnosis_matches(const fault& f, const configuration& answer, std::string_view kind, std::string_view target);

}  // namespace sim
