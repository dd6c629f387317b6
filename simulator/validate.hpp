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

}  // namespace sim
