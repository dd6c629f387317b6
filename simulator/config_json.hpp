#pragma once
#include <string>

#include <boost/json/value.hpp>

#include "simulator/scenario.hpp"

namespace sim {

/// A configuration as JSON and back, every field, for --state-dir: a restarted
/// lab takes up the live configuration the trainees left (SPEC 9, class mode).
/// Zone records travel as master-file lines.
boost::json::value config_to_json(const configuration& c);
/// Throws std::invalid_argument with a path ("hosts[2].smtp.routes") when the JSON does not fit.
configuration config_from_json(const boost::json::value& v);

/// A fault (id, kind, parameters, timing) as JSON and back.
boost::json::value fault_to_json(const fault& f);
fault fault_from_json(const boost::json::value& v);

}  // namespace sim
