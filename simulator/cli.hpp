#pragma once
#include <string>

namespace sim {

/// The `mailsim` command line (SPEC 7). Returns the process exit code:
/// 0 ok, 1 findings or validation errors, 2 usage, 3 runtime failure.
int cli_main(int argc, char** argv);

/// A scenario argument as a path: the file itself, scenarios/ID.toml, or the
/// library file whose [scenario] id is ID; the argument unchanged when none is.
std::string find_scenario_file(const std::string& arg);

}  // namespace sim
