#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "simulator/scenario.hpp"

namespace sim {

/// A record of a host's event log (Windows NT Event Viewer).
struct event_record {
    int id = 0;
    std::string source;           ///< "MSExchangeIMC", "Service Control Manager", "DrWatson"...
    std::string type;             ///< Information | Warning | Error
    std::string log = "Application";  ///< Application | System
    std::string text;
};

/// A service of a host, as `net start` knows it.
struct service_info {
    std::string key;      ///< the short name for `net start KEY` ("msexchangeimc")
    std::string display;  ///< "Microsoft Exchange Internet Mail Connector"
    bool running = false;
};

/// Every service the host has, in `net start` order (display name).
std::vector<service_info> services_of(const host_config& h);

/// What `net start` or `net stop` did.
struct service_result {
    bool ok = false;
    std::string output;                ///< the console text, NT 4.0 style
    std::vector<event_record> events;  ///< what the event log gains
    std::vector<std::string> changed;  ///< keys of services whose state changed
};

/// Starts a service (and what it depends on) on the live host, as NT's
/// service control manager would: the IMC fails to start with the event the
/// guide names when its cause is present (TCP/IP missing: 7003 and error
/// 1075; not configured: 2140; MAPI: 4026; queue: 4092 with 4018 and 4086;
/// a crash: Dr. Watson and error 1067). Pure: changes `h` only.
service_result start_service(host_config& h, std::string_view key);

/// Stops a service and the services that depend on it.
service_result stop_service(host_config& h, std::string_view key);

}  // namespace sim
