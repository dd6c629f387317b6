#pragma once
#include "simulator/scenario.hpp"

namespace sim {

/// Moves the whole scenario from its prefix to 127.`octet`: every address in
/// segments, routers, hosts, zones (A records and reverse-zone names), faults,
/// routes and connectors is rewritten consistently (SPEC 2, relocation).
void relocate(scenario& s, int octet);

}  // namespace sim
