#pragma once
#include <string>

namespace sim {

/// Where `mailsim console` connects.
struct console_client_options {
    std::string api = "http://127.0.0.1:8025";
    std::string token;  ///< --token, else MAILSIM_TOKEN
    std::string host;   ///< the host to log on to ("" = the lab's vantage host)
};

/// The interactive console in a terminal (SPEC 7): a WebSocket to the lab's
/// /api/v1/console with line editing and history. Returns the exit code.
int run_console_client(const console_client_options& options);

}  // namespace sim
