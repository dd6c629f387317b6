#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/net.hpp"
#include "simulator/scenario.hpp"
#include "simulator/services.hpp"

namespace trainer {

/// A record of a host's event log, as the console shows it.
struct event_line {
    std::uint64_t number = 0;
    std::string date;   ///< "11/26/26"
    std::string time;   ///< "10:04:12 AM"
    int id = 0;
    std::string source, type, log, text;
};

/// A message in a host's outbound queue (the IMC queue on Exchange).
struct queue_line {
    std::string id, from, subject;
    std::uint64_t size = 0;
    int attempts = 0;
    std::string state;          ///< waiting | sending
    std::string next_attempt;   ///< lab time, "10:15"
    std::string last_error;     ///< "Host unreachable", "TCP/IP timeout", a remote reply
    std::vector<std::pair<std::string, std::string>> recipients;  ///< address, state (+ its error)
};

/// A message in a mailbox folder.
struct message_line {
    std::string id, folder, from, subject, date;
    std::vector<std::string> to;
    std::uint64_t size = 0;
    std::string data;  ///< the RFC 5322 text
};

/// A recent line of a host's network traffic (netmon).
struct traffic_line {
    std::string time;   ///< lab time "00:12:04"
    std::string peer;   ///< the other address
    bool outbound = false;
    std::string text;   ///< "connect: Host unreachable", "<<< 220 ...", ">>> MAIL FROM:..."
};

/// Everything the console reads and changes: the lab, seen from the console.
/// The lab implements it; unit tests use a fake.
class console_world {
public:
    virtual ~console_world() = default;
    virtual const sim::configuration& live() const = 0;
    /// One direction of a packet's trip in the live network.
    virtual sim::route_result route(sim::ipv4 from, sim::ipv4 to) const = 0;
    /// Packets get there and back.
    virtual bool reachable(sim::ipv4 from, sim::ipv4 to) const = 0;
    virtual std::vector<event_line> events(const std::string& host) const = 0;
    virtual std::vector<queue_line> queue(const std::string& host) const = 0;
    /// Messages other connectors took (GWART), by connector.
    virtual std::vector<std::pair<std::string, std::vector<message_line>>> connector_queues(const std::string& host) const = 0;
    /// A folder (inbox | outbox | sent) of a mailbox (an SMTP address).
    virtual std::vector<message_line> folder(const std::string& host, const std::string& mailbox,
                                             const std::string& folder) const = 0;
    virtual std::vector<traffic_line> traffic(const std::string& host) const = 0;
    /// Lab time as "hh:mm:ss" since the start, and the lab's date-time.
    virtual std::string clock_text() const = 0;
    /// Changes the live configuration; "" or why not.
    virtual std::string change(const std::string& what, const std::function<std::string(sim::configuration&)>& edit) = 0;
    /// net start / net stop.
    virtual sim::service_result control_service(const std::string& host, const std::string& key, bool start) = 0;
    /// Sends a message as the mail user `from` of `host` (Exchange: into the Outbox). Returns an id, or error.
    virtual std::string send_mail(const std::string& host, const std::string& from, const std::vector<std::string>& to,
                                  const std::string& subject, std::uint64_t size, std::string& error) = 0;
    /// Tries the host's outbound queue now (admin queue retry).
    virtual void retry_queue(const std::string& host) = 0;
};

/// A real network action the console asks its shell to carry out, from the
/// current host's own address, then resume with the result.
struct console_action {
    enum class kind {
        resolve,   ///< look `name` up (A) as the host would, then resume_resolve()
        nslookup,  ///< ask `server` (or the host's first DNS server) for `name`, then resume_nslookup()
        telnet,    ///< open a TCP connection to `address`:`port` (interactive in a terminal)
        trainer,   ///< a trainer command (`name` holds the line): the lab's trainer answers, then resume_trainer()
    };
    kind what = kind::resolve;
    std::string host;      ///< the host acting
    std::string name;      ///< what to look up / the telnet target as typed
    std::string server;    ///< nslookup: server address, "" for the host's first
    std::string address;   ///< telnet: where to connect
    int port = 0;
    std::string type = "A";  ///< nslookup: the query type (`nslookup -type=MX NAME`)
};

/// The result of a lookup the shell made.
struct lookup_result {
    enum class outcome { answer, nxdomain, nodata, timeout, servfail, refused, unreachable } what = outcome::timeout;
    std::vector<std::string> addresses;  ///< A records, dotted
    std::vector<std::string> records;    ///< nslookup: other answers as text ("mail exchanger = 10 mail.example.net")
    std::string server;                  ///< who was asked (address)
    std::string server_name;             ///< its name if known
};

/// What one line of input produced.
struct console_reply {
    std::string output;                   ///< text, lines ending in '\n'
    std::optional<console_action> action; ///< a real action to carry out before the command can finish
    bool quit = false;                    ///< `exit`: the session is over
};

/// The lab console (SPEC 9): a pure interpreter over the lab, with a current
/// host (`logon NAME`) and output modelled on Windows NT 4.0 and Exchange 5.0.
/// Commands: help, hosts, logon, ipconfig [/all], ping, tracert, nslookup,
/// telnet, net start|stop, eventvwr, netcfg, router, dnsadmin, admin imc |
/// queue | gwart | mailbox, smtpadmin, client, netmon, exit. Real lookups and
/// connections come back as actions for the shell.
class console {
public:
    console(console_world& world, std::string host);

    /// Runs one line. When the reply carries an action, the shell performs it and
    /// calls the matching resume_*(); the command's output continues there.
    console_reply run(std::string_view line);
    console_reply resume_resolve(const lookup_result& result);
    console_reply resume_nslookup(const lookup_result& result);
    /// telnet finished (POST /console: banner read, connection closed; or the
    /// interactive session ended): `outcome` is "open" (with what the server
    /// said), "closed" (an interactive session, already shown), "refused" or "timeout".
    console_reply resume_telnet(const std::string& outcome, const std::string& transcript);
    /// The trainer answered a trainer command (or there is no trainer: `output` says so).
    console_reply resume_trainer(const std::string& output);

    /// The host the console is logged on to.
    const std::string& host() const { return host_; }
    /// "EXCH1 C:\> "
    std::string prompt() const;

private:
    using words = std::vector<std::string>;

    // What a command waiting for a real action was doing.
    struct pending {
        std::string command;              ///< ping | tracert | telnet | nslookup
        std::string target;               ///< as typed
        int port = 0;
        std::string server;               ///< nslookup: the server asked ("" = the host's first)
        std::string type;                 ///< nslookup: the query type
    };

    const sim::configuration& cfg() const { return world_.live(); }
    /// The live host the console is on, or nullptr (a host that left the lab).
    const sim::host_config* here() const;
    /// Applies `edit` to the current host in the live configuration; "" or why not.
    std::string change_host(const std::function<std::string(sim::host_config&)>& edit);
    /// Applies `edit` to the whole live configuration; "" or why not.
    std::string change_config(const std::function<std::string(sim::configuration&)>& edit);
    /// After a service (re)started: a fresh process has no stalled sessions.
    void clear_stalls_after_start(const sim::service_result& r);

    console_reply dispatch(const words& w, std::string_view line);
    std::string help(const words& w) const;
    std::string hosts() const;
    std::string logon(const words& w);
    std::string ipconfig(const words& w) const;
    console_reply ping(const words& w);
    console_reply tracert(const words& w);
    console_reply nslookup(const words& w);
    console_reply telnet(const words& w);
    std::string net(const words& w);
    std::string eventvwr(const words& w) const;
    std::string netcfg(const words& w);
    std::string router(const words& w);
    std::string dnsadmin(const words& w, std::string_view line);
    std::string admin(const words& w);
    std::string admin_imc(const words& w);
    std::string admin_queue(const words& w);
    std::string admin_gwart() const;
    std::string admin_connector(const words& w);
    std::string admin_mailbox(const words& w);
    std::string smtpadmin(const words& w);
    std::string smtpadmin_show() const;
    /// smtpadmin / admin imc: remove a policy rule; set the per-client connection rate.
    std::string delete_rule(const std::string& phase, const std::string& who);
    std::string set_rate_limit(const std::string& value, const std::string& who);
    std::string client(const words& w);
    std::string netmon(const words& w) const;

    std::string ping_output(const std::string& name, sim::ipv4 target) const;
    std::string tracert_output(const std::string& name, sim::ipv4 target) const;
    /// The host whose mail service `client` uses, and the mailbox acting.
    std::pair<std::string, std::string> mail_user() const;
    /// A name as the console shows it for an address ("exch1.corp.example [127.25.10.190]").
    std::string display_name(sim::ipv4 a) const;

    console_world& world_;
    std::string host_;
    std::string line_;  ///< the line being run, for the lab's change log
    std::optional<pending> pending_;
    std::string user_;                      ///< `client`: the mailbox acting ("" = the host's first)
    std::vector<message_line> last_list_;   ///< `client read N` reads from the last folder listed
};

}  // namespace trainer
