#include "simulator/services.hpp"

#include <algorithm>

#include "support/text.hpp"

namespace sim {

namespace {

const char* const imc_name = "Microsoft Exchange Internet Mail Connector";
const char* const mta_name = "Microsoft Exchange Message Transfer Agent";
const char* const is_name = "Microsoft Exchange Information Store";

// The running flag of a service in the live host; nullptr for services that always run.
bool* state_of(host_config& h, std::string_view key) {
    if (key == "dns") return &h.dns.running;
    if (key == "smtpsvc") return &h.smtp_service.running;
    if (!h.exchange) return nullptr;
    if (key == "msexchangeis") return &h.exchange->store_running;
    if (key == "msexchangemta") return &h.exchange->mta_running;
    if (key == "msexchangeimc") return &h.exchange->imc.running;
    return nullptr;
}

std::string started(const std::string& display) {
    return "The " + display + " service is starting.\nThe " + display + " service was started successfully.\n\n";
}

std::string not_started(const std::string& display, const std::string& error) {
    return "The " + display + " service is starting.\nThe " + display + " service could not be started.\n\n" + error +
           "\n\n";
}

const service_info* find(const std::vector<service_info>& all, std::string_view key) {
    for (auto& s : all)
        if (support::iequals(s.key, key) || support::iequals(s.display, key)) return &s;
    return nullptr;
}

}  // namespace

std::vector<service_info> services_of(const host_config& h) {
    std::vector<service_info> out = {
        {"eventlog", "EventLog", true},
        {"lanmanserver", "Server", true},
        {"lanmanworkstation", "Workstation", true},
    };
    if (h.tcpip_installed) out.push_back({"lmhosts", "TCP/IP NetBIOS Helper", true});
    if (h.has_role(role::dns)) out.push_back({"dns", "Microsoft DNS Server", h.dns.running});
    if (h.has_role(role::relay) || h.has_role(role::mailstore))
        out.push_back({"smtpsvc", "Simple Mail Transfer Protocol (SMTP)", h.smtp_service.running});
    if (h.exchange) {
        auto& e = *h.exchange;
        out.push_back({"msexchangeds", "Microsoft Exchange Directory", true});
        out.push_back({"msexchangesa", "Microsoft Exchange System Attendant", true});
        out.push_back({"msexchangeis", is_name, e.store_running});
        out.push_back({"msexchangemta", mta_name, e.mta_running});
        // The IMC is the Exchange server's SMTP service: smtp.port_closed on it stops it too.
        if (e.imc.installed) out.push_back({"msexchangeimc", imc_name, e.imc.running && h.smtp_service.running});
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.display < b.display; });
    return out;
}

service_result start_service(host_config& h, std::string_view key) {
    service_result r;
    auto all = services_of(h);
    auto* s = find(all, key);
    if (!s) {
        r.output = "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n\n";
        return r;
    }
    auto info = *s;
    auto* running = state_of(h, info.key);
    if (info.running) {
        r.output = "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.\n\n";
        return r;
    }
    if (info.key == "msexchangeimc") {
        auto& e = *h.exchange;
        // The connector needs TCP/IP before anything else (guide step 2: events 1075 and 7003).
        if (!h.tcpip_installed) {
            r.output = "System error 1075 has occurred.\n\nThe dependency service does not exist or has been marked "
                       "for deletion.\n\n";
            r.events.push_back({7003, "Service Control Manager", "Error", "System",
                                "The " + std::string(imc_name) +
                                    " service depends on the following nonexistent service: Tcpip"});
            // The guide looks for both IDs in the Event Viewer.
            r.events.push_back({1075, "Service Control Manager", "Error", "System",
                                "The " + std::string(imc_name) +
                                    " service could not start: the dependency service does not exist or has been "
                                    "marked for deletion (error 1075)."});
            return r;
        }
        // Windows NT starts what a service depends on first.
        for (auto [dep, name] : {std::pair{"msexchangeis", is_name}, std::pair{"msexchangemta", mta_name}}) {
            auto* dep_running = state_of(h, dep);
            if (dep_running && !*dep_running) {
                *dep_running = true;
                r.output += started(name);
                r.changed.emplace_back(dep);
                r.events.push_back({dep == std::string("msexchangemta") ? 9298 : 1000,
                                    dep == std::string("msexchangemta") ? "MSExchangeMTA" : "MSExchangeIS", "Information",
                                    "Application", std::string(name) + " started."});
            }
        }
        auto& blocker = e.imc.start_blocker;
        if (blocker == "configuration") {
            r.output += not_started(imc_name, "A service specific error occurred: 2140.\n\nMore help is available by "
                                              "typing NET HELPMSG 3547.");
            r.events.push_back({2140, "MSExchangeIMC", "Error", "Application",
                                "The Internet Mail Connector could not start: its configuration is incomplete. "
                                "Complete the connector's setup in the Exchange Administrator."});
            return r;
        }
        const std::string crashed = "System error 1067 has occurred.\n\nThe process terminated unexpectedly.";
        if (blocker == "mapi") {
            r.output += not_started(imc_name, crashed);
            r.events.push_back({4026, "MSExchangeIMC", "Error", "Application",
                                "MAPI init has failed: the Internet Mail Connector could not log on to the information "
                                "store with its service account."});
            return r;
        }
        if (blocker == "queue") {
            r.output += not_started(imc_name, crashed);
            r.events.push_back({4018, "MSExchangeIMC", "Warning", "Application",
                                "The Internet Mail Connector could not open its work queue in the information store."});
            r.events.push_back({4086, "MSExchangeIMC", "Error", "Application",
                                "The Internet Mail Connector could not read the MTS-OUT folder."});
            r.events.push_back({4092, "MSExchangeIMC", "Error", "Application",
                                "The Internet Mail Connector stopped: its message queues could not be initialized."});
            return r;
        }
        if (blocker == "crash") {
            r.output += not_started(imc_name, crashed);
            r.events.push_back({4097, "DrWatson", "Error", "Application",
                                "The application, MSEXCIMC.EXE, generated an application error. The exception "
                                "generated was c0000005 (access violation). See %SystemRoot%\\Drwtsn32.log."});
            return r;
        }
    }
    if (!running) {
        r.output = "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.\n\n";
        return r;
    }
    *running = true;
    if (info.key == "msexchangeimc") h.smtp_service.running = true;
    r.ok = true;
    r.output += started(info.display);
    r.changed.push_back(info.key);
    if (info.key == "msexchangeimc")
        r.events.push_back({1000, "MSExchangeIMC", "Information", "Application",
                            "Microsoft Exchange Internet Mail Connector started."});
    else if (info.key == "msexchangemta")
        r.events.push_back({9298, "MSExchangeMTA", "Information", "Application", "The MTA has started."});
    return r;
}

service_result stop_service(host_config& h, std::string_view key) {
    service_result r;
    auto all = services_of(h);
    auto* s = find(all, key);
    if (!s) {
        r.output = "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n\n";
        return r;
    }
    auto info = *s;
    auto* running = state_of(h, info.key);
    if (!running) {
        r.output = "The requested pause or stop is not valid for this service.\n\nMore help is available by typing NET "
                   "HELPMSG 2191.\n\n";
        return r;
    }
    if (!*running) {
        r.output = "The " + info.display + " service is not started.\n\nMore help is available by typing NET HELPMSG 3521.\n\n";
        return r;
    }
    // Services that depend on this one stop first.
    if (h.exchange && (info.key == "msexchangemta" || info.key == "msexchangeis") && h.exchange->imc.installed &&
        h.exchange->imc.running) {
        r.output += "The following services are dependent on the " + info.display +
                    " service.\nStopping the " + info.display + " service will also stop these services.\n\n   " +
                    imc_name + "\n\n";
        h.exchange->imc.running = false;
        r.changed.emplace_back("msexchangeimc");
        r.output += "The " + std::string(imc_name) + " service is stopping.\nThe " + imc_name +
                    " service was stopped successfully.\n\n";
    }
    *running = false;
    r.ok = true;
    r.changed.push_back(info.key);
    r.output += "The " + info.display + " service is stopping.\nThe " + info.display + " service was stopped successfully.\n\n";
    return r;
}

}  // namespace sim
