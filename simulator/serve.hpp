#pragma once
#include <string>

namespace sim {

struct serve_args {
    std::string class_file;
    std::string api = "127.0.0.1:8025";
    std::string ready_file;
    bool json = false;
    std::string state_dir;
    std::string log_level = "warn";
};

/// `mailsim serve --class FILE`: a lab per trainee and the instructor page,
/// until SIGINT/SIGTERM. Exit codes as `run`.
int serve_main(const serve_args& a);

}  // namespace sim
