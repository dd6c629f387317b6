#include "trainer/console.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <sstream>

#include "fake_dns/zone_file.hpp"
#include "support/ipv4.hpp"
#include "support/text.hpp"

namespace trainer {

using sim::ipv4;
using support::format_ipv4;
using support::iequals;
using support::parse_ipv4;
using support::to_lower;

namespace {

// --- words -------------------------------------------------------------------

// Splits a command line into words; "double quotes" keep spaces together.
std::vector<std::string> split(std::string_view line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false, have = false;
    for (char c : line) {
        if (c == '"') {
            quoted = !quoted;
            have = true;
            continue;
        }
        if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
            if (have) out.push_back(std::move(cur));
            cur.clear();
            have = false;
            continue;
        }
        cur += c;
        have = true;
    }
    if (have) out.push_back(std::move(cur));
    return out;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == ',' || c == ';') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else if (!std::isspace(static_cast<unsigned char>(c))) {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
    std::string out;
    for (auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

bool is_none(std::string_view s) { return iequals(s, "none") || iequals(s, "-") || s.empty(); }

std::optional<int> parse_count(std::string_view s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::optional<bool> parse_on_off(std::string_view s) {
    if (iequals(s, "on") || iequals(s, "up") || iequals(s, "yes") || iequals(s, "true") || iequals(s, "enable")) return true;
    if (iequals(s, "off") || iequals(s, "down") || iequals(s, "no") || iequals(s, "false") || iequals(s, "disable"))
        return false;
    return std::nullopt;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// "        IP Address. . . . . . . . . : 127.25.10.190": NT fills labels with
// dots on even columns up to a fixed width.
std::string nt_field(const std::string& label, const std::string& value) {
    std::string out = label;
    for (std::size_t i = label.size(); i < 27; ++i) out += i % 2 == 0 ? '.' : ' ';
    return "        " + out + " : " + value + "\n";
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.resize(width, ' ');
    return s + " ";
}

std::string mode_text(sim::transfer_mode m) {
    switch (m) {
        case sim::transfer_mode::none: return "None (flush queues)";
        case sim::transfer_mode::inbound: return "Inbound only";
        case sim::transfer_mode::outbound: return "Outbound only";
        case sim::transfer_mode::inbound_outbound: return "Inbound & Outbound";
    }
    return "?";
}

std::string rule_text(const sim::smtp_rule& rule) {
    switch (rule.what) {
        case sim::smtp_rule::action::reject: return "reject " + std::to_string(rule.code);
        case sim::smtp_rule::action::tempfail: return "tempfail " + std::to_string(rule.code);
        case sim::smtp_rule::action::stall: return "stall";
        case sim::smtp_rule::action::disconnect: return "disconnect";
    }
    return "?";
}

std::string size_text(std::uint64_t v) { return v == 0 ? "No limit" : support::format_size(v); }

// Usage lines, shown by `help COMMAND` and after a syntax error.
struct command_help {
    const char* name;
    const char* usage;
    const char* what;
};

constexpr std::array<command_help, 22> command_table = {{
    {"help", "help [COMMAND]", "Lists the commands, or explains one."},
    {"hosts", "hosts", "Lists the lab's hosts with their addresses and roles."},
    {"logon", "logon HOST", "Moves the console to another host (by name or address)."},
    {"ipconfig", "ipconfig [/all]", "Shows this host's TCP/IP configuration."},
    {"ping", "ping HOST|ADDRESS", "Sends four echo requests from this host along the lab's network."},
    {"tracert", "tracert HOST|ADDRESS", "Shows the routers a packet from this host crosses on its way."},
    {"nslookup", "nslookup [-type=A|MX|NS|SOA|CNAME|PTR|TXT] NAME [SERVER]",
     "Asks a DNS server for NAME, for real: SERVER, else this host's DNS servers in order. An address is looked up "
     "by its PTR record."},
    {"telnet", "telnet HOST|ADDRESS [PORT]", "Opens a real TCP connection from this host (port 23 unless given)."},
    {"net", "net start [SERVICE] | net stop SERVICE", "Lists the running services, or starts or stops one."},
    {"eventvwr", "eventvwr [application|system] [N]", "Shows this host's event log, newest first."},
    {"netcfg",
     "netcfg | netcfg set address A | netcfg set gateway A|none | netcfg set dns A[,B] | netcfg set firewall on|off | "
     "netcfg install tcpip",
     "Shows or changes this host's network settings."},
    {"router", "router [NAME] | router NAME routing on|off | router link A B up|down",
     "Shows routers and links, or turns routing or a link on or off."},
    {"dnsadmin",
     "dnsadmin show [ZONE] | dnsadmin add|set ZONE NAME TYPE DATA | dnsadmin delete ZONE NAME TYPE [DATA] | "
     "dnsadmin reload",
     "Manages the zones of this DNS server."},
    {"admin",
     "admin imc [set KEY VALUE | install | configure | grant | rebuildqueue | reinstall | domain add D HOST | "
     "domain delete D | rule delete PHASE] | admin queue [retry] | admin gwart | admin connector NAME [set KEY VALUE | delete] | "
     "admin mailbox [ALIAS [add|delete smtp ADDRESS]]",
     "The Exchange Administrator: the IMC's properties, its queue, the routing table, connectors and mailboxes."},
    {"smtpadmin",
     "smtpadmin show | smtpadmin set KEY VALUE | smtpadmin relay add|delete DOMAIN | smtpadmin route add DOMAIN "
     "NEXTHOP | smtpadmin route delete DOMAIN | smtpadmin rule delete PHASE | smtpadmin queue [retry]",
     "Shows or changes this relay's or mail store's SMTP settings."},
    {"client",
     "client send --to A[,B] [--from A] [--subject S] [--size 5MB] [--recipients N] | client inbox|outbox|sent | "
     "client read N | client user ADDRESS",
     "A mail client for a user of this host (on a workstation: a user of the Exchange server)."},
    {"netmon", "netmon [N]", "Shows this host's recent traffic: connections, SMTP dialogues and DNS queries."},
    {"exit", "exit", "Ends the console session."},
    {"briefing", "briefing", "Trainer: shows the exercise's briefing."},
    {"hint", "hint", "Trainer: gives the next hint (it costs points)."},
    {"diagnose", "diagnose KIND TARGET", "Trainer: names the fault you found (a wrong guess costs points)."},
    {"verify", "verify | score | catalogue", "Trainer: checks your fix, shows the score, lists the fault kinds."},
}};

const command_help* find_help(std::string_view name) {
    for (auto& c : command_table)
        if (iequals(c.name, name)) return &c;
    if (iequals(name, "score") || iequals(name, "catalogue")) return find_help("verify");
    return nullptr;
}

std::string usage(std::string_view name) {
    auto* h = find_help(name);
    return h ? std::string("Usage: ") + h->usage + "\n" : std::string();
}

// The text of a DNS answer line ("corp.example. 3600 IN MX 10 exch1.corp.example.") in nslookup's words.
std::string nslookup_record(const std::string& text) {
    auto w = split(text);
    if (w.size() < 5) return text + "\n";
    auto owner = w[0];
    if (!owner.empty() && owner.back() == '.') owner.pop_back();
    auto type = w[3];
    auto strip = [](std::string s) {
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    };
    if (type == "MX" && w.size() >= 6)
        return owner + "\tMX preference = " + w[4] + ", mail exchanger = " + strip(w[5]) + "\n";
    if (type == "NS") return owner + "\tnameserver = " + strip(w[4]) + "\n";
    if (type == "CNAME") return owner + "\tcanonical name = " + strip(w[4]) + "\n";
    if (type == "PTR") return owner + "\tname = " + strip(w[4]) + "\n";
    if (type == "SOA" && w.size() >= 11)
        return owner + "\n\tprimary name server = " + strip(w[4]) + "\n\tresponsible mail addr = " + strip(w[5]) +
               "\n\tserial  = " + w[6] + "\n\trefresh = " + w[7] + "\n\tretry   = " + w[8] + "\n\texpire  = " + w[9] +
               "\n\tdefault TTL = " + w[10] + "\n";
    std::string rest;
    for (std::size_t i = 4; i < w.size(); ++i) rest += (i > 4 ? " " : "") + w[i];
    return owner + "\t" + type + " = " + rest + "\n";
}

}  // namespace

// --- the session ---------------------------------------------------------------

console::console(console_world& world, std::string host) : world_(world), host_(std::move(host)) {
    if (auto* h = cfg().find_host(host_)) host_ = h->name;
}

std::string console::prompt() const { return upper(host_) + " C:\\> "; }

const sim::host_config* console::here() const { return cfg().find_host(host_); }

std::string console::change_config(const std::function<std::string(sim::configuration&)>& edit) {
    return world_.change(line_, edit);
}

std::string console::change_host(const std::function<std::string(sim::host_config&)>& edit) {
    auto name = host_;
    return change_config([&](sim::configuration& c) -> std::string {
        auto* h = c.find_host(name);
        if (!h) return "this host is no longer in the lab";
        return edit(*h);
    });
}

std::string console::display_name(ipv4 a) const {
    if (auto* h = cfg().host_at(a)) return (h->fqdn.empty() ? h->name : h->fqdn) + " [" + format_ipv4(a) + "]";
    return format_ipv4(a);
}

console_reply console::run(std::string_view line) {
    line_ = std::string(line);
    pending_.reset();
    auto w = split(line);
    if (w.empty()) return {};
    if (!here()) {
        // The host went away (a rename in the live configuration): only moving on works.
        if (!iequals(w[0], "logon") && !iequals(w[0], "hosts") && !iequals(w[0], "help") && !iequals(w[0], "exit"))
            return {"This host is no longer in the lab. Use `hosts` and `logon HOST`.\n", {}, false};
    }
    return dispatch(w, line);
}

console_reply console::dispatch(const words& w, std::string_view line) {
    auto cmd = to_lower(w[0]);
    if (cmd.size() > 4 && cmd.substr(cmd.size() - 4) == ".exe") cmd.resize(cmd.size() - 4);
    console_reply r;
    if (cmd == "help" || cmd == "?") r.output = help(w);
    else if (cmd == "hosts") r.output = hosts();
    else if (cmd == "logon") r.output = logon(w);
    else if (cmd == "ipconfig") r.output = ipconfig(w);
    else if (cmd == "ping") return ping(w);
    else if (cmd == "tracert") return tracert(w);
    else if (cmd == "nslookup") return nslookup(w);
    else if (cmd == "telnet") return telnet(w);
    else if (cmd == "net") r.output = net(w);
    else if (cmd == "eventvwr") r.output = eventvwr(w);
    else if (cmd == "netcfg") r.output = netcfg(w);
    else if (cmd == "router") r.output = router(w);
    else if (cmd == "dnsadmin") r.output = dnsadmin(w, line);
    else if (cmd == "admin") r.output = admin(w);
    else if (cmd == "smtpadmin") r.output = smtpadmin(w);
    else if (cmd == "client") r.output = client(w);
    else if (cmd == "netmon") r.output = netmon(w);
    else if (cmd == "exit" || cmd == "logoff" || cmd == "quit") {
        r.output = "Goodbye.\n";
        r.quit = true;
    } else if (cmd == "briefing" || cmd == "hint" || cmd == "catalogue" || cmd == "diagnose" || cmd == "verify" ||
               cmd == "score") {
        // The trainer lives with the lab: the shell asks it and resumes.
        console_action act;
        act.what = console_action::kind::trainer;
        act.host = host_;
        act.name = std::string(line);
        pending_ = pending{cmd, "", 0, "", ""};
        r.action = act;
    } else {
        std::vector<std::string_view> names;
        for (auto& c : command_table) names.emplace_back(c.name);
        r.output = "'" + w[0] + "' is not recognized as an internal or external command.\n";
        if (auto guess = support::did_you_mean(cmd, names)) r.output += "Did you mean `" + *guess + "`? ";
        r.output += "Type `help` for the list of commands.\n";
    }
    return r;
}

// --- help, hosts, logon --------------------------------------------------------

std::string console::help(const words& w) const {
    if (w.size() > 1) {
        auto* h = find_help(w[1]);
        if (!h) return "help: there is no command called '" + w[1] + "'. Type `help` for the list.\n";
        return std::string(h->usage) + "\n  " + h->what + "\n";
    }
    std::string out = "Commands (type `help COMMAND` for details):\n";
    for (auto& c : command_table) out += "  " + pad(c.name, 10) + c.what + "\n";
    return out;
}

std::string console::hosts() const {
    std::string out = pad("Host", 10) + pad("Address", 16) + pad("Roles", 22) + "Name\n";
    for (auto& h : cfg().hosts) {
        std::vector<std::string> roles;
        for (auto r : h.roles) roles.emplace_back(sim::to_string(r));
        out += pad(h.name, 10) + pad(format_ipv4(h.address), 16) + pad(join(roles, ","), 22) + h.fqdn +
               (iequals(h.name, host_) ? "   (you are here)" : "") + "\n";
    }
    return out;
}

std::string console::logon(const words& w) {
    if (w.size() != 2) return usage("logon");
    const sim::host_config* h = cfg().find_host(w[1]);
    if (!h)
        if (auto a = parse_ipv4(w[1])) h = cfg().host_at(*a);
    if (!h) return "logon: there is no host called '" + w[1] + "' in this lab. Type `hosts` to list them.\n";
    host_ = h->name;
    user_.clear();
    last_list_.clear();
    return "Logged on to " + h->name + " (" + format_ipv4(h->address) + ").\n";
}

// --- ipconfig ------------------------------------------------------------------

std::string console::ipconfig(const words& w) const {
    auto* h = here();
    bool all = w.size() > 1 && (iequals(w[1], "/all") || iequals(w[1], "-all"));
    if (w.size() > 2 || (w.size() == 2 && !all)) return "Error: unrecognized or incomplete command line.\n\n" + usage("ipconfig");
    std::string out = "\nWindows NT IP Configuration\n\n";
    if (!h->tcpip_installed) return out + "The TCP/IP protocol is not installed on this computer.\n";
    if (all) {
        std::vector<std::string> dns;
        for (auto a : h->dns_servers) dns.push_back(format_ipv4(a));
        out += nt_field("Host Name", h->fqdn.empty() ? to_lower(h->name) : h->fqdn);
        out += nt_field("DNS Servers", dns.empty() ? "" : dns.front());
        for (std::size_t i = 1; i < dns.size(); ++i) out += std::string(38, ' ') + dns[i] + "\n";
        out += nt_field("Node Type", "Hybrid");
        out += nt_field("NetBIOS Scope ID", "");
        out += nt_field("IP Routing Enabled", "No");
        out += nt_field("WINS Proxy Enabled", "No");
        out += nt_field("NetBIOS Resolution Uses DNS", "No");
        out += "\n";
    }
    out += "Ethernet adapter El90x1:\n\n";
    if (all) {
        out += nt_field("Description", "3Com Fast EtherLink XL Adapter (3C905)");
        // A stable made-up MAC from the address.
        char mac[32];
        std::snprintf(mac, sizeof mac, "00-60-08-%02X-%02X-%02X", (h->address >> 16) & 0xff, (h->address >> 8) & 0xff,
                      h->address & 0xff);
        out += nt_field("Physical Address", mac);
        out += nt_field("DHCP Enabled", "No");
    }
    auto* seg = cfg().segment_of(h->address);
    out += nt_field("IP Address", format_ipv4(h->address));
    out += nt_field("Subnet Mask", seg ? format_ipv4(seg->cidr.mask()) : "255.0.0.0");
    out += nt_field("Default Gateway", h->gateway ? format_ipv4(*h->gateway) : "");
    return out;
}

// --- ping and tracert ------------------------------------------------------------

std::string console::ping_output(const std::string& name, ipv4 target) const {
    auto* h = here();
    std::string out = "\nPinging " + (name.empty() || parse_ipv4(name) ? format_ipv4(target) : name + " [" + format_ipv4(target) + "]") +
                      " with 32 bytes of data:\n\n";
    auto there = world_.route(h->address, target);
    bool ok = world_.reachable(h->address, target);
    int ttl = 128 - static_cast<int>(world_.route(target, h->address).hops.size());
    for (int i = 0; i < 4; ++i) {
        if (ok) out += "Reply from " + format_ipv4(target) + ": bytes=32 time<10ms TTL=" + std::to_string(ttl) + "\n";
        else out += "Request timed out.\n";
    }
    (void)there;
    return out + "\n";
}

std::string console::tracert_output(const std::string& name, ipv4 target) const {
    auto* h = here();
    std::string out = "\nTracing route to " +
                      (name.empty() || parse_ipv4(name) ? display_name(target) : name + " [" + format_ipv4(target) + "]") +
                      "\nover a maximum of 30 hops:\n\n";
    auto way = world_.route(h->address, target);
    int n = 0;
    auto line = [&](const std::string& who) {
        ++n;
        std::string num = std::to_string(n);
        out += std::string(3 - std::min<std::size_t>(3, num.size()), ' ') + num + "   " + who + "\n";
    };
    auto answered = [&](ipv4 from) { return world_.route(from, h->address).ok; };
    for (auto hop : way.hops) {
        if (answered(hop)) line("<10 ms   <10 ms   <10 ms  " + format_ipv4(hop));
        else line("  *        *        *     Request timed out.");
    }
    if (way.ok && world_.reachable(h->address, target)) {
        line("<10 ms   <10 ms   <10 ms  " + display_name(target));
        return out + "\nTrace complete.\n";
    }
    while (n < 30) line("  *        *        *     Request timed out.");
    return out + "\nTrace complete.\n";
}

console_reply console::ping(const words& w) {
    if (w.size() != 2) return {usage("ping"), {}, false};
    auto* h = here();
    if (!h->tcpip_installed) return {"Unable to contact IP driver, error code 2.\n", {}, false};
    if (auto a = parse_ipv4(w[1])) return {ping_output(w[1], *a), {}, false};
    pending_ = pending{"ping", w[1], 0, "", "A"};
    console_action act;
    act.what = console_action::kind::resolve;
    act.host = host_;
    act.name = w[1];
    return {"", act, false};
}

console_reply console::tracert(const words& w) {
    if (w.size() != 2) return {usage("tracert"), {}, false};
    auto* h = here();
    if (!h->tcpip_installed) return {"Unable to contact IP driver, error code 2.\n", {}, false};
    if (auto a = parse_ipv4(w[1])) return {tracert_output(w[1], *a), {}, false};
    pending_ = pending{"tracert", w[1], 0, "", "A"};
    console_action act;
    act.what = console_action::kind::resolve;
    act.host = host_;
    act.name = w[1];
    return {"", act, false};
}

console_reply console::resume_resolve(const lookup_result& result) {
    if (!pending_) return {};
    auto p = *pending_;
    pending_.reset();
    bool found = result.what == lookup_result::outcome::answer && !result.addresses.empty();
    auto address = found ? parse_ipv4(result.addresses.front()) : std::nullopt;
    if (p.command == "ping") {
        if (!address) return {"Bad IP address " + p.target + ".\n", {}, false};
        return {ping_output(p.target, *address), {}, false};
    }
    if (p.command == "tracert") {
        if (!address) return {"Unable to resolve target system name " + p.target + ".\n", {}, false};
        return {tracert_output(p.target, *address), {}, false};
    }
    if (p.command == "telnet") {
        if (!address)
            return {"Connecting To " + p.target + "...Could not open a connection to the host, on port " +
                        std::to_string(p.port) + ": the host name could not be resolved.\n",
                    {}, false};
        pending_ = p;
        console_action act;
        act.what = console_action::kind::telnet;
        act.host = host_;
        act.name = p.target;
        act.address = format_ipv4(*address);
        act.port = p.port;
        return {"", act, false};
    }
    return {};
}

// --- nslookup --------------------------------------------------------------------

console_reply console::nslookup(const words& w) {
    std::string type = "A", name, server;
    for (std::size_t i = 1; i < w.size(); ++i) {
        auto lw = to_lower(w[i]);
        if (lw.rfind("-type=", 0) == 0 || lw.rfind("-q=", 0) == 0 || lw.rfind("-querytype=", 0) == 0) {
            type = upper(lw.substr(lw.find('=') + 1));
            if (!fake_dns::parse_type(type)) return {"*** Unknown query type: " + type + "\n" + usage("nslookup"), {}, false};
        } else if (name.empty()) {
            name = w[i];
        } else if (server.empty()) {
            server = w[i];
        } else {
            return {usage("nslookup"), {}, false};
        }
    }
    if (name.empty()) return {usage("nslookup") + "(The interactive mode of nslookup is not available here.)\n", {}, false};
    if (auto a = parse_ipv4(name); a && type == "A") {
        // Like nslookup: an address is looked up by its name in in-addr.arpa.
        name = std::to_string(*a & 0xff) + "." + std::to_string((*a >> 8) & 0xff) + "." + std::to_string((*a >> 16) & 0xff) +
               "." + std::to_string(*a >> 24) + ".in-addr.arpa";
        type = "PTR";
    }
    auto* h = here();
    if (!h->tcpip_installed) return {"*** Can't find server address: TCP/IP is not installed.\n", {}, false};
    if (!server.empty() && !parse_ipv4(server) && !cfg().find_host(server))
        return {"*** Can't find address for server " + server + ": Non-existent domain\n", {}, false};
    if (server.empty() && h->dns_servers.empty())
        return {"*** Can't find server address: this host has no DNS servers configured.\n", {}, false};
    pending_ = pending{"nslookup", name, 0, server, type};
    console_action act;
    act.what = console_action::kind::nslookup;
    act.host = host_;
    act.name = name;
    act.server = server;
    act.type = type;
    return {"", act, false};
}

console_reply console::resume_nslookup(const lookup_result& result) {
    if (!pending_) return {};
    auto p = *pending_;
    pending_.reset();
    using o = lookup_result::outcome;
    auto server_name = result.server_name.empty() ? std::string("UnKnown") : result.server_name;
    std::string out;
    if (result.what == o::timeout || result.what == o::unreachable) {
        out += "DNS request timed out.\n    timeout was 2 seconds.\n";
        out += "*** Can't find server name for address " + result.server + ": Timed out\n";
        out += "Server:  UnKnown\nAddress:  " + result.server + "\n\n";
        out += "DNS request timed out.\n    timeout was 2 seconds.\n*** Request to UnKnown timed-out\n";
        return {out, {}, false};
    }
    out += "Server:  " + server_name + "\nAddress:  " + result.server + "\n\n";
    switch (result.what) {
        case o::nxdomain: out += "*** " + server_name + " can't find " + p.target + ": Non-existent domain\n"; break;
        case o::servfail: out += "*** " + server_name + " can't find " + p.target + ": Server failed\n"; break;
        case o::refused: out += "*** " + server_name + " can't find " + p.target + ": Query refused\n"; break;
        case o::nodata:
            out += "*** No " + (p.type == "A" ? std::string("address (A)") : p.type) + " records available for " +
                   p.target + "\n";
            break;
        default:
            if (p.type == "A") {
                out += "Name:    " + p.target + "\n";
                out += (result.addresses.size() > 1 ? "Addresses:  " : "Address:  ") + join(result.addresses) + "\n";
                for (auto& r : result.records) out += nslookup_record(r);
            } else {
                for (auto& r : result.records) out += nslookup_record(r);
                for (auto& a : result.addresses) out += p.target + "\tinternet address = " + a + "\n";
            }
            break;
    }
    return {out + "\n", {}, false};
}

// --- telnet ------------------------------------------------------------------------

console_reply console::telnet(const words& w) {
    if (w.size() < 2 || w.size() > 3) return {usage("telnet"), {}, false};
    int port = 23;
    if (w.size() == 3) {
        auto p = parse_count(w[2]);
        if (!p || *p < 1 || *p > 65535) return {"telnet: '" + w[2] + "' is not a port number.\n" + usage("telnet"), {}, false};
        port = *p;
    }
    auto* h = here();
    if (!h->tcpip_installed) return {"telnet: TCP/IP is not installed on this computer.\n", {}, false};
    pending_ = pending{"telnet", w[1], port, "", "A"};
    console_action act;
    act.host = host_;
    act.name = w[1];
    act.port = port;
    if (auto a = parse_ipv4(w[1])) {
        act.what = console_action::kind::telnet;
        act.address = format_ipv4(*a);
    } else {
        act.what = console_action::kind::resolve;
    }
    return {"", act, false};
}

console_reply console::resume_telnet(const std::string& outcome, const std::string& transcript) {
    if (!pending_) return {};
    auto p = *pending_;
    pending_.reset();
    // An interactive session was shown as it went: only its end is left to say.
    if (outcome == "closed") return {"\nConnection to host lost.\n", {}, false};
    std::string out = "Connecting To " + p.target + "...";
    if (outcome == "open") {
        out += "\n";
        for (char c : transcript)
            if (c != '\r') out += c;
        if (out.back() != '\n') out += "\n";
        return {out + "\nConnection to host lost.\n", {}, false};
    }
    out += "Could not open a connection to the host, on port " + std::to_string(p.port) + ": Connect failed";
    out += outcome == "refused" ? " (connection refused)\n" : " (timed out)\n";
    return {out, {}, false};
}

console_reply console::resume_trainer(const std::string& output) {
    if (!pending_) return {};
    pending_.reset();
    return {output, {}, false};
}

// --- net start / stop ---------------------------------------------------------------

void console::clear_stalls_after_start(const sim::service_result& r) {
    bool smtp = false, dns = false;
    for (auto& k : r.changed) {
        if (k == "smtpsvc" || k == "msexchangeimc") smtp = true;
        if (k == "dns") dns = true;
    }
    if (!smtp && !dns) return;
    // A freshly started process has no hung sessions, and a DNS server reads its zones anew.
    change_host([&](sim::host_config& h) {
        if (smtp)
            std::erase_if(h.smtp_service.rules, [](auto& kv) { return kv.second.what == sim::smtp_rule::action::stall; });
        if (dns) {
            h.dns.servfail.reset();
            h.dns.delay = sim::duration{0};
            h.dns.truncated = false;
        }
        return std::string{};
    });
}

std::string console::net(const words& w) {
    auto* h = here();
    if (w.size() < 2 || (!iequals(w[1], "start") && !iequals(w[1], "stop")))
        return "The syntax of this command is:\n\n" + usage("net");
    bool start = iequals(w[1], "start");
    if (w.size() == 2) {
        if (!start) return "The syntax of this command is:\n\n" + usage("net");
        std::string out = "These Windows NT services are started:\n\n";
        for (auto& s : sim::services_of(*h))
            if (s.running) out += "   " + s.display + "\n";
        return out + "\nThe command completed successfully.\n";
    }
    std::string key;
    for (std::size_t i = 2; i < w.size(); ++i) key += (i > 2 ? " " : "") + w[i];
    auto r = world_.control_service(host_, key, start);
    if (start && r.ok) clear_stalls_after_start(r);
    return r.output;
}

// --- the event log ---------------------------------------------------------------------

std::string console::eventvwr(const words& w) const {
    std::string log;
    std::size_t limit = 50;
    for (std::size_t i = 1; i < w.size(); ++i) {
        if (iequals(w[i], "application") || iequals(w[i], "system")) log = w[i];
        else if (auto n = parse_count(w[i]); n && *n > 0) limit = static_cast<std::size_t>(*n);
        else return usage("eventvwr");
    }
    auto events = world_.events(host_);
    if (!log.empty()) log = upper(log.substr(0, 1)) + to_lower(log.substr(1));
    std::string out = "Event Viewer - " + (log.empty() ? std::string("Application and System Logs") : log + " Log") +
                      " on \\\\" + upper(host_) + "\n\n";
    out += pad("Date", 9) + pad("Time", 12) + pad("Source", 24) + pad("Type", 12) + pad("Event", 6) + "Description\n";
    std::size_t shown = 0;
    for (auto it = events.rbegin(); it != events.rend() && shown < limit; ++it) {
        if (!log.empty() && !iequals(it->log, log)) continue;
        out += pad(it->date, 9) + pad(it->time, 12) + pad(it->source, 24) + pad(it->type, 12) +
               pad(std::to_string(it->id), 6) + it->text + "\n";
        ++shown;
    }
    if (shown == 0) out += "(no events)\n";
    return out;
}

// --- netcfg ------------------------------------------------------------------------------

std::string console::netcfg(const words& w) {
    auto* h = here();
    const auto name = h->name;  // `h` dies with the configuration a change replaces
    if (w.size() == 1) {
        std::vector<std::string> dns;
        for (auto a : h->dns_servers) dns.push_back(format_ipv4(a));
        std::string out = "Network settings of " + h->name + ":\n";
        out += "  TCP/IP protocol ... " + std::string(h->tcpip_installed ? "installed" : "not installed") + "\n";
        out += "  IP address ........ " + format_ipv4(h->address) + "\n";
        out += "  Default gateway ... " + (h->gateway ? format_ipv4(*h->gateway) : std::string("(none)")) + "\n";
        out += "  DNS servers ....... " + (dns.empty() ? std::string("(none)") : join(dns)) + "\n";
        out += "  SMTP filtering .... " + std::string(h->smtp_service.firewalled ? "on (port 25 blocked)" : "off") + "\n";
        return out;
    }
    auto sub = to_lower(w[1]);
    if (sub == "install" && w.size() == 3 && iequals(w[2], "tcpip")) {
        if (h->tcpip_installed) return "netcfg: TCP/IP is already installed.\n";
        auto err = change_host([](sim::host_config& x) {
            x.tcpip_installed = true;
            return std::string{};
        });
        return err.empty() ? "TCP/IP installed. The computer was restarted; start the services that need it.\n"
                           : "netcfg: " + err + "\n";
    }
    if (sub != "set" || w.size() < 4) return usage("netcfg");
    auto what = to_lower(w[2]);
    std::string value;
    for (std::size_t i = 3; i < w.size(); ++i) value += (i > 3 ? "," : "") + w[i];
    std::string err;
    if (what == "address" || what == "ip") {
        auto a = parse_ipv4(value);
        if (!a) return "netcfg: '" + value + "' is not an IPv4 address.\n";
        if (auto* other = cfg().host_at(*a); other && other->name != h->name)
            return "netcfg: " + value + " is already in use by " + other->name + " (address conflict); nothing changed.\n";
        err = change_host([&](sim::host_config& x) {
            x.address = *a;
            return std::string{};
        });
    } else if (what == "gateway") {
        std::optional<ipv4> g;
        if (!is_none(value)) {
            g = parse_ipv4(value);
            if (!g) return "netcfg: '" + value + "' is not an IPv4 address.\n";
        }
        err = change_host([&](sim::host_config& x) {
            x.gateway = g;
            return std::string{};
        });
    } else if (what == "dns") {
        std::vector<ipv4> servers;
        if (!is_none(value))
            for (auto& s : split_list(value)) {
                auto a = parse_ipv4(s);
                if (!a) return "netcfg: '" + s + "' is not an IPv4 address.\n";
                servers.push_back(*a);
            }
        err = change_host([&](sim::host_config& x) {
            x.dns_servers = servers;
            return std::string{};
        });
    } else if (what == "firewall" || what == "filtering") {
        auto on = parse_on_off(value);
        if (!on) return "netcfg: say on or off.\n";
        err = change_host([&](sim::host_config& x) {
            x.smtp_service.firewalled = *on;
            return std::string{};
        });
    } else {
        return "netcfg: there is no setting '" + w[2] + "' (address, gateway, dns, firewall).\n";
    }
    if (!err.empty()) return "netcfg: " + err + "\n";
    return "The settings of " + name + " were changed.\n";
}

// --- routers ----------------------------------------------------------------------------

std::string console::router(const words& w) {
    auto show = [&](const sim::router_config& r) {
        std::vector<std::string> addrs, links;
        for (auto a : r.addresses) addrs.push_back(format_ipv4(a));
        for (auto& l : cfg().links)
            if (iequals(l.a, r.name) || iequals(l.b, r.name))
                links.push_back((iequals(l.a, r.name) ? l.b : l.a) + (l.up ? " (up)" : " (down)"));
        return r.name + ": interfaces " + join(addrs) + "; IP routing " + (r.ip_routing ? "enabled" : "disabled") +
               "; links: " + (links.empty() ? std::string("none") : join(links)) + "\n";
    };
    if (w.size() == 1) {
        if (cfg().routers.empty()) return "This lab has no routers.\n";
        std::string out;
        for (auto& r : cfg().routers) out += show(r);
        return out;
    }
    if (iequals(w[1], "link")) {
        if (w.size() != 5) return usage("router");
        auto up = parse_on_off(w[4]);
        if (!up) return "router: say up or down.\n" + usage("router");
        if (!cfg().find_link(w[2], w[3])) return "router: there is no link between " + w[2] + " and " + w[3] + ".\n";
        auto a = w[2], b = w[3];
        auto err = change_config([&](sim::configuration& c) {
            c.find_link(a, b)->up = *up;
            return std::string{};
        });
        if (!err.empty()) return "router: " + err + "\n";
        return "The link between " + a + " and " + b + " is " + (*up ? "up" : "down") + ".\n";
    }
    auto* r = cfg().find_router(w[1]);
    if (!r) return "router: there is no router called '" + w[1] + "'. Type `router` to list them.\n";
    if (w.size() == 2) return show(*r);
    if (w.size() != 4 || !iequals(w[2], "routing")) return usage("router");
    auto on = parse_on_off(w[3]);
    if (!on) return "router: say on or off.\n" + usage("router");
    auto name = r->name;
    auto err = change_config([&](sim::configuration& c) {
        c.find_router(name)->ip_routing = *on;
        return std::string{};
    });
    if (!err.empty()) return "router: " + err + "\n";
    return "IP routing on " + name + " is " + (*on ? "enabled" : "disabled") + ".\n";
}

// --- dnsadmin -------------------------------------------------------------------------

std::string console::dnsadmin(const words& w, std::string_view) {
    auto* h = here();
    if (!h->has_role(sim::role::dns))
        return "dnsadmin: " + h->name + " is not a DNS server; this command is not available here. "
               "Log on to a DNS server.\n";
    auto mine = [&](const sim::zone_config& z) { return iequals(z.server, h->name); };
    if (w.size() == 1 || iequals(w[1], "show")) {
        if (w.size() <= 2) {
            std::string out = "Zones on " + h->name + ":\n";
            for (auto& z : cfg().zones)
                if (mine(z))
                    out += "  " + z.origin + " (" + std::to_string(z.records.size()) + " records" +
                           (z.clients.empty() ? "" : ", for " + join(z.clients)) + ")\n";
            std::string state;
            if (!h->dns.running) state += " stopped;";
            if (h->dns.servfail) state += " failing to answer some names;";
            if (h->dns.truncated) state += " truncating answers;";
            return out + "Service:" + (state.empty() ? std::string(" running") : state) + "\n";
        }
        auto origin = fake_dns::canonical_name(w[2]);
        std::string out;
        for (auto& z : cfg().zones)
            if (mine(z) && z.origin == origin) {
                out += "Zone " + origin + (z.clients.empty() ? "" : " (view for " + join(z.clients) + ")") + ":\n";
                for (auto& r : z.records) out += "  " + fake_dns::to_text(r) + "\n";
            }
        return out.empty() ? "dnsadmin: " + h->name + " serves no zone " + origin + ".\n" : out;
    }
    auto sub = to_lower(w[1]);
    if (sub == "reload") {
        auto err = change_host([](sim::host_config& x) {
            x.dns.servfail.reset();
            return std::string{};
        });
        return err.empty() ? "The zones were read again.\n" : "dnsadmin: " + err + "\n";
    }
    if ((sub != "add" && sub != "set" && sub != "delete") || w.size() < 5 || (sub != "delete" && w.size() < 6))
        return usage("dnsadmin");
    auto origin = fake_dns::canonical_name(w[2]);
    bool any = false;
    for (auto& z : cfg().zones) any = any || (mine(z) && z.origin == origin);
    if (!any) return "dnsadmin: " + h->name + " serves no zone " + origin + ".\n";
    auto type = fake_dns::parse_type(upper(w[4]));
    if (!type) return "dnsadmin: unknown record type '" + w[4] + "'.\n";
    // The record as master-file text; names are relative to the zone unless they end in a dot.
    std::string text = w[3] + " " + upper(w[4]);
    for (std::size_t i = 5; i < w.size(); ++i) text += " " + w[i];
    std::vector<fake_dns::record> parsed;
    if (w.size() > 5) {
        auto r = fake_dns::parse_zone_text(text, origin);
        if (!r.errors.empty()) return "dnsadmin: " + r.errors.front().message + "\n";
        if (r.records.size() != 1) return "dnsadmin: give one record.\n";
        parsed = r.records;
    }
    auto owner = fake_dns::canonical_name(w[3] == "@" ? origin : (w[3].back() == '.' ? w[3] : w[3] + "." + origin));
    if (!parsed.empty()) owner = parsed.front().owner;
    auto host_name = h->name;
    std::size_t touched = 0;
    auto err = change_config([&](sim::configuration& c) -> std::string {
        for (auto& z : c.zones) {
            if (!iequals(z.server, host_name) || z.origin != origin) continue;
            auto same_set = [&](const fake_dns::record& r) { return r.owner == owner && r.type == *type; };
            if (sub == "delete") {
                auto before = z.records.size();
                std::erase_if(z.records, [&](auto& r) { return same_set(r) && (parsed.empty() || r.data == parsed.front().data); });
                touched += before - z.records.size();
            } else {
                if (sub == "set") std::erase_if(z.records, same_set);
                auto rec = parsed.front();
                // A record joining an RRset takes its TTL.
                for (auto& r : z.records)
                    if (same_set(r)) rec.ttl = r.ttl;
                if (std::find(z.records.begin(), z.records.end(), rec) == z.records.end()) z.records.push_back(rec);
                ++touched;
            }
            z.record_pos.resize(z.records.size());
        }
        if (touched == 0) return "no such record";
        return {};
    });
    if (!err.empty()) return "dnsadmin: " + err + ".\n";
    if (sub == "delete") return "Deleted " + std::to_string(touched) + " record(s) of " + owner + ".\n";
    return "The record " + fake_dns::to_text(parsed.front()) + " is in zone " + origin + ".\n";
}

// --- the Exchange Administrator ---------------------------------------------------------

std::string console::admin(const words& w) {
    auto* h = here();
    if (!h->exchange)
        return "admin: " + h->name + " has no Exchange Server; this command is not available here. "
               "Log on to the Exchange server.\n";
    if (w.size() < 2) return usage("admin");
    auto sub = to_lower(w[1]);
    if (sub == "imc") return admin_imc(w);
    if (sub == "queue") return admin_queue(w);
    if (sub == "gwart") return admin_gwart();
    if (sub == "connector") return admin_connector(w);
    if (sub == "mailbox" || sub == "mailboxes") return admin_mailbox(w);
    return "admin: there is no '" + w[1] + "' here (imc, queue, gwart, connector, mailbox).\n" + usage("admin");
}

std::string console::admin_imc(const words& w) {
    auto* h = here();
    auto& imc = h->exchange->imc;
    if (w.size() == 2) {
        if (!imc.installed)
            return "The Internet Mail Connector is not installed on " + h->name + ". (`admin imc install` installs it.)\n";
        std::vector<std::string> domains;
        for (auto& d : imc.email_domains) domains.push_back(d.domain + " -> " + d.host);
        std::string out = "Internet Mail Connector (" + h->name + ") properties\n";
        out += "  Service ............... " + std::string(imc.running && h->smtp_service.running ? "Started" : "Stopped") + "\n";
        out += "  Transfer mode ......... " + mode_text(imc.mode) + "\n";
        out += "  Address space ......... " + join(imc.address_space) + " (cost " + std::to_string(imc.cost) + ")\n";
        out += "  Delivery .............. " +
               (imc.smart_host.empty() ? std::string("Use domain name system (DNS)") : "Forward all messages to host " + imc.smart_host) +
               "\n";
        out += "  Email domains ......... " + (domains.empty() ? std::string("(none)") : join(domains)) + "\n";
        out += "  ResolverSearchList .... " +
               (imc.resolver_search_list.empty() ? std::string("(not set)") : join(imc.resolver_search_list)) + "\n";
        out += "  Message size limit .... " + size_text(imc.max_message_size) + "\n";
        out += "  Recipients per message  " + (imc.max_recipients ? std::to_string(imc.max_recipients) : std::string("No limit")) + "\n";
        out += "  SMTP protocol log ..... " + imc.protocol_log + "\n";
        auto& svc = h->smtp_service;
        if (svc.rate_limit_per_minute)
            out += "  Connection limit ...... " + std::to_string(svc.rate_limit_per_minute) + " a minute per client\n";
        for (auto& [phase, rule] : svc.rules)
            out += "  Policy rule ........... at " + std::string(sim::to_string(phase)) + ": " + rule_text(rule) + "\n";
        return out;
    }
    auto sub = to_lower(w[2]);
    auto set_imc = [&](const std::function<std::string(sim::imc_config&)>& edit, const std::string& done) {
        auto err = change_host([&](sim::host_config& x) { return edit(x.exchange->imc); });
        return err.empty() ? done + "\n" : "admin imc: " + err + "\n";
    };
    if (sub == "install") {
        if (imc.installed) return "admin imc: the Internet Mail Connector is already installed.\n";
        return set_imc([](sim::imc_config& i) {
            i.installed = true;
            i.running = false;
            return std::string{};
        }, "The Internet Mail Connector was installed. Start it with `net start msexchangeimc`.");
    }
    if (!imc.installed) return "admin imc: the Internet Mail Connector is not installed on " + h->name + ".\n";
    // The causes of start failures, each fixed the way the guide points to.
    auto repair = [&](std::initializer_list<const char*> causes, const std::string& done) {
        return set_imc([causes](sim::imc_config& i) {
            for (auto c : causes)
                if (i.start_blocker == c) i.start_blocker.clear();
            return std::string{};
        }, done);
    };
    if (sub == "configure")
        return repair({"configuration"}, "The connector's setup is complete (administrative mailbox, address space, "
                                         "site address). Start it with `net start msexchangeimc`.");
    if (sub == "grant")
        return repair({"mapi"}, "The Exchange service account was granted its rights on the information store.");
    if (sub == "rebuildqueue")
        return repair({"queue"}, "The IMC's work queues were rebuilt.");
    if (sub == "reinstall")
        return repair({"crash", "configuration", "queue"}, "The Internet Mail Connector was reinstalled with the "
                                                           "current service pack.");
    if (sub == "domain") {
        if (w.size() == 6 && iequals(w[3], "add")) {
            auto d = to_lower(w[4]), target = w[5];
            return set_imc([&](sim::imc_config& i) {
                std::erase_if(i.email_domains, [&](auto& e) { return iequals(e.domain, d); });
                i.email_domains.push_back({d, target});
                return std::string{};
            }, "Email domain " + d + " now goes to " + target + ".");
        }
        if (w.size() == 5 && iequals(w[3], "delete")) {
            auto d = w[4];
            if (std::none_of(imc.email_domains.begin(), imc.email_domains.end(), [&](auto& e) { return iequals(e.domain, d); }))
                return "admin imc: there is no email domain " + d + ".\n";
            return set_imc([&](sim::imc_config& i) {
                std::erase_if(i.email_domains, [&](auto& e) { return iequals(e.domain, d); });
                return std::string{};
            }, "Email domain " + d + " was removed; its mail follows DNS again.");
        }
        return usage("admin");
    }
    if (sub == "rule" && w.size() == 5 && iequals(w[3], "delete")) return delete_rule(w[4], "admin imc");
    if (sub != "set" || w.size() < 5) return usage("admin");
    auto key = to_lower(w[3]);
    if (key == "rate_limit") return set_rate_limit(w[4], "admin imc");
    std::string value;
    for (std::size_t i = 4; i < w.size(); ++i) value += (i > 4 ? " " : "") + w[i];
    if (key == "transfer_mode" || key == "mode") {
        auto m = sim::parse_transfer_mode(to_lower(value));
        if (!m) return "admin imc: the transfer mode is one of none, inbound, outbound, inbound_outbound.\n";
        return set_imc([&](sim::imc_config& i) {
            i.mode = *m;
            return std::string{};
        }, "Transfer mode: " + mode_text(*m) + ".");
    }
    if (key == "address_space") {
        auto list = split_list(value);
        for (auto& a : list)
            if (a.find(':') == std::string::npos) return "admin imc: an address space looks like SMTP:* or SMTP:*.example.com\n";
        return set_imc([&](sim::imc_config& i) {
            i.address_space = list;
            return std::string{};
        }, "Address space: " + (list.empty() ? std::string("(none)") : join(list)) + ".");
    }
    if (key == "cost") {
        auto n = parse_count(value);
        if (!n || *n < 1 || *n > 100) return "admin imc: the cost is a number from 1 to 100.\n";
        return set_imc([&](sim::imc_config& i) {
            i.cost = *n;
            return std::string{};
        }, "Cost: " + value + ".");
    }
    if (key == "smart_host") {
        auto v = is_none(value) ? std::string() : value;
        return set_imc([&](sim::imc_config& i) {
            i.smart_host = v;
            return std::string{};
        }, v.empty() ? "Delivery uses DNS." : "Delivery forwards every message to " + v + ".");
    }
    if (key == "resolver_search_list" || key == "resolversearchlist") {
        auto list = is_none(value) || value == "\"\"" ? std::vector<std::string>{} : split_list(value);
        return set_imc([&](sim::imc_config& i) {
            i.resolver_search_list = list;
            return std::string{};
        }, list.empty() ? "ResolverSearchList cleared." : "ResolverSearchList: " + join(list) + ".");
    }
    if (key == "max_message_size") {
        auto n = is_none(value) ? std::optional<std::uint64_t>(0) : support::parse_size(value);
        if (!n) return "admin imc: '" + value + "' is not a size (like 10MB, or none).\n";
        return set_imc([&](sim::imc_config& i) {
            i.max_message_size = *n;
            return std::string{};
        }, "Message size limit: " + size_text(*n) + ".");
    }
    if (key == "max_recipients") {
        auto n = is_none(value) ? std::optional<int>(0) : parse_count(value);
        if (!n) return "admin imc: '" + value + "' is not a number.\n";
        return set_imc([&](sim::imc_config& i) {
            i.max_recipients = *n;
            return std::string{};
        }, "Recipients per message: " + (*n ? value : std::string("No limit")) + ".");
    }
    if (key == "protocol_log") {
        auto v = to_lower(value);
        if (v != "none" && v != "medium" && v != "maximum") return "admin imc: the protocol log is none, medium or maximum.\n";
        return set_imc([&](sim::imc_config& i) {
            i.protocol_log = v;
            return std::string{};
        }, "SMTP protocol logging: " + v + ".");
    }
    return "admin imc: there is no setting '" + w[3] +
           "' (transfer_mode, address_space, cost, smart_host, resolver_search_list, max_message_size, max_recipients, "
           "rate_limit, protocol_log).\n";
}

std::string console::admin_queue(const words& w) {
    if (w.size() == 3 && iequals(w[2], "retry")) {
        world_.retry_queue(host_);
        return "Every message in the queue will be tried now.\n";
    }
    if (w.size() != 2) return usage("admin");
    auto q = world_.queue(host_);
    std::string out = "Internet Mail Connector outbound queue on " + here()->name + ": " + std::to_string(q.size()) +
                      (q.size() == 1 ? " message" : " messages") + "\n";
    for (auto& m : q) {
        out += "\n  Message " + m.id + "  from " + m.from + "  (" + support::format_size(m.size) + ")\n";
        out += "    Subject ........ " + m.subject + "\n";
        out += "    State .......... " + m.state + ", " + std::to_string(m.attempts) + " attempt(s), next at lab time " +
               m.next_attempt + "\n";
        if (!m.last_error.empty()) out += "    Last error ..... " + m.last_error + "\n";
        for (auto& [who, state] : m.recipients) out += "    To ............. " + who + ": " + state + "\n";
    }
    return out;
}

std::string console::admin_gwart() const {
    auto* h = here();
    auto& e = *h->exchange;
    struct row {
        std::string type, space, connector;
        int cost;
    };
    std::vector<row> rows;
    if (e.imc.installed)
        for (auto& a : e.imc.address_space) {
            auto colon = a.find(':');
            rows.push_back({a.substr(0, colon), colon == std::string::npos ? a : a.substr(colon + 1),
                            "Internet Mail Connector (" + h->name + ")", e.imc.cost});
        }
    for (auto& c : e.connectors)
        for (auto& a : c.address_space) {
            auto colon = a.find(':');
            rows.push_back({a.substr(0, colon), colon == std::string::npos ? a : a.substr(colon + 1), c.name, c.cost});
        }
    std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.type != b.type ? a.type < b.type : a.cost < b.cost; });
    std::string out = "Gateway Address Routing Table (GWART) of site " + e.org_domain + "\n\n";
    out += pad("Type", 6) + pad("Address space", 24) + pad("Cost", 5) + "Connector\n";
    for (auto& r : rows) out += pad(r.type, 6) + pad(r.space, 24) + pad(std::to_string(r.cost), 5) + r.connector + "\n";
    if (rows.empty()) out += "(no address spaces: mail for other systems has no route)\n";
    for (auto& [name, list] : world_.connector_queues(host_))
        if (!list.empty())
            out += "\n" + name + " has taken " + std::to_string(list.size()) + " message(s), the last: \"" +
                   list.back().subject + "\" to " + join(list.back().to) + "\n";
    return out;
}

std::string console::admin_connector(const words& w) {
    auto* h = here();
    if (w.size() < 3) {
        std::string out = "Connectors on " + h->name + ":\n";
        if (h->exchange->imc.installed) out += "  Internet Mail Connector (see `admin imc`)\n";
        for (auto& c : h->exchange->connectors)
            out += "  " + c.name + ": " + join(c.address_space) + " (cost " + std::to_string(c.cost) + ")\n";
        return out;
    }
    auto name = w[2];
    auto& list = h->exchange->connectors;
    auto it = std::find_if(list.begin(), list.end(), [&](auto& c) { return iequals(c.name, name); });
    if (it == list.end()) return "admin connector: there is no connector called '" + name + "'.\n";
    name = it->name;
    if (w.size() == 3)
        return name + ": address space " + (it->address_space.empty() ? std::string("(none)") : join(it->address_space)) +
               ", cost " + std::to_string(it->cost) + "\n";
    auto edit = [&](const std::function<void(sim::exchange_connector&)>& f, bool remove, const std::string& done) {
        auto err = change_host([&](sim::host_config& x) {
            auto& l = x.exchange->connectors;
            auto i = std::find_if(l.begin(), l.end(), [&](auto& c) { return c.name == name; });
            if (i == l.end()) return std::string("the connector is gone");
            if (remove) l.erase(i);
            else f(*i);
            return std::string{};
        });
        return err.empty() ? done + "\n" : "admin connector: " + err + "\n";
    };
    if (w.size() == 4 && iequals(w[3], "delete")) return edit({}, true, "The connector " + name + " was removed.");
    if (w.size() >= 6 && iequals(w[3], "set")) {
        auto key = to_lower(w[4]);
        std::string value;
        for (std::size_t i = 5; i < w.size(); ++i) value += (i > 5 ? " " : "") + w[i];
        if (key == "address_space") {
            auto spaces = is_none(value) ? std::vector<std::string>{} : split_list(value);
            return edit([&](sim::exchange_connector& c) { c.address_space = spaces; }, false,
                        name + ": address space " + (spaces.empty() ? std::string("(none)") : join(spaces)) + ".");
        }
        if (key == "cost") {
            auto n = parse_count(value);
            if (!n || *n < 1 || *n > 100) return "admin connector: the cost is a number from 1 to 100.\n";
            return edit([&](sim::exchange_connector& c) { c.cost = *n; }, false, name + ": cost " + value + ".");
        }
        return "admin connector: there is no setting '" + w[4] + "' (address_space, cost).\n";
    }
    return usage("admin");
}

std::string console::admin_mailbox(const words& w) {
    auto* h = here();
    auto& boxes = h->exchange->mailboxes;
    if (w.size() == 2) {
        std::string out = pad("Alias", 12) + pad("Display name", 24) + "SMTP addresses\n";
        for (auto& m : boxes) out += pad(m.alias, 12) + pad(m.display_name, 24) + join(m.smtp) + "\n";
        return out;
    }
    auto it = std::find_if(boxes.begin(), boxes.end(), [&](auto& m) { return iequals(m.alias, w[2]); });
    if (it == boxes.end()) return "admin mailbox: there is no mailbox with alias '" + w[2] + "'.\n";
    auto alias = it->alias;
    if (w.size() == 3) {
        std::string out = alias + " (" + it->display_name + ")\n  E-mail addresses:\n";
        for (std::size_t i = 0; i < it->smtp.size(); ++i)
            out += "    " + std::string(i == 0 ? "SMTP " : "smtp ") + it->smtp[i] + (i == 0 ? "  (reply address)" : "") + "\n";
        if (it->smtp.empty()) out += "    (no SMTP address)\n";
        return out;
    }
    if (w.size() != 6 || !iequals(w[4], "smtp") || (!iequals(w[3], "add") && !iequals(w[3], "delete")))
        return usage("admin");
    auto address = to_lower(w[5]);
    if (address.find('@') == std::string::npos) return "admin mailbox: '" + w[5] + "' is not an SMTP address.\n";
    bool add = iequals(w[3], "add");
    if (add)
        for (auto& x : cfg().hosts)
            if (x.exchange)
                for (auto& m : x.exchange->mailboxes)
                    for (auto& a : m.smtp)
                        if (iequals(a, address))
                            return "admin mailbox: " + address + " already belongs to " + m.alias + ".\n";
    auto err = change_host([&](sim::host_config& x) {
        for (auto& m : x.exchange->mailboxes)
            if (m.alias == alias) {
                if (add) m.smtp.push_back(address);
                else std::erase_if(m.smtp, [&](auto& a) { return iequals(a, address); });
            }
        return std::string{};
    });
    if (!err.empty()) return "admin mailbox: " + err + "\n";
    return alias + (add ? " now receives mail for " : " no longer receives mail for ") + address + ".\n";
}

// --- smtpadmin -------------------------------------------------------------------------------

std::string console::delete_rule(const std::string& phase_text, const std::string& who) {
    auto phase = sim::parse_phase(to_lower(phase_text));
    if (!phase) return who + ": the phase is one of banner, ehlo, mail, rcpt, data, dot.\n";
    if (!here()->smtp_service.rules.count(*phase)) return who + ": there is no rule at " + phase_text + ".\n";
    auto err = change_host([&](sim::host_config& x) {
        x.smtp_service.rules.erase(*phase);
        return std::string{};
    });
    return err.empty() ? "The rule at " + to_lower(phase_text) + " was removed.\n" : who + ": " + err + "\n";
}

std::string console::set_rate_limit(const std::string& value, const std::string& who) {
    auto n = is_none(value) ? std::optional<int>(0) : parse_count(value);
    if (!n) return who + ": '" + value + "' is not a number (connections a minute per client, or none).\n";
    auto err = change_host([&](sim::host_config& x) {
        x.smtp_service.rate_limit_per_minute = *n;
        return std::string{};
    });
    return err.empty() ? "rate_limit: " + (*n ? std::to_string(*n) + " connections a minute per client" : std::string("none")) + ".\n"
                       : who + ": " + err + "\n";
}

std::string console::smtpadmin_show() const {
    auto* h = here();
    auto& s = *h->smtp;
    auto& svc = h->smtp_service;
    std::vector<std::string> routes, rules;
    for (auto& r : s.routes) routes.push_back(r.domain + " -> " + r.next_hop);
    for (auto& [phase, rule] : svc.rules) rules.push_back(std::string(sim::to_string(phase)) + ": " + rule_text(rule));
    std::string out = "SMTP service on " + h->name + "\n";
    out += "  Service ............ " + std::string(svc.running ? "running" : "stopped") + "\n";
    out += "  Local domains ...... " + (s.local_domains.empty() ? std::string("(none)") : join(s.local_domains)) + "\n";
    out += "  Mailboxes .......... " + (s.mailboxes.empty() ? std::string("(any user)") : join(s.mailboxes)) + "\n";
    out += "  Relay domains ...... " + (s.relay_domains.empty() ? std::string("(none)") : join(s.relay_domains)) + "\n";
    out += "  Routes ............. " + (routes.empty() ? std::string("(none: DNS)") : join(routes)) + "\n";
    out += "  Smart host ......... " + (s.smart_host.empty() ? std::string("(none)") : s.smart_host) + "\n";
    out += "  max_message_size ... " + size_text(s.max_message_size) + "\n";
    out += "  max_recipients ..... " + std::to_string(s.max_recipients) + "\n";
    out += "  max_hops ........... " + std::to_string(s.max_hops) + "\n";
    out += "  rate_limit ......... " +
           (svc.rate_limit_per_minute ? std::to_string(svc.rate_limit_per_minute) + " connections a minute per client"
                                      : std::string("none")) +
           "\n";
    out += "  backscatter ........ " +
           std::string(svc.bounces_bounces ? "on (accepts unknown users, bounces later)" : "off") + "\n";
    out += "  Policy rules ....... " + (rules.empty() ? std::string("(none)") : join(rules)) + "\n";
    return out;
}

std::string console::smtpadmin(const words& w) {
    auto* h = here();
    if (!h->smtp)
        return "smtpadmin: " + h->name + " is not an SMTP relay or mail store; this command is not available here." +
               (h->exchange ? " (On Exchange, use `admin imc`.)" : "") + "\n";
    if (w.size() == 1 || (w.size() == 2 && iequals(w[1], "show"))) return smtpadmin_show();
    auto sub = to_lower(w[1]);
    auto edit = [&](const std::function<std::string(sim::host_config&)>& f, const std::string& done) {
        auto err = change_host(f);
        return err.empty() ? done + "\n" : "smtpadmin: " + err + "\n";
    };
    if (sub == "queue") {
        if (w.size() == 3 && iequals(w[2], "retry")) {
            world_.retry_queue(host_);
            return "Every message in the queue will be tried now.\n";
        }
        auto q = world_.queue(host_);
        std::string out = "Outbound queue on " + h->name + ": " + std::to_string(q.size()) + " message(s)\n";
        for (auto& m : q) {
            out += "  " + m.id + "  from " + m.from + ", " + std::to_string(m.attempts) + " attempt(s), next " + m.next_attempt +
                   (m.last_error.empty() ? "" : ", last error: " + m.last_error) + "\n";
            for (auto& [who, state] : m.recipients) out += "      to " + who + ": " + state + "\n";
        }
        return out;
    }
    if (sub == "relay" && w.size() == 4 && (iequals(w[2], "add") || iequals(w[2], "delete"))) {
        bool add = iequals(w[2], "add");
        auto d = to_lower(w[3]);
        return edit([&](sim::host_config& x) {
            auto& l = x.smtp->relay_domains;
            std::erase_if(l, [&](auto& e) { return iequals(e, d); });
            if (add) l.push_back(d);
            return std::string{};
        }, add ? "The host relays mail for " + d + "." : "The host no longer relays mail for " + d + ".");
    }
    if (sub == "route") {
        if (w.size() == 5 && iequals(w[2], "add")) {
            auto d = to_lower(w[3]), next = w[4];
            return edit([&](sim::host_config& x) {
                std::erase_if(x.smtp->routes, [&](auto& r) { return iequals(r.domain, d); });
                x.smtp->routes.push_back({d, next});
                return std::string{};
            }, "Mail for " + d + " goes to " + next + ".");
        }
        if (w.size() == 4 && iequals(w[2], "delete")) {
            auto d = w[3];
            if (std::none_of(h->smtp->routes.begin(), h->smtp->routes.end(), [&](auto& r) { return iequals(r.domain, d); }))
                return "smtpadmin: there is no route for " + d + ".\n";
            return edit([&](sim::host_config& x) {
                std::erase_if(x.smtp->routes, [&](auto& r) { return iequals(r.domain, d); });
                return std::string{};
            }, "The route for " + d + " was removed; its mail follows DNS.");
        }
        return usage("smtpadmin");
    }
    if (sub == "rule" && w.size() == 4 && iequals(w[2], "delete")) return delete_rule(w[3], "smtpadmin");
    if (sub != "set" || w.size() < 4) return usage("smtpadmin");
    auto key = to_lower(w[2]);
    std::string value;
    for (std::size_t i = 3; i < w.size(); ++i) value += (i > 3 ? " " : "") + w[i];
    if (key == "max_message_size") {
        auto n = is_none(value) ? std::optional<std::uint64_t>(0) : support::parse_size(value);
        if (!n) return "smtpadmin: '" + value + "' is not a size (like 10MB, or none).\n";
        return edit([&](sim::host_config& x) {
            x.smtp->max_message_size = *n;
            return std::string{};
        }, "max_message_size: " + size_text(*n) + ".");
    }
    if (key == "rate_limit") return set_rate_limit(value, "smtpadmin");
    if (key == "max_recipients" || key == "max_hops") {
        auto n = parse_count(value);
        if (!n || *n < 1) return "smtpadmin: '" + value + "' is not a positive number.\n";
        return edit([&](sim::host_config& x) {
            (key == "max_recipients" ? x.smtp->max_recipients : x.smtp->max_hops) = *n;
            return std::string{};
        }, key + ": " + value + ".");
    }
    if (key == "smart_host") {
        auto v = is_none(value) ? std::string() : value;
        return edit([&](sim::host_config& x) {
            x.smtp->smart_host = v;
            return std::string{};
        }, v.empty() ? "No smart host: mail follows routes and DNS." : "Smart host: " + v + ".");
    }
    if (key == "relay_domains" || key == "local_domains" || key == "mailboxes") {
        auto list = is_none(value) ? std::vector<std::string>{} : split_list(to_lower(value));
        return edit([&](sim::host_config& x) {
            (key == "relay_domains" ? x.smtp->relay_domains : key == "local_domains" ? x.smtp->local_domains : x.smtp->mailboxes) = list;
            return std::string{};
        }, key + ": " + (list.empty() ? std::string("(none)") : join(list)) + ".");
    }
    if (key == "backscatter") {
        auto on = parse_on_off(value);
        if (!on) return "smtpadmin: say on or off.\n";
        return edit([&](sim::host_config& x) {
            x.smtp_service.bounces_bounces = *on;
            return std::string{};
        }, *on ? "The host accepts mail for unknown users and bounces it later."
               : "The host rejects unknown users during the SMTP dialogue.");
    }
    return "smtpadmin: there is no setting '" + w[2] +
           "' (max_message_size, max_recipients, max_hops, rate_limit, smart_host, relay_domains, local_domains, "
           "mailboxes, backscatter).\n";
}

// --- the mail client ---------------------------------------------------------------------------

std::pair<std::string, std::string> console::mail_user() const {
    auto* h = here();
    auto owner_of = [&](const std::string& address) -> const sim::host_config* {
        for (auto& x : cfg().hosts)
            if (x.exchange)
                for (auto& m : x.exchange->mailboxes)
                    for (auto& a : m.smtp)
                        if (iequals(a, address)) return &x;
        return nullptr;
    };
    if (h->exchange || h->smtp) {
        if (!user_.empty()) return {h->name, user_};
        if (h->exchange)
            for (auto& m : h->exchange->mailboxes)
                if (!m.smtp.empty()) return {h->name, m.smtp.front()};
        if (h->smtp) {
            if (!h->smtp->mailboxes.empty()) return {h->name, h->smtp->mailboxes.front()};
            if (!h->smtp->local_domains.empty()) return {h->name, "postmaster@" + h->smtp->local_domains.front()};
        }
        return {h->name, ""};
    }
    // A workstation: its user's mailbox lives on an Exchange server.
    if (!user_.empty())
        if (auto* o = owner_of(user_)) return {o->name, user_};
    for (auto& x : cfg().hosts)
        if (x.exchange)
            for (auto& m : x.exchange->mailboxes)
                if (!m.smtp.empty()) return {x.name, m.smtp.front()};
    return {"", ""};
}

std::string console::client(const words& w) {
    if (w.size() < 2) return usage("client");
    auto sub = to_lower(w[1]);
    auto [server, user] = mail_user();
    if (server.empty()) return "client: there is no mail server for this host's users in the lab.\n";
    if (sub == "user") {
        if (w.size() != 3 || w[2].find('@') == std::string::npos) return usage("client");
        user_ = to_lower(w[2]);
        last_list_.clear();
        auto [s, u] = mail_user();
        return "The client now acts as " + u + " (mail server " + s + ").\n";
    }
    if (sub == "send") {
        std::vector<std::string> to;
        std::string from = user, subject = "Test message";
        std::uint64_t size = 0;
        int recipients = 0;
        for (std::size_t i = 2; i < w.size(); ++i) {
            auto opt = to_lower(w[i]);
            if (i + 1 >= w.size()) return "client: " + w[i] + " needs a value.\n" + usage("client");
            auto value = w[++i];
            if (opt == "--to") {
                for (auto& a : split_list(value)) to.push_back(a);
            } else if (opt == "--from") {
                from = value;
            } else if (opt == "--subject") {
                subject = value;
            } else if (opt == "--size") {
                auto s = support::parse_size(value);
                if (!s) return "client: '" + value + "' is not a size (like 5MB).\n";
                size = *s;
            } else if (opt == "--recipients") {
                auto n = parse_count(value);
                if (!n || *n < 1 || *n > 10000) return "client: --recipients is a number from 1 to 10000.\n";
                recipients = *n;
            } else {
                return "client: unknown option " + w[i - 1] + ".\n" + usage("client");
            }
        }
        if (to.empty()) return "client: say whom to send to with --to.\n" + usage("client");
        for (auto& a : to)
            if (a.find('@') == std::string::npos) return "client: '" + a + "' is not an SMTP address.\n";
        if (from.empty()) return "client: this host has no mail user; give --from.\n";
        // --recipients N: the first address and N-1 more in its domain, for limits.
        auto domain = to.front().substr(to.front().find('@') + 1);
        for (int i = static_cast<int>(to.size()); i < recipients; ++i) to.push_back("user" + std::to_string(i) + "@" + domain);
        std::string error;
        auto id = world_.send_mail(server, from, to, subject, size, error);
        if (id.empty()) return "client: the message was not sent: " + error + "\n";
        return "Message " + id + " from " + from + " to " + join(to.size() > 5 ? std::vector<std::string>(to.begin(), to.begin() + 5) : to) +
               (to.size() > 5 ? " and " + std::to_string(to.size() - 5) + " more" : "") + " was submitted to " + server + ".\n";
    }
    if (sub == "inbox" || sub == "outbox" || sub == "sent") {
        if (w.size() != 2) return usage("client");
        last_list_ = world_.folder(server, user, sub);
        std::string out = upper(sub.substr(0, 1)) + sub.substr(1) + " of " + user + " (" + std::to_string(last_list_.size()) +
                          (last_list_.size() == 1 ? " message)\n" : " messages)\n");
        for (std::size_t i = 0; i < last_list_.size(); ++i) {
            auto& m = last_list_[i];
            out += "  " + pad(std::to_string(i + 1), 3) + pad(m.date.substr(0, 25), 26) +
                   pad(sub == "inbox" ? m.from : join(m.to), 28) + m.subject + "\n";
        }
        return out;
    }
    if (sub == "read") {
        if (w.size() != 3) return usage("client");
        if (last_list_.empty()) last_list_ = world_.folder(server, user, "inbox");
        auto n = parse_count(w[2]);
        if (!n || *n < 1 || static_cast<std::size_t>(*n) > last_list_.size())
            return "client: there is no message " + w[2] + " in the last folder listed (" + std::to_string(last_list_.size()) +
                   (last_list_.size() == 1 ? " message).\n" : " messages).\n");
        auto& m = last_list_[static_cast<std::size_t>(*n - 1)];
        auto text = m.data;
        // Long bodies (a --size test) are cut; headers and the start are what matter.
        if (text.size() > 8000) text = text.substr(0, 8000) + "\n[... " + std::to_string(m.data.size() - 8000) + " more bytes]\n";
        std::string out;
        for (std::size_t i = 0; i < text.size(); ++i)
            if (text[i] != '\r') out += text[i];
        if (!out.empty() && out.back() != '\n') out += "\n";
        return out;
    }
    return "client: there is no '" + w[1] + "' here (send, inbox, outbox, sent, read, user).\n" + usage("client");
}

// --- netmon -----------------------------------------------------------------------------------

std::string console::netmon(const words& w) const {
    std::size_t limit = 40;
    if (w.size() == 2) {
        auto n = parse_count(w[1]);
        if (!n || *n < 1) return usage("netmon");
        limit = static_cast<std::size_t>(*n);
    } else if (w.size() > 2) {
        return usage("netmon");
    }
    auto lines = world_.traffic(host_);
    std::string out = "Network Monitor on " + here()->name + ", " + world_.clock_text() + "\n";
    if (lines.empty()) return out + "(no traffic yet)\n";
    std::size_t first = lines.size() > limit ? lines.size() - limit : 0;
    for (std::size_t i = first; i < lines.size(); ++i) {
        auto& l = lines[i];
        auto text = l.text;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        out += l.time + "  " + (l.outbound ? "-> " : "<- ") + pad(l.peer, 15) + text + "\n";
    }
    return out;
}

}  // namespace trainer
