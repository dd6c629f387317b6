#include "trainer/fixes.hpp"

#include "fake_dns/record.hpp"
#include "simulator/catalogue.hpp"
#include "support/ipv4.hpp"
#include "support/text.hpp"

namespace trainer {

namespace {

using sim::fault;

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
    return out;
}

// The host a fault parameter names, as the answer configuration has it.
const sim::host_config* host_named(const sim::configuration& answer, const std::string& name) {
    return answer.find_host(name);
}

// The answer's records of `owner`/`type`, written back zone by zone on each server.
std::vector<console_step> restore_records(const sim::configuration& answer, const std::string& name, std::uint16_t type) {
    std::vector<console_step> out;
    auto owner = fake_dns::canonical_name(name);
    for (auto& z : answer.zones) {
        if (!fake_dns::in_zone(owner, z.origin)) continue;
        bool first = true;
        for (auto& r : z.records) {
            if (r.owner != owner || r.type != type) continue;
            out.push_back({z.server, std::string("dnsadmin ") + (first ? "set " : "add ") + z.origin + " " + owner + ". " +
                                         fake_dns::type_name(type) + " " + fake_dns::rdata_to_text(r)});
            first = false;
        }
    }
    return out;
}

// Where an SMTP setting lives: smtpadmin on relays and mail stores, the IMC on Exchange.
std::string smtp_admin(const sim::host_config& h) { return h.smtp ? "smtpadmin" : "admin imc"; }

std::string size_value(std::uint64_t v) { return v == 0 ? "none" : support::format_size(v); }

}  // namespace

std::vector<console_step> fixes_for(const fault& f, const sim::configuration& answer) {
    const auto& k = f.kind;
    auto host = f.text("host");
    const auto* h = host_named(answer, host);
    auto name = h ? h->name : host;
    std::vector<console_step> out;
    auto imc_start = [&] {
        if (h && h->exchange && h->exchange->imc.running) out.push_back({name, "net start msexchangeimc"});
    };
    if (k == "imc.not_installed") {
        out.push_back({name, "admin imc install"});
        imc_start();
    } else if (k == "imc.stopped") {
        out.push_back({name, "net start msexchangeimc"});
    } else if (k == "imc.start_fails") {
        auto* sf = sim::find_start_failure(f.text("event_id"));
        std::string blocker = sf ? std::string(sf->blocker) : "";
        if (blocker == "tcpip") out.push_back({name, "netcfg install tcpip"});
        else if (blocker == "configuration") out.push_back({name, "admin imc configure"});
        else if (blocker == "mapi") out.push_back({name, "admin imc grant"});
        else if (blocker == "queue") out.push_back({name, "admin imc rebuildqueue"});
        else if (blocker == "crash") out.push_back({name, "admin imc reinstall"});
        out.push_back({name, "net start msexchangeimc"});
    } else if (k == "imc.transfer_mode" && h && h->exchange) {
        out.push_back({name, "admin imc set transfer_mode " + std::string(sim::to_string(h->exchange->imc.mode))});
    } else if (k == "imc.address_space" && h && h->exchange) {
        out.push_back({name, "admin imc set address_space " +
                                 (h->exchange->imc.address_space.empty() ? std::string("none") : join(h->exchange->imc.address_space, ","))});
    } else if (k == "imc.resolver_search_list" && h && h->exchange) {
        auto& l = h->exchange->imc.resolver_search_list;
        out.push_back({name, "admin imc set resolver_search_list " + (l.empty() ? std::string("none") : join(l, ","))});
    } else if (k == "imc.email_domain" && h && h->exchange) {
        auto domain = support::to_lower(f.text("domain"));
        std::string target;
        for (auto& d : h->exchange->imc.email_domains)
            if (support::iequals(d.domain, domain)) target = d.host;
        out.push_back({name, target.empty() ? "admin imc domain delete " + domain : "admin imc domain add " + domain + " " + target});
    } else if (k == "mta.stopped") {
        out.push_back({name, "net start msexchangemta"});
    } else if (k == "gwart.other_connector" && h && h->exchange) {
        auto connector = f.text("connector");
        const sim::exchange_connector* original = nullptr;
        for (auto& c : h->exchange->connectors)
            if (support::iequals(c.name, connector)) original = &c;
        if (!original) {
            out.push_back({name, "admin connector " + connector + " delete"});
        } else {
            out.push_back({name, "admin connector " + original->name + " set address_space " +
                                     (original->address_space.empty() ? std::string("none") : join(original->address_space, ","))});
            out.push_back({name, "admin connector " + original->name + " set cost " + std::to_string(original->cost)});
        }
    } else if (k == "mailbox.missing_address") {
        auto address = f.text("address");
        for (auto& x : answer.hosts)
            if (x.exchange)
                for (auto& m : x.exchange->mailboxes)
                    for (auto& a : m.smtp)
                        if (support::iequals(a, address)) out.push_back({x.name, "admin mailbox " + m.alias + " add smtp " + a});
    } else if (k == "net.wrong_address" && h) {
        out.push_back({name, "netcfg set address " + support::format_ipv4(h->address)});
    } else if (k == "net.wrong_gateway" && h) {
        out.push_back({name, "netcfg set gateway " + (h->gateway ? support::format_ipv4(*h->gateway) : std::string("none"))});
    } else if (k == "net.wrong_dns_server" && h) {
        std::vector<std::string> servers;
        for (auto a : h->dns_servers) servers.push_back(support::format_ipv4(a));
        out.push_back({name, "netcfg set dns " + (servers.empty() ? std::string("none") : join(servers, ","))});
    } else if (k == "net.ip_routing_disabled") {
        // Routers are managed from any host's console.
        if (!answer.hosts.empty()) out.push_back({answer.hosts.front().name, "router " + f.text("router") + " routing on"});
    } else if (k == "net.link_down") {
        auto ends = f.list("routers");
        if (ends.size() == 2 && !answer.hosts.empty())
            out.push_back({answer.hosts.front().name, "router link " + ends[0] + " " + ends[1] + " up"});
    } else if (k == "dns.bad_a_record" || k == "dns.missing_a_record") {
        out = restore_records(answer, f.text("name"), 1);
    } else if (k == "dns.bad_mx" || k == "dns.missing_mx") {
        out = restore_records(answer, f.text("domain"), 15);
    } else if (k == "dns.server_down" || k == "dns.slow" || k == "dns.truncated" || k == "dns.servfail") {
        auto* s = host_named(answer, f.text("server"));
        auto server = s ? s->name : f.text("server");
        if (k == "dns.servfail") out.push_back({server, "dnsadmin reload"});
        else if (k == "dns.server_down") out.push_back({server, "net start dns"});
        else {
            // A hung or broken server process: restart it.
            out.push_back({server, "net stop dns"});
            out.push_back({server, "net start dns"});
        }
    } else if (k == "smtp.port_closed" && h) {
        out.push_back({name, h->smtp ? "net start smtpsvc" : "net start msexchangeimc"});
    } else if (k == "smtp.filtered") {
        out.push_back({name, "netcfg set firewall off"});
    } else if (k == "smtp.stall" && h) {
        auto svc = h->smtp ? std::string("smtpsvc") : std::string("msexchangeimc");
        out.push_back({name, "net stop " + svc});
        out.push_back({name, "net start " + svc});
    } else if (k == "smtp.size_limit" && h) {
        auto v = h->smtp ? h->smtp->max_message_size : h->exchange ? h->exchange->imc.max_message_size : 0;
        out.push_back({name, smtp_admin(*h) + " set max_message_size " + size_value(v)});
    } else if (k == "smtp.recipient_limit" && h) {
        auto v = h->smtp ? h->smtp->max_recipients : h->exchange ? h->exchange->imc.max_recipients : 0;
        out.push_back({name, smtp_admin(*h) + " set max_recipients " + (v ? std::to_string(v) : std::string("none"))});
    } else if (k == "smtp.relay_denied") {
        out.push_back({name, "smtpadmin relay add " + support::to_lower(f.text("domain"))});
    } else if ((k == "smtp.reject" || k == "smtp.tempfail" || k == "smtp.disconnect") && h) {
        out.push_back({name, smtp_admin(*h) + " rule delete " + f.text("phase")});
    } else if (k == "smtp.rate_limit" && h) {
        out.push_back({name, smtp_admin(*h) + " set rate_limit none"});
    } else if (k == "mail.routing_loop") {
        auto domain = support::to_lower(f.text("domain"));
        for (auto& n : f.list("hosts")) {
            auto* x = host_named(answer, n);
            if (!x || !x->smtp) continue;
            std::string next;
            for (auto& r : x->smtp->routes)
                if (support::iequals(r.domain, domain)) next = r.next_hop;
            out.push_back({x->name, next.empty() ? "smtpadmin route delete " + domain : "smtpadmin route add " + domain + " " + next});
            // The loop made the host relay the domain too; the answer may not.
            bool relays = false;
            for (auto& d : x->smtp->relay_domains) relays = relays || support::iequals(d, domain);
            if (!relays) out.push_back({x->name, "smtpadmin relay delete " + domain});
        }
    } else if (k == "mail.ndr_loop") {
        for (auto& n : f.list("hosts")) {
            auto* x = host_named(answer, n);
            out.push_back({x ? x->name : n, "smtpadmin set backscatter off"});
        }
    }
    return out;
}

}  // namespace trainer
