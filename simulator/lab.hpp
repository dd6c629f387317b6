#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_dns/resolve_result.hpp"
#include "simulator/lab_log.hpp"
#include "simulator/net.hpp"
#include "simulator/scenario.hpp"
#include "simulator/services.hpp"

namespace boost::asio {
class io_context;
}

namespace sim {

/// Which SMTP and DNS ports a lab uses (SPEC 2).
enum class port_mode { automatic, standard, high };

/// How `mailsim run` (or a class, or the harness) starts a lab.
struct lab_options {
    std::optional<int> prefix;           ///< --prefix 127.N: relocate the scenario
    port_mode ports = port_mode::automatic;
    std::optional<double> speed;         ///< --speed overrides [lab] speed
    std::optional<std::uint64_t> seed;   ///< a trainee's seed overrides [lab] seed
    bool log_queries = true;             ///< log every DNS query (the trainer's evidence)
    std::string state_dir;               ///< --state-dir: mailboxes and queues survive restarts
    int storm_cap = 1000;                ///< messages the lab may generate per lab minute (SPEC 5)
};

class mail_agent;

/// Something listening now.
struct service_endpoint {
    std::string host;     ///< host name
    std::string service;  ///< "dns" or "smtp"
    ipv4 address = 0;
    int port = 0;
    bool tcp = true, udp = false;
};

/// An event log record with its number and time.
struct logged_event {
    std::uint64_t number = 0;
    duration at{0};
    std::int64_t wall_ms = 0;
    event_record record;
};

/// A fault as the lab holds it.
struct fault_status {
    fault f;
    std::string state;  ///< pending | active | off (flapping) | cleared | ended
    std::string source; ///< scenario | api
    duration injected_at{0};
    duration changed_at{0};
};

/// A running lab: the scenario's answer configuration, the live configuration
/// with faults applied, the lab clock, the log, and every listener, all on one
/// io_context. Every change to the live configuration goes through change(),
/// which re-derives the network model, the DNS views and the listeners with
/// their socket filters.
class lab {
public:
    lab(boost::asio::io_context& io, scenario s, lab_options options);
    ~lab();
    lab(const lab&) = delete;
    lab& operator=(const lab&) = delete;

    /// Opens every listener; "" when the lab is up, else what could not be bound and why.
    std::string start();
    /// Closes every listener and cancels every timer.
    void stop();

    /// The scenario as running: relocated, with its answer configuration.
    const scenario& definition() const;
    const configuration& answer() const;
    const configuration& live() const;
    const std::string& prefix() const;
    int dns_port() const;
    int smtp_port() const;
    /// The host that clients outside the scenario act as.
    const std::string& vantage() const;
    /// What listens now, by host.
    std::vector<service_endpoint> services() const;
    /// The network model of the live configuration.
    const network& net() const;

    /// Changes the live configuration. `edit` returns "" or an error (then
    /// nothing changes). Logs `what`, clears faults whose aspect is fixed and
    /// re-derives listeners and filters.
    std::string change(const std::string& what, const std::function<std::string(configuration&)>& edit);

    /// Faults, in injection order; `all` includes ended and cleared ones.
    std::vector<fault_status> faults(bool all = false) const;
    /// Injects a fault (checked against the catalogue and the lab); returns its id, or an error.
    std::string inject(fault f, std::string& error);
    /// Clears a fault: reverts its aspect. False when there is no such fault.
    bool clear_fault(const std::string& id);

    /// Lab time.
    duration now() const;
    double speed() const;
    void advance(duration d);
    /// Real time (ms since the Unix epoch) at which the lab started.
    std::int64_t started_wall_ms() const;

    /// Looks a name up as host `from` would: real queries from its address to
    /// its DNS servers, time-outs and retries on the lab clock. `done` runs on
    /// the lab's io_context.
    void resolve(const std::string& from, const std::string& name, std::uint16_t type,
                 std::function<void(const fake_dns::resolve_result&)> done);

    /// Adds a record to a host's event log (and to the lab log).
    void log_event(const std::string& host, event_record e);
    /// A host's event log, oldest first.
    std::vector<logged_event> event_log(const std::string& host) const;
    /// `net start` / `net stop` on a host: changes the live configuration and logs events.
    service_result control_service(const std::string& host, const std::string& service, bool start);

    /// The mail agent (relay, mail store or Exchange server) of a host, or nullptr.
    std::shared_ptr<mail_agent> mail(const std::string& host) const;
    /// Every mail agent, in host order.
    std::vector<std::shared_ptr<mail_agent>> mail_agents() const;

    /// A person's lookup from host `from` (the console's nslookup and ping):
    /// one try with a 2-second real-time limit, to `servers` (empty: the host's).
    void lookup(const std::string& from, std::vector<ipv4> servers, const std::string& name, std::uint16_t type,
                std::function<void(const fake_dns::resolve_result&)> done);
    /// The io_context the lab runs on.
    boost::asio::io_context& io() const;

    lab_log& log();
    void note(const std::string& kind, const std::string& host, const std::string& text);

    struct impl;  ///< the runtime, private to lab.cpp

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace sim
