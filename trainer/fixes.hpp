#pragma once
#include <string>
#include <vector>

#include "simulator/scenario.hpp"

namespace trainer {

/// One console command and the host to run it on.
struct console_step {
    std::string host;
    std::string command;
};

/// The console commands that clear `f` (a fault resolved from a scenario)
/// and bring the live configuration back to `answer`, made from the fault's
/// kind and parameters and the answer configuration — never written per
/// scenario. `mailsim explain` prints them; the tests run them.
std::vector<console_step> fixes_for(const sim::fault& f, const sim::configuration& answer);

}  // namespace trainer
