#pragma once
#include <span>
#include <string_view>
#include <vector>

namespace sim {

/// What a fault parameter must be; validation and the API check values by it.
enum class param_kind {
    host,           ///< a host, by name or FQDN
    exchange_host,  ///< a host with the exchange role
    smtp_host,      ///< a host with relay, mailstore or exchange role
    relay_host,     ///< a host with relay or mailstore role ([host.smtp])
    dns_server,     ///< a host with the dns role
    router,         ///< a router name
    router_pair,    ///< two routers joined by a [[link]]
    smtp_hosts,     ///< two or more SMTP hosts
    address,        ///< an IPv4 address inside the lab prefix
    mailbox_address,///< an SMTP address of an Exchange mailbox
    dns_name,       ///< a name inside one of the lab's zones
    mail_domain,    ///< a domain name
    names,          ///< a list of DNS names (may be empty: every name)
    suffixes,       ///< a list of DNS suffixes
    phase,          ///< banner | ehlo | mail | rcpt | data | dot
    reply_code,     ///< an SMTP reply code, 400..599
    tempfail_code,  ///< an SMTP reply code, 400..499
    text,           ///< free text
    size,           ///< "10MB"
    delay,          ///< a duration
    count,          ///< a positive integer
    mode,           ///< an IMC transfer mode
    event_id,       ///< 1075 | 7003 | 2140 | 4026 | 4092 | "drwatson"
    connector,      ///< a connector name (created if the host has none of that name)
    address_space,  ///< an address space such as "SMTP:*" or "X400:c=US"
};

/// "a host name or FQDN", for messages.
std::string_view describe(param_kind k);

/// One parameter of a fault kind.
struct param_spec {
    std::string_view name;
    param_kind kind;
    bool required = true;
};

/// What a real client (or the console) shows under a fault.
struct tool_symptom {
    std::string_view tool;  ///< dig, telnet, swaks, nslookup, ping, console...
    std::string_view shows;
};

/// One kind of the fault catalogue (SPEC 4).
struct fault_kind {
    std::string_view kind;
    std::vector<param_spec> params;  ///< the first is the target
    std::string_view step;           ///< guide step(s) as printed: "5", "2-3", "NDR loops"
    std::vector<int> guide_steps;    ///< numeric steps; empty for the loop kinds
    std::string_view summary;        ///< what is wrong, in one line
    std::string_view symptom;        ///< what clients see
    std::string_view cleared_by;     ///< the configuration a trainee changes
    std::vector<tool_symptom> tools; ///< symptom per tool, for explain
    bool gateable = false;           ///< takes `first` and `odds` (SMTP and DNS faults)
};

/// The whole catalogue, in the guide's order.
std::span<const fault_kind> catalogue();

/// The kind called `name`, or nullptr.
const fault_kind* find_fault_kind(std::string_view name);

/// Every kind name, for did-you-mean.
std::vector<std::string_view> fault_kind_names();

/// Values an `event_id` may take, and what each means.
struct start_failure {
    std::string_view event_id;
    std::string_view blocker;  ///< the imc_config::start_blocker it sets
    std::string_view cause;    ///< what an admin would fix
};
std::span<const start_failure> start_failures();
const start_failure* find_start_failure(std::string_view event_id);

}  // namespace sim
