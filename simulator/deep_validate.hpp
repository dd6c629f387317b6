#pragma once
#include <string>
#include <vector>

#include "simulator/deep_plan.hpp"

namespace sim {

/// `mailsim validate --deep` options (SPEC 7).
struct deep_options {
    std::vector<std::string> paths;  ///< files or directories (default: scenarios)
    int jobs = 8;                    ///< labs at once, each in a process of its own
    int prefix_base = 100;           ///< labs use 127.base .. 127.(base+prefix_count-1)
    int prefix_count = 50;
    std::string timeout = "120s";    ///< real time one lab may take
};

/// `mailsim validate --deep`: the static checks of every file, then, for each
/// scenario without errors, labs that prove it solvable. Returns the exit code
/// (0 all fine, 1 errors, 3 the labs could not run).
int validate_deep_main(const deep_options& o);

}  // namespace sim
