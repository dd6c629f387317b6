#include "simulator/deep_plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "simulator/faults.hpp"
#include "simulator/net.hpp"
#include "support/text.hpp"

namespace sim {

namespace {

bool smtp_role(const host_config& h) {
    return h.has_role(role::relay) || h.has_role(role::mailstore) || h.has_role(role::exchange);
}

std::string domain_of(const std::string& address) {
    auto at = address.find('@');
    return at == std::string::npos ? std::string() : support::to_lower(address.substr(at + 1));
}

/// The lab's vantage host as the lab decides it.
const host_config* vantage_of(const scenario& s) {
    auto& c = s.answer;
    if (auto* h = c.find_host(s.meta.vantage); h && !s.meta.vantage.empty()) return h;
    for (auto& h : c.hosts)
        if (h.has_role(role::client)) return &h;
    return c.hosts.empty() ? nullptr : &c.hosts.front();
}

/// Hosts that reach `target` in the answer configuration, the vantage host first.
std::vector<const host_config*> sources_for(const scenario& s, const host_config& target) {
    std::vector<const host_config*> out;
    network model(s.answer);
    auto consider = [&](const host_config* h) {
        if (!h || h == &target || std::find(out.begin(), out.end(), h) != out.end()) return;
        if (model.reachable(h->address, target.address)) out.push_back(h);
    };
    consider(vantage_of(s));
    for (auto& h : s.answer.hosts) consider(&h);
    return out;
}

const host_config* source_for(const scenario& s, const host_config& target) {
    auto v = sources_for(s, target);
    return v.empty() ? nullptr : v.front();
}

/// Every mailbox address of the scenario, with the host that keeps it.
std::vector<std::pair<std::string, const host_config*>> mailboxes(const configuration& c) {
    std::vector<std::pair<std::string, const host_config*>> out;
    for (auto& h : c.hosts) {
        if (h.exchange)
            for (auto& m : h.exchange->mailboxes)
                for (auto& a : m.smtp) out.emplace_back(support::to_lower(a), &h);
        if (h.smtp)
            for (auto& m : h.smtp->mailboxes) out.emplace_back(support::to_lower(m), &h);
    }
    return out;
}

/// A recipient that `h` accepts for local delivery, or "".
std::string local_recipient(const host_config& h) {
    if (h.exchange)
        for (auto& m : h.exchange->mailboxes)
            if (!m.smtp.empty()) return m.smtp.front();
    if (h.smtp) {
        for (auto& m : h.smtp->mailboxes)
            if (!support::to_lower(m).starts_with("postmaster@")) return m;
        if (!h.smtp->mailboxes.empty()) return h.smtp->mailboxes.front();
    }
    return {};
}

/// A sender address for mail from `h`: one of its own mailboxes when it has one.
std::string sender_for(const host_config* h) {
    if (h) {
        if (auto r = local_recipient(*h); !r.empty()) return r;
        if (!h->fqdn.empty()) return "deep-probe@" + h->fqdn;
    }
    return "deep-probe@lab.example";
}

/// A mailbox outside `exchange` for its users to write to: a mail store's (as
/// the default checks choose), else a relay's, else one on another Exchange
/// server (the other site of a two-site organisation).
std::string internet_mailbox(const configuration& c, const host_config& exchange) {
    for (int pass = 0; pass < 2; ++pass)
        for (auto& h : c.hosts) {
            if (&h == &exchange || !h.smtp) continue;
            if (pass == 0 && !h.has_role(role::mailstore)) continue;
            for (auto& m : h.smtp->mailboxes)
                if (!support::to_lower(m).starts_with("postmaster@")) return m;
        }
    for (auto& h : c.hosts)
        if (&h != &exchange && h.exchange)
            if (auto r = local_recipient(h); !r.empty()) return r;
    return {};
}

/// A mailbox in `domain`, or "".
std::string mailbox_in(const configuration& c, const std::string& domain) {
    for (auto& [a, h] : mailboxes(c))
        if (domain_of(a) == support::to_lower(domain)) return a;
    return {};
}

/// A DNS name to ask `server` about: the first A record of its first zone, else the zone itself (SOA).
std::pair<std::string, std::uint16_t> name_at(const configuration& c, const host_config& server) {
    for (auto& z : c.zones)
        if (support::iequals(z.server, server.name) || support::iequals(z.server, server.fqdn)) {
            for (auto& r : z.records)
                if (r.type == 1 && !r.owner.starts_with("*")) return {r.owner, 1};
            return {z.origin, 6};
        }
    return {"", 1};
}

/// The DNS servers whose zones hold `name`.
std::vector<const host_config*> servers_of(const configuration& c, const std::string& name) {
    std::vector<const host_config*> out;
    auto n = support::to_lower(name);
    while (!n.empty() && n.back() == '.') n.pop_back();
    for (auto& z : c.zones) {
        if (!(n == z.origin || n.ends_with("." + z.origin))) continue;
        auto* h = c.find_host(z.server);
        if (h && std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
    }
    return out;
}

deep_probe connect_probe(const host_config& from, const host_config& to, int port, std::vector<std::string> shows) {
    deep_probe p;
    p.what = deep_probe::kind::connect;
    p.from = from.name;
    p.to = to.name;
    p.port = port;
    p.key = "connect " + from.name + " " + to.name + " " + std::to_string(port);
    p.text = "connect from " + from.name + " to " + to.name + " port " + std::to_string(port);
    p.shows = std::move(shows);
    return p;
}

deep_probe smtp_probe(const host_config& from, const host_config& to, std::string mail_from,
                      std::vector<std::string> rcpts, std::uint64_t size, std::vector<std::string> shows) {
    deep_probe p;
    p.what = deep_probe::kind::smtp;
    p.from = from.name;
    p.to = to.name;
    p.mail_from = std::move(mail_from);
    p.rcpts = std::move(rcpts);
    p.size = size;
    p.key = "smtp " + from.name + " " + to.name + " " + p.mail_from + " " + std::to_string(size);
    for (auto& r : p.rcpts) p.key += " " + r;
    p.text = "SMTP from " + from.name + " to " + to.name;
    if (!p.rcpts.empty())
        p.text += " (RCPT " + p.rcpts.front() + (p.rcpts.size() > 1 ? " and " + std::to_string(p.rcpts.size() - 1) + " more" : "") + ")";
    if (size) p.text += " with a " + support::format_size(size) + " message";
    p.shows = std::move(shows);
    return p;
}

deep_probe lookup_probe(const host_config& from, const host_config* server, const std::string& name, std::uint16_t type,
                        std::vector<std::string> shows) {
    deep_probe p;
    p.what = deep_probe::kind::lookup;
    p.from = from.name;
    p.server = server ? server->name : "";
    p.name = name;
    p.type = type;
    p.key = "lookup " + from.name + " " + p.server + " " + name + " " + std::to_string(type);
    p.text = "lookup of " + name + " " + fake_dns::type_name(type) + (server ? " at " + server->name : "") + " from " +
             from.name + (server ? "" : " (its own DNS servers)");
    p.shows = std::move(shows);
    return p;
}

deep_probe deliver_probe(const std::string& from, const std::string& to, const std::string& via,
                         std::vector<std::string> shows) {
    deep_probe p;
    p.what = deep_probe::kind::deliver;
    p.check.kind = "deliver";
    p.check.from = from;
    p.check.to = to;
    p.check.via = via;
    p.check.expect = "delivered";
    p.check.within = std::chrono::minutes(5);
    p.from = via;
    p.key = "deliver " + from + " " + to + " " + via;
    p.text = "mail from " + from + " to " + to + " sent on " + via;
    p.shows = std::move(shows);
    return p;
}

std::vector<std::string> host_list(const fault& f, std::string_view key) { return f.list(key); }

}  // namespace

bool probe_shows(const deep_probe& p, const std::string& outcome) {
    for (auto& pattern : p.shows) {
        if (pattern.starts_with("!")) {
            if (outcome.find(pattern.substr(1)) == std::string::npos) return true;
        } else if (outcome.find(pattern) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::vector<deep_probe> symptom_probes(const scenario& s, const fault& f) {
    std::vector<deep_probe> out;
    auto& c = s.answer;
    auto& k = f.kind;
    auto* host = c.find_host(fault_target(f));
    auto smtp_from = [&](const host_config& target, std::vector<std::string> rcpts, std::uint64_t size,
                         std::vector<std::string> shows) {
        if (auto* src = source_for(s, target))
            out.push_back(smtp_probe(*src, target, sender_for(src), std::move(rcpts), size, std::move(shows)));
    };
    auto connect_from = [&](const host_config& target, int port, std::vector<std::string> shows) {
        if (auto* src = source_for(s, target)) out.push_back(connect_probe(*src, target, port, std::move(shows)));
    };
    // An Exchange user's message to the Internet: what the MTA, GWART and IMC do with it.
    auto outbound_from = [&](const host_config& exchange, std::vector<std::string> shows, std::string to = {}) {
        auto from = local_recipient(exchange);
        if (to.empty()) to = internet_mailbox(c, exchange);
        if (!from.empty() && !to.empty()) out.push_back(deliver_probe(from, to, exchange.name, std::move(shows)));
    };

    if (k == "imc.not_installed" || k == "imc.stopped") {
        if (host) connect_from(*host, 25, {"refused"});
    } else if (k == "imc.start_fails") {
        if (host) {
            // Without TCP/IP (1075, 7003) the host answers nothing: its address times out.
            connect_from(*host, 25, {"refused", "timeout"});
            deep_probe p;
            p.what = deep_probe::kind::service;
            p.to = host->name;
            p.from = host->name;
            p.service = "msexchangeimc";
            p.key = "service " + host->name + " msexchangeimc";
            p.text = "`net start msexchangeimc` on " + host->name;
            p.shows = {"fails"};
            out.push_back(std::move(p));
        }
    } else if (k == "imc.transfer_mode") {
        auto mode = support::to_lower(f.text("mode"));
        if (host && (mode == "none" || mode == "outbound")) connect_from(*host, 25, {"refused"});
        if (host && (mode == "none" || mode == "inbound")) outbound_from(*host, {"queued"});
    } else if (k == "imc.address_space" || k == "imc.resolver_search_list") {
        if (host) outbound_from(*host, {"bounced"});
    } else if (k == "imc.email_domain") {
        if (host) {
            auto to = mailbox_in(c, f.text("domain"));
            if (to.empty()) to = "postmaster@" + support::to_lower(f.text("domain"));
            outbound_from(*host, {"queued"}, to);
        }
    } else if (k == "mta.stopped") {
        if (host) outbound_from(*host, {"queued"});
    } else if (k == "gwart.other_connector") {
        if (host) outbound_from(*host, {"taken by the connector"});
    } else if (k == "mailbox.missing_address") {
        auto address = support::to_lower(f.text("address"));
        for (auto& [a, owner] : mailboxes(c))
            if (a == address && owner->exchange) {
                smtp_from(*owner, {address}, 0, {"rcpt 550"});
                break;
            }
    } else if (k.starts_with("net.")) {
        // Every host to every service a client can use: the pairs the fault cuts time out.
        std::vector<std::pair<const host_config*, int>> services;
        for (auto& h : c.hosts) {
            if (h.has_role(role::dns)) services.emplace_back(&h, 53);
            if (smtp_role(h)) services.emplace_back(&h, 25);
        }
        for (auto& from : c.hosts)
            for (auto& [to, port] : services)
                if (&from != to) out.push_back(connect_probe(from, *to, port, {"timeout"}));
        if (k == "net.wrong_dns_server" && host) {
            const host_config* first = host->dns_servers.empty() ? nullptr : c.host_at(host->dns_servers.front());
            auto [name, type] = first ? name_at(c, *first) : std::pair<std::string, std::uint16_t>{"", 1};
            if (!name.empty()) out.push_back(lookup_probe(*host, nullptr, name, type, {"!answer"}));
        }
    } else if (k == "dns.bad_a_record" || k == "dns.missing_a_record" || k == "dns.bad_mx" || k == "dns.missing_mx") {
        bool mx = k.find("mx") != std::string::npos;
        auto name = f.text(mx ? "domain" : "name");
        std::vector<std::string> shows;
        if (k == "dns.bad_a_record") shows = {"answer [" + f.text("address") + "]"};
        else if (k == "dns.bad_mx") {
            auto x = support::to_lower(f.text("exchange"));
            while (!x.empty() && x.back() == '.') x.pop_back();
            shows = {" " + x + "]"};
        } else shows = {"nxdomain", "nodata"};
        for (auto* server : servers_of(c, name)) out.push_back(lookup_probe(*server, server, name, mx ? 15 : 1, shows));
    } else if (k.starts_with("dns.")) {
        if (host) {
            auto names = f.list("names");
            auto [name, type] = name_at(c, *host);
            if (k == "dns.servfail" && !names.empty() && !names.front().empty()) name = names.front(), type = 1;
            std::vector<std::string> shows;
            if (k == "dns.server_down") shows = {"timeout"};
            else if (k == "dns.servfail") shows = {"servfail"};
            else if (k == "dns.slow") shows = {"late", "timeout"};
            else shows = {"!answer"};  // dns.truncated: TC set over UDP, TCP refused
            if (!name.empty()) {
                auto p = lookup_probe(*host, host, name, type, shows);
                if (k == "dns.slow")
                    if (auto d = support::parse_duration(f.text("delay"))) p.late_after = *d;
                out.push_back(std::move(p));
            }
            if (k == "dns.server_down") connect_from(*host, 53, {"timeout"});
            if (k == "dns.truncated") connect_from(*host, 53, {"refused"});
        }
    } else if (k == "smtp.port_closed") {
        if (host) connect_from(*host, 25, {"refused"});
    } else if (k == "smtp.filtered") {
        if (host) connect_from(*host, 25, {"timeout"});
    } else if (k == "smtp.stall" || k == "smtp.reject" || k == "smtp.tempfail" || k == "smtp.disconnect") {
        if (host) {
            auto phase = support::to_lower(f.text("phase"));
            std::string pattern = k == "smtp.stall"        ? "silence at " + phase
                                  : k == "smtp.disconnect" ? "closed at " + phase
                                                           : phase + " " + f.text("code");
            auto rcpt = local_recipient(*host);
            smtp_from(*host, {rcpt.empty() ? "postmaster@" + (host->fqdn.empty() ? "lab.example" : host->fqdn) : rcpt}, 0,
                      {pattern});
        }
    } else if (k == "smtp.size_limit") {
        if (host)
            if (auto size = support::parse_size(f.text("size"))) {
                auto rcpt = local_recipient(*host);
                if (!rcpt.empty()) smtp_from(*host, {rcpt}, *size + 4096, {"mail 552", "dot 552"});
            }
    } else if (k == "smtp.recipient_limit") {
        if (host) {
            auto max = std::atoi(f.text("max").c_str());
            auto rcpt = local_recipient(*host);
            if (!rcpt.empty() && max > 0 && max < 1000)
                smtp_from(*host, std::vector<std::string>(static_cast<std::size_t>(max) + 1, rcpt), 0, {"rcpt 452"});
        }
    } else if (k == "smtp.relay_denied") {
        if (host) {
            auto domain = support::to_lower(f.text("domain"));
            auto to = mailbox_in(c, domain);
            smtp_from(*host, {to.empty() ? "postmaster@" + domain : to}, 0, {"rcpt 554"});
        }
    } else if (k == "smtp.rate_limit") {
        if (host)
            if (auto* src = source_for(s, *host)) {
                deep_probe p;
                p.what = deep_probe::kind::burst;
                p.from = src->name;
                p.to = host->name;
                p.count = std::atoi(f.text("per_minute").c_str()) + 2;
                p.key = "burst " + src->name + " " + host->name + " " + std::to_string(p.count);
                p.text = std::to_string(p.count) + " connections in a row from " + src->name + " to " + host->name;
                p.shows = {"421"};
                if (p.count > 2 && p.count <= 1002) out.push_back(std::move(p));
            }
    } else if (k == "mail.routing_loop") {
        auto hosts = host_list(f, "hosts");
        auto* first = hosts.empty() ? nullptr : c.find_host(hosts.front());
        auto domain = support::to_lower(f.text("domain"));
        if (first && first->smtp) {
            auto to = mailbox_in(c, domain);
            if (to.empty()) to = "postmaster@" + domain;
            // The sender must get the report: a mailbox of the first host, else of the vantage host.
            auto from = local_recipient(*first);
            if (from.empty() && vantage_of(s)) from = local_recipient(*vantage_of(s));
            if (!from.empty() && domain_of(from) != domain) out.push_back(deliver_probe(from, to, first->name, {"bounced"}));
        }
    } else if (k == "mail.ndr_loop") {
        // A host that bounces bounces accepts unknown users at RCPT (and bounces later).
        for (auto& name : host_list(f, "hosts")) {
            auto* h = c.find_host(name);
            if (!h || !h->smtp || h->smtp->local_domains.empty()) continue;
            smtp_from(*h, {"nobody-deep-probe@" + h->smtp->local_domains.front()}, 0, {"rcpt 250"});
            break;
        }
    }
    return out;
}

std::vector<fault_spec> deep_alternatives(const fault_spec& spec, std::size_t limit) {
    fault_spec base = spec;
    base.timing = {};
    std::vector<std::string> picked;
    std::size_t combos = 1;
    for (auto& [key, p] : base.params)
        if (p.choices.size() > 1) {
            picked.push_back(key);
            combos *= p.choices.size();
        }
    auto with = [&](const std::map<std::string, std::size_t>& index) {
        fault_spec one = base;
        for (auto& [key, i] : index) {
            auto& p = one.params[key];
            p.choices = {p.choices[i]};
            p.picked = false;
        }
        return one;
    };
    std::vector<fault_spec> out;
    if (picked.empty()) return {base};
    if (combos <= limit) {
        std::map<std::string, std::size_t> index;
        for (auto& key : picked) index[key] = 0;
        for (std::size_t n = 0; n < combos; ++n) {
            out.push_back(with(index));
            for (auto& key : picked) {  // odometer
                if (++index[key] < base.params[key].choices.size()) break;
                index[key] = 0;
            }
        }
        return out;
    }
    // Too many combinations: each value of each picked parameter once, the others at their first value.
    for (auto& key : picked)
        for (std::size_t i = 0; i < base.params[key].choices.size(); ++i) {
            std::map<std::string, std::size_t> index;
            for (auto& other : picked) index[other] = 0;
            index[key] = i;
            out.push_back(with(index));
        }
    return out;
}


}  // namespace sim
