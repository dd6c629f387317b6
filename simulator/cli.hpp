#pragma once

namespace sim {

/// The `mailsim` command line (SPEC 7). Returns the process exit code:
/// 0 ok, 1 findings or validation errors, 2 usage, 3 runtime failure.
int cli_main(int argc, char** argv);

}  // namespace sim
