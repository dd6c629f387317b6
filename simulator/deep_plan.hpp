#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "simulator/scenario.hpp"

namespace sim {

/// One look at a lab that a client could take: a TCP connect, an SMTP
/// dialogue, a DNS lookup, a message sent through the lab, a service started
/// from the console, a burst of connections. The same probe runs in the
/// answer configuration and with a fault; it shows the fault when its outcome
/// matches `shows` with the fault and does not without it.
struct deep_probe {
    enum class kind { connect, smtp, lookup, deliver, service, burst };
    kind what = kind::connect;
    std::string key;   ///< identifies the probe across the labs of a scenario
    std::string text;  ///< "connect from MAILHOST to EXCH1 port 25"
    std::string from;  ///< host the probe acts as (its live address is the source)
    std::string to;    ///< host it talks to (at its published address)
    int port = 25;     ///< 25 = the lab's SMTP port, 53 = its DNS port
    // smtp
    std::string mail_from;
    std::vector<std::string> rcpts;
    std::uint64_t size = 0;  ///< message size; also announced as SIZE= when not 0
    // lookup: `from` asks `server` (a host; "" = from's own DNS servers)
    std::string name;
    std::uint16_t type = 1;
    std::string server;
    std::optional<duration> late_after;  ///< an answer that took this long (lab time) counts as "late"
    // deliver: a trainer check, run as verify runs it
    trainer_check check;
    // service: `net start` of this service on `to`
    std::string service;
    // burst: this many connections in a row to `to`
    int count = 0;
    /// The outcome shows the symptom when it contains one of these; an entry
    /// starting with `!` matches outcomes that do not contain the rest.
    std::vector<std::string> shows;
};

/// True when `outcome` matches one of the probe's `shows` patterns.
bool probe_shows(const deep_probe& p, const std::string& outcome);

/// The probes that look for the catalogue symptom of `f` (every parameter
/// decided) in the scenario's network: who connects where, what is looked up,
/// what mail is sent. Pure; empty when no client could see the fault.
std::vector<deep_probe> symptom_probes(const scenario& s, const fault& f);

/// The fault applied alone in a deep validation, once per combination of its
/// picked values (at most `limit`; beyond that each value of each picked
/// parameter still comes up once), with its timing set aside.
std::vector<fault_spec> deep_alternatives(const fault_spec& spec, std::size_t limit = 16);

}  // namespace sim
