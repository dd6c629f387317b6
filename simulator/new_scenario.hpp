#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace sim {

/// `mailsim new ID --from BASE [--dir DIR]`.
struct new_scenario_options {
    std::string id;
    std::string base;              ///< a fragment's name (`guide`) or path (`scenarios/base/guide.toml`)
    std::string dir = "scenarios"; ///< where DIR/ID.toml is written
};

/// The fragments a new scenario can start from: DIR/base/*.toml, by name.
std::vector<std::string> base_names(const std::string& dir);

/// The text of a new scenario, to be written at `file`, that includes `include`
/// (a path relative to it) and builds on the fragment at `base_path`: [scenario] with its id,
/// title, guide step, difficulty and briefing, a commented-out example fault
/// that fits the base's hosts, [trainer] with a hint, and an [expect] example.
std::string scenario_skeleton(const std::string& id, const std::string& include, const std::string& base_path,
                              const std::string& file);

/// Writes DIR/ID.toml from BASE, refusing to overwrite; returns the exit code
/// (0 written, 1 the file exists or would not validate, 2 usage: a bad id or
/// an unknown base, listed with the nearest name, 3 the file cannot be written).
int new_scenario_main(const new_scenario_options& o, std::ostream& out, std::ostream& err);

}  // namespace sim
