#pragma once
#include <string>

#include "simulator/catalogue.hpp"
#include "simulator/scenario.hpp"
#include "simulator/source.hpp"

namespace sim {

/// Checks the meaning of a scenario that was read without syntax errors:
/// addresses inside the lab prefix and 127.0.0.0/8, unique names, gateways
/// that are router addresses on the host's segment, zone servers with the dns
/// role, every reference resolving, fault parameters from the catalogue.
/// Robust to fields left empty by earlier errors.
void validate(const scenario& s, diagnostics& diags);

/// Checks one fault parameter value against a configuration; "" when it is fine.
std::string check_param(const param_spec& spec, const param_value& value, const configuration& config, int prefix_octet);

/// Checks a fault with decided parameters (kind, required parameters, values,
/// timing); "" when it can be applied.
std::string check_fault(const fault& f, const configuration& config, int prefix_octet);

/// The timing rules of a fault: `first`/`odds` only where the kind allows, `until` after `after`.
std::string check_timing(const fault_kind& kind, const fault_timing& timing);

/// Whether the fault would change what it names (an A record that exists, a
/// gateway that differs...); "" when it would.
std::string check_fault_effect(const fault& f, const configuration& config);

}  // namespace sim
