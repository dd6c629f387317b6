#include "simulator/faults.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "simulator/catalogue.hpp"
#include "support/random.hpp"
#include "support/text.hpp"

namespace sim {

std::vector<fault> resolve_faults(const std::vector<fault_spec>& specs, std::uint64_t seed) {
    std::vector<fault> out;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        auto& s = specs[i];
        fault f;
        f.id = s.id.empty() ? "f" + std::to_string(i + 1) : s.id;
        f.kind = s.kind;
        f.timing = s.timing;
        for (auto& [key, param] : s.params) {
            if (param.choices.empty()) continue;
            // Each parameter draws from its own stream, so adding a fault or a
            // parameter elsewhere never changes this choice.
            support::rng gen(seed ^ support::fnv1a(f.id) ^ (support::fnv1a(key) << 1));
            auto index = param.choices.size() == 1 ? 0 : gen.below(param.choices.size());
            f.params[key] = param.choices[index];
        }
        out.push_back(std::move(f));
    }
    return out;
}

std::string fault_target(const fault& f) {
    auto* kind = find_fault_kind(f.kind);
    if (!kind || kind->params.empty()) return {};
    return f.text(kind->params.front().name);
}

namespace {

// Each fault kind names one aspect of the live configuration. `aspect` gives
// access to it in a configuration (live or answer) and `inject` sets it.
struct aspect_ops {
    std::function<void(configuration&, const fault&)> inject;
    std::function<bool(const configuration&, const configuration&, const fault&)> same;
    std::function<void(configuration&, const configuration&, const fault&)> restore;
};

// An aspect reachable through a pointer to one field: same = equal values,
// restore = copy the answer's value.
template <typename T>
aspect_ops field_aspect(std::function<T*(configuration&, const fault&)> get,
                        std::function<void(T&, configuration&, const fault&)> set) {
    aspect_ops ops;
    ops.inject = [get, set](configuration& c, const fault& f) {
        if (auto* p = get(c, f)) set(*p, c, f);
    };
    ops.same = [get](const configuration& live, const configuration& answer, const fault& f) {
        auto* a = get(const_cast<configuration&>(live), f);
        auto* b = get(const_cast<configuration&>(answer), f);
        if (!a || !b) return a == b;
        return *a == *b;
    };
    ops.restore = [get](configuration& live, const configuration& answer, const fault& f) {
        auto* a = get(live, f);
        auto* b = get(const_cast<configuration&>(answer), f);
        if (a && b) *a = *b;
    };
    return ops;
}

host_config* host_of(configuration& c, const fault& f, std::string_view key = "host") {
    return c.find_host(f.text(key));
}

imc_config* imc_of(configuration& c, const fault& f) {
    auto* h = host_of(c, f);
    return h && h->exchange ? &h->exchange->imc : nullptr;
}

std::uint16_t type_of_kind(std::string_view kind) {
    return kind.find("mx") != std::string_view::npos ? 15 : 1;  // MX or A
}

std::string record_name(const fault& f) {
    return fake_dns::canonical_name(f.kind.find("mx") != std::string::npos ? f.text("domain") : f.text("name"));
}

// The records of one owner and type across every zone that holds the name:
// split views each carry their own copy, and a record fault changes them all.
std::vector<std::vector<fake_dns::record>> rrsets(const configuration& c, const std::string& owner, std::uint16_t type) {
    std::vector<std::vector<fake_dns::record>> out;
    for (auto& z : c.zones) {
        if (!fake_dns::in_zone(owner, z.origin)) continue;
        std::vector<fake_dns::record> set;
        for (auto& r : z.records)
            if (r.owner == owner && r.type == type) set.push_back(r);
        out.push_back(std::move(set));
    }
    return out;
}

void replace_rrset(configuration& c, const std::string& owner, std::uint16_t type,
                   const std::function<std::vector<fake_dns::record>(const std::vector<fake_dns::record>&)>& make) {
    for (auto& z : c.zones) {
        if (!fake_dns::in_zone(owner, z.origin)) continue;
        std::vector<fake_dns::record> old;
        std::vector<fake_dns::record> kept;
        for (auto& r : z.records) (r.owner == owner && r.type == type ? old : kept).push_back(r);
        if (old.empty()) continue;  // a view without the record stays as it is
        auto fresh = make(old);
        kept.insert(kept.end(), fresh.begin(), fresh.end());
        z.records = std::move(kept);
    }
}

aspect_ops record_aspect(std::function<std::vector<fake_dns::record>(const fault&, const std::vector<fake_dns::record>&)> make) {
    aspect_ops ops;
    ops.inject = [make](configuration& c, const fault& f) {
        replace_rrset(c, record_name(f), type_of_kind(f.kind),
                      [&](const std::vector<fake_dns::record>& old) { return make(f, old); });
    };
    ops.same = [](const configuration& live, const configuration& answer, const fault& f) {
        auto owner = record_name(f);
        auto type = type_of_kind(f.kind);
        auto a = rrsets(live, owner, type), b = rrsets(answer, owner, type);
        auto data_only = [](std::vector<std::vector<fake_dns::record>> sets) {
            std::vector<std::string> out;
            for (auto& s : sets) {
                std::vector<std::string> texts;
                for (auto& r : s) texts.push_back(fake_dns::rdata_to_text(r));
                std::sort(texts.begin(), texts.end());
                std::string joined;
                for (auto& t : texts) joined += t + ";";
                out.push_back(joined);
            }
            return out;
        };
        return data_only(a) == data_only(b);
    };
    ops.restore = [](configuration& live, const configuration& answer, const fault& f) {
        auto owner = record_name(f);
        auto type = type_of_kind(f.kind);
        for (auto& z : live.zones) {
            if (!fake_dns::in_zone(owner, z.origin)) continue;
            auto* az = [&]() -> const zone_config* {
                for (auto& o : answer.zones)
                    if (o.origin == z.origin && o.server == z.server && o.clients == z.clients) return &o;
                return nullptr;
            }();
            if (!az) continue;
            auto others = [&](const std::vector<fake_dns::record>& v) {
                std::vector<fake_dns::record> out;
                for (auto& r : v)
                    if (!(r.owner == owner && r.type == type)) out.push_back(r);
                return out;
            };
            // Nothing else changed: take the answer's records as they were, order included.
            if (others(z.records) == others(az->records)) {
                z.records = az->records;
                continue;
            }
            std::erase_if(z.records, [&](auto& r) { return r.owner == owner && r.type == type; });
            for (auto& r : az->records)
                if (r.owner == owner && r.type == type) z.records.push_back(r);
        }
    };
    return ops;
}

// Rules of the SMTP policy at one phase.
aspect_ops rule_aspect(smtp_rule::action what) {
    aspect_ops ops;
    ops.inject = [what](configuration& c, const fault& f) {
        auto* h = host_of(c, f);
        auto phase = parse_phase(f.text("phase"));
        if (!h || !phase) return;
        smtp_rule r;
        r.what = what;
        if (auto it = f.params.find("code"); it != f.params.end())
            if (auto* i = std::get_if<std::int64_t>(&it->second)) r.code = static_cast<int>(*i);
        r.text = f.text("text");
        h->smtp_service.rules[*phase] = r;
    };
    auto lookup = [](const configuration& c, const fault& f) -> std::optional<smtp_rule> {
        auto* h = c.find_host(f.text("host"));
        auto phase = parse_phase(f.text("phase"));
        if (!h || !phase) return std::nullopt;
        auto it = h->smtp_service.rules.find(*phase);
        if (it == h->smtp_service.rules.end()) return std::nullopt;
        return it->second;
    };
    ops.same = [lookup](const configuration& live, const configuration& answer, const fault& f) {
        return lookup(live, f) == lookup(answer, f);
    };
    ops.restore = [lookup](configuration& live, const configuration& answer, const fault& f) {
        auto* h = live.find_host(f.text("host"));
        auto phase = parse_phase(f.text("phase"));
        if (!h || !phase) return;
        if (auto r = lookup(answer, f)) h->smtp_service.rules[*phase] = *r;
        else h->smtp_service.rules.erase(*phase);
    };
    return ops;
}

template <typename T>
aspect_ops host_field(T host_config::*member, T value) {
    return field_aspect<T>([member](configuration& c, const fault& f) -> T* {
        auto* h = host_of(c, f);
        return h ? &(h->*member) : nullptr;
    }, [value](T& field, configuration&, const fault&) { field = value; });
}

template <typename T>
aspect_ops imc_field(T imc_config::*member, std::function<T(const fault&)> value) {
    return field_aspect<T>([member](configuration& c, const fault& f) -> T* {
        auto* i = imc_of(c, f);
        return i ? &(i->*member) : nullptr;
    }, [value](T& field, configuration&, const fault& f) { field = value(f); });
}

// Several hosts' aspects at once (mail.* kinds).
aspect_ops hosts_aspect(std::function<void(host_config&, const fault&, std::size_t index, std::size_t count)> set,
                        std::function<bool(const host_config&, const host_config&, const fault&)> same_host,
                        std::function<void(host_config&, const host_config&, const fault&)> restore_host) {
    aspect_ops ops;
    ops.inject = [set](configuration& c, const fault& f) {
        auto names = f.list("hosts");
        for (std::size_t i = 0; i < names.size(); ++i)
            if (auto* h = c.find_host(names[i])) set(*h, f, i, names.size());
    };
    ops.same = [same_host](const configuration& live, const configuration& answer, const fault& f) {
        for (auto& n : f.list("hosts")) {
            auto *a = live.find_host(n), *b = answer.find_host(n);
            if (a && b && !same_host(*a, *b, f)) return false;
        }
        return true;
    };
    ops.restore = [restore_host](configuration& live, const configuration& answer, const fault& f) {
        for (auto& n : f.list("hosts")) {
            auto* a = live.find_host(n);
            auto* b = answer.find_host(n);
            if (a && b) restore_host(*a, *b, f);
        }
    };
    return ops;
}

std::optional<smtp_route> route_for(const host_config& h, const std::string& domain) {
    if (!h.smtp) return std::nullopt;
    for (auto& r : h.smtp->routes)
        if (support::iequals(r.domain, domain)) return r;
    return std::nullopt;
}

const std::map<std::string, aspect_ops, std::less<>>& aspects() {
    static const std::map<std::string, aspect_ops, std::less<>> table = [] {
        std::map<std::string, aspect_ops, std::less<>> t;
        t["imc.not_installed"] = imc_field<bool>(&imc_config::installed, [](auto&) { return false; });
        t["imc.stopped"] = imc_field<bool>(&imc_config::running, [](auto&) { return false; });
        {
            // The cause the event names; the service is down while it lasts.
            aspect_ops ops;
            ops.inject = [](configuration& c, const fault& f) {
                auto* h = host_of(c, f);
                auto* sf = find_start_failure(f.text("event_id"));
                if (!h || !h->exchange || !sf) return;
                if (sf->blocker == "tcpip") h->tcpip_installed = false;
                else h->exchange->imc.start_blocker = std::string(sf->blocker);
                h->exchange->imc.running = false;
            };
            ops.same = [](const configuration& live, const configuration& answer, const fault& f) {
                auto *a = live.find_host(f.text("host")), *b = answer.find_host(f.text("host"));
                if (!a || !b || !a->exchange || !b->exchange) return a == b;
                return a->tcpip_installed == b->tcpip_installed &&
                       a->exchange->imc.start_blocker == b->exchange->imc.start_blocker;
            };
            ops.restore = [](configuration& live, const configuration& answer, const fault& f) {
                auto* a = live.find_host(f.text("host"));
                auto* b = answer.find_host(f.text("host"));
                if (!a || !b || !a->exchange || !b->exchange) return;
                a->tcpip_installed = b->tcpip_installed;
                a->exchange->imc.start_blocker = b->exchange->imc.start_blocker;
                a->exchange->imc.running = b->exchange->imc.running;
            };
            t["imc.start_fails"] = ops;
        }
        t["imc.transfer_mode"] = imc_field<transfer_mode>(&imc_config::mode, [](const fault& f) {
            return parse_transfer_mode(f.text("mode")).value_or(transfer_mode::none);
        });
        {
            auto mailbox = [](configuration& c, const fault& f) -> std::vector<std::string>* {
                // The mailbox that holds the address in the answer is found by
                // host and alias in any configuration, so removal is visible.
                for (auto& h : c.hosts)
                    if (h.exchange)
                        for (auto& m : h.exchange->mailboxes)
                            if (m.alias == f.text("_alias") && h.name == f.text("_host")) return &m.smtp;
                return nullptr;
            };
            aspect_ops ops;
            ops.inject = [mailbox](configuration& c, const fault& f) {
                if (auto* l = mailbox(c, f))
                    std::erase_if(*l, [&](auto& a) { return support::iequals(a, f.text("address")); });
            };
            ops.same = [mailbox](const configuration& live, const configuration& answer, const fault& f) {
                auto* a = mailbox(const_cast<configuration&>(live), f);
                auto* b = mailbox(const_cast<configuration&>(answer), f);
                auto has = [&](const std::vector<std::string>* l) {
                    return l && std::any_of(l->begin(), l->end(), [&](auto& x) { return support::iequals(x, f.text("address")); });
                };
                return has(a) == has(b);
            };
            ops.restore = [mailbox](configuration& live, const configuration& answer, const fault& f) {
                auto* a = mailbox(live, f);
                auto* b = mailbox(const_cast<configuration&>(answer), f);
                if (a && b) *a = *b;
            };
            t["mailbox.missing_address"] = ops;
        }
        t["net.wrong_address"] = field_aspect<ipv4>([](configuration& c, const fault& f) -> ipv4* {
            auto* h = host_of(c, f);
            return h ? &h->address : nullptr;
        }, [](ipv4& a, configuration&, const fault& f) { a = support::parse_ipv4(f.text("address")).value_or(a); });
        t["net.wrong_gateway"] = field_aspect<std::optional<ipv4>>([](configuration& c, const fault& f) {
            auto* h = host_of(c, f);
            return h ? &h->gateway : nullptr;
        }, [](std::optional<ipv4>& g, configuration&, const fault& f) { g = support::parse_ipv4(f.text("gateway")); });
        t["net.ip_routing_disabled"] = field_aspect<bool>([](configuration& c, const fault& f) -> bool* {
            auto* r = c.find_router(f.text("router"));
            return r ? &r->ip_routing : nullptr;
        }, [](bool& on, configuration&, const fault&) { on = false; });
        t["net.link_down"] = field_aspect<bool>([](configuration& c, const fault& f) -> bool* {
            auto ends = f.list("routers");
            if (ends.size() != 2) return nullptr;
            auto* l = c.find_link(ends[0], ends[1]);
            return l ? &l->up : nullptr;
        }, [](bool& up, configuration&, const fault&) { up = false; });
        t["net.wrong_dns_server"] = field_aspect<std::vector<ipv4>>([](configuration& c, const fault& f) {
            auto* h = host_of(c, f);
            return h ? &h->dns_servers : nullptr;
        }, [](std::vector<ipv4>& servers, configuration&, const fault& f) {
            if (auto a = support::parse_ipv4(f.text("address"))) servers = {*a};
        });
        t["dns.bad_a_record"] = record_aspect([](const fault& f, const std::vector<fake_dns::record>& old) {
            auto r = old.front();
            r.data = fake_dns::a_data{support::parse_ipv4(f.text("address")).value_or(0)};
            return std::vector<fake_dns::record>{r};
        });
        t["dns.missing_a_record"] = record_aspect([](const fault&, const std::vector<fake_dns::record>&) {
            return std::vector<fake_dns::record>{};
        });
        t["dns.bad_mx"] = record_aspect([](const fault& f, const std::vector<fake_dns::record>& old) {
            auto r = old.front();
            auto mx = std::get<fake_dns::mx_data>(r.data);
            mx.exchange = fake_dns::canonical_name(f.text("exchange"));
            r.data = mx;
            return std::vector<fake_dns::record>{r};
        });
        t["dns.missing_mx"] = record_aspect([](const fault&, const std::vector<fake_dns::record>&) {
            return std::vector<fake_dns::record>{};
        });
        auto dns_field = [](auto member, auto value) {
            using T = std::remove_reference_t<decltype(std::declval<dns_service_state>().*member)>;
            return field_aspect<T>([member](configuration& c, const fault& f) -> T* {
                auto* h = host_of(c, f, "server");
                return h ? &(h->dns.*member) : nullptr;
            }, [value](T& field, configuration&, const fault& f) { field = value(f); });
        };
        t["dns.server_down"] = dns_field(&dns_service_state::running, [](const fault&) { return false; });
        t["dns.servfail"] = dns_field(&dns_service_state::servfail, [](const fault& f) {
            return std::optional<std::vector<std::string>>(f.list("names"));
        });
        t["dns.slow"] = dns_field(&dns_service_state::delay, [](const fault& f) {
            return support::parse_duration(f.text("delay")).value_or(duration{0});
        });
        t["dns.truncated"] = dns_field(&dns_service_state::truncated, [](const fault&) { return true; });
        auto smtp_field = [](auto member, auto value) {
            using T = std::remove_reference_t<decltype(std::declval<smtp_service_state>().*member)>;
            return field_aspect<T>([member](configuration& c, const fault& f) -> T* {
                auto* h = host_of(c, f);
                return h ? &(h->smtp_service.*member) : nullptr;
            }, [value](T& field, configuration&, const fault& f) { field = value(f); });
        };
        t["smtp.port_closed"] = smtp_field(&smtp_service_state::running, [](const fault&) { return false; });
        t["smtp.filtered"] = smtp_field(&smtp_service_state::firewalled, [](const fault&) { return true; });
        t["smtp.rate_limit"] = smtp_field(&smtp_service_state::rate_limit_per_minute, [](const fault& f) {
            auto it = f.params.find("per_minute");
            auto* i = it == f.params.end() ? nullptr : std::get_if<std::int64_t>(&it->second);
            return i ? static_cast<int>(*i) : 1;
        });
        t["smtp.stall"] = rule_aspect(smtp_rule::action::stall);
        t["smtp.reject"] = rule_aspect(smtp_rule::action::reject);
        t["smtp.tempfail"] = rule_aspect(smtp_rule::action::tempfail);
        t["smtp.disconnect"] = rule_aspect(smtp_rule::action::disconnect);
        // Size and recipient limits live in [host.smtp] on relays and in the IMC on Exchange.
        t["smtp.size_limit"] = field_aspect<std::uint64_t>([](configuration& c, const fault& f) -> std::uint64_t* {
            auto* h = host_of(c, f);
            if (!h) return nullptr;
            if (h->smtp) return &h->smtp->max_message_size;
            return h->exchange ? &h->exchange->imc.max_message_size : nullptr;
        }, [](std::uint64_t& v, configuration&, const fault& f) {
            auto it = f.params.find("size");
            if (it == f.params.end()) return;
            if (auto* i = std::get_if<std::int64_t>(&it->second)) v = static_cast<std::uint64_t>(*i);
            else v = support::parse_size(f.text("size")).value_or(v);
        });
        t["smtp.recipient_limit"] = field_aspect<int>([](configuration& c, const fault& f) -> int* {
            auto* h = host_of(c, f);
            if (!h) return nullptr;
            if (h->smtp) return &h->smtp->max_recipients;
            return h->exchange ? &h->exchange->imc.max_recipients : nullptr;
        }, [](int& v, configuration&, const fault& f) {
            auto it = f.params.find("max");
            if (it == f.params.end()) return;
            if (auto* i = std::get_if<std::int64_t>(&it->second)) v = static_cast<int>(*i);
        });
        {
            aspect_ops ops;
            auto relays = [](const configuration& c, const fault& f) -> const std::vector<std::string>* {
                auto* h = c.find_host(f.text("host"));
                return h && h->smtp ? &h->smtp->relay_domains : nullptr;
            };
            auto has = [](const std::vector<std::string>* l, const std::string& d) {
                return l && std::any_of(l->begin(), l->end(), [&](auto& x) { return support::iequals(x, d); });
            };
            ops.inject = [](configuration& c, const fault& f) {
                auto* h = host_of(c, f);
                if (h && h->smtp)
                    std::erase_if(h->smtp->relay_domains, [&](auto& d) { return support::iequals(d, f.text("domain")); });
            };
            ops.same = [relays, has](const configuration& live, const configuration& answer, const fault& f) {
                return has(relays(live, f), f.text("domain")) == has(relays(answer, f), f.text("domain"));
            };
            ops.restore = [relays, has](configuration& live, const configuration& answer, const fault& f) {
                auto* h = live.find_host(f.text("host"));
                if (h && h->smtp && has(relays(answer, f), f.text("domain")) && !has(&h->smtp->relay_domains, f.text("domain")))
                    h->smtp->relay_domains.push_back(support::to_lower(f.text("domain")));
            };
            t["smtp.relay_denied"] = ops;
        }
        t["imc.address_space"] = imc_field<std::vector<std::string>>(&imc_config::address_space, [](const fault& f) {
            return std::vector<std::string>{f.text("value")};
        });
        t["imc.resolver_search_list"] = imc_field<std::vector<std::string>>(
            &imc_config::resolver_search_list, [](const fault& f) { return f.list("suffixes"); });
        {
            auto entry = [](const configuration& c, const fault& f) -> std::optional<email_domain> {
                auto* h = c.find_host(f.text("host"));
                if (!h || !h->exchange) return std::nullopt;
                for (auto& d : h->exchange->imc.email_domains)
                    if (support::iequals(d.domain, f.text("domain"))) return d;
                return std::nullopt;
            };
            auto put = [](configuration& c, const fault& f, std::optional<email_domain> value) {
                auto* i = imc_of(c, f);
                if (!i) return;
                std::erase_if(i->email_domains, [&](auto& d) { return support::iequals(d.domain, f.text("domain")); });
                if (value) i->email_domains.push_back(*value);
            };
            aspect_ops ops;
            ops.inject = [put](configuration& c, const fault& f) {
                put(c, f, email_domain{support::to_lower(f.text("domain")), f.text("target")});
            };
            ops.same = [entry](const configuration& live, const configuration& answer, const fault& f) {
                return entry(live, f) == entry(answer, f);
            };
            ops.restore = [entry, put](configuration& live, const configuration& answer, const fault& f) {
                put(live, f, entry(answer, f));
            };
            t["imc.email_domain"] = ops;
        }
        t["mta.stopped"] = field_aspect<bool>([](configuration& c, const fault& f) -> bool* {
            auto* h = host_of(c, f);
            return h && h->exchange ? &h->exchange->mta_running : nullptr;
        }, [](bool& running, configuration&, const fault&) { running = false; });
        {
            auto connector = [](const configuration& c, const fault& f) -> std::optional<exchange_connector> {
                auto* h = c.find_host(f.text("host"));
                if (!h || !h->exchange) return std::nullopt;
                for (auto& x : h->exchange->connectors)
                    if (support::iequals(x.name, f.text("connector"))) return x;
                return std::nullopt;
            };
            auto put = [](configuration& c, const fault& f, std::optional<exchange_connector> value) {
                auto* h = host_of(c, f);
                if (!h || !h->exchange) return;
                auto& list = h->exchange->connectors;
                auto it = std::find_if(list.begin(), list.end(), [&](auto& x) { return support::iequals(x.name, f.text("connector")); });
                if (!value) {
                    if (it != list.end()) list.erase(it);
                } else if (it != list.end()) {
                    *it = *value;
                } else {
                    list.push_back(*value);
                }
            };
            aspect_ops ops;
            ops.inject = [connector, put](configuration& c, const fault& f) {
                auto x = connector(c, f).value_or(exchange_connector{f.text("connector"), {}, 1, {}});
                if (std::find(x.address_space.begin(), x.address_space.end(), "SMTP:*") == x.address_space.end())
                    x.address_space.push_back("SMTP:*");
                // Cheaper than the IMC, so the GWART prefers it.
                auto* i = imc_of(c, f);
                x.cost = std::max(1, (i ? i->cost : 1) - 1);
                put(c, f, x);
            };
            ops.same = [connector](const configuration& live, const configuration& answer, const fault& f) {
                return connector(live, f) == connector(answer, f);
            };
            ops.restore = [connector, put](configuration& live, const configuration& answer, const fault& f) {
                put(live, f, connector(answer, f));
            };
            t["gwart.other_connector"] = ops;
        }
        t["mail.routing_loop"] = hosts_aspect(
            [](host_config& h, const fault& f, std::size_t i, std::size_t n) {
                if (!h.smtp) return;
                auto domain = support::to_lower(f.text("domain"));
                std::erase_if(h.smtp->routes, [&](auto& r) { return support::iequals(r.domain, domain); });
                // Each host routes the domain to the next one in the ring.
                h.smtp->routes.push_back({domain, f.list("hosts")[(i + 1) % n]});
                if (std::find(h.smtp->relay_domains.begin(), h.smtp->relay_domains.end(), domain) ==
                    h.smtp->relay_domains.end())
                    h.smtp->relay_domains.push_back(domain);
            },
            [](const host_config& a, const host_config& b, const fault& f) {
                auto d = support::to_lower(f.text("domain"));
                return route_for(a, d) == route_for(b, d);
            },
            [](host_config& a, const host_config& b, const fault&) {
                if (a.smtp && b.smtp) {
                    a.smtp->routes = b.smtp->routes;
                    a.smtp->relay_domains = b.smtp->relay_domains;
                }
            });
        t["mail.ndr_loop"] = hosts_aspect(
            [](host_config& h, const fault&, std::size_t, std::size_t) { h.smtp_service.bounces_bounces = true; },
            [](const host_config& a, const host_config& b, const fault&) {
                return a.smtp_service.bounces_bounces == b.smtp_service.bounces_bounces;
            },
            [](host_config& a, const host_config& b, const fault&) {
                a.smtp_service.bounces_bounces = b.smtp_service.bounces_bounces;
            });
        return t;
    }();
    return table;
}

// mailbox.missing_address finds its mailbox by where the address lives in the
// answer configuration; the lookup keys travel as hidden parameters.
fault with_mailbox_keys(const fault& f, const configuration& answer) {
    if (f.kind != "mailbox.missing_address" || f.params.count("_alias")) return f;
    fault g = f;
    for (auto& h : answer.hosts)
        if (h.exchange)
            for (auto& m : h.exchange->mailboxes)
                for (auto& a : m.smtp)
                    if (support::iequals(a, f.text("address"))) {
                        g.params["_alias"] = m.alias;
                        g.params["_host"] = h.name;
                    }
    return g;
}

const aspect_ops* ops_for(const fault& f) {
    auto it = aspects().find(f.kind);
    return it == aspects().end() ? nullptr : &it->second;
}

}  // namespace

void apply_fault(configuration& live, const fault& f) {
    if (auto* ops = ops_for(f)) ops->inject(live, with_mailbox_keys(f, live));
}

void revert_fault(configuration& live, const configuration& answer, const fault& f) {
    if (auto* ops = ops_for(f)) ops->restore(live, answer, with_mailbox_keys(f, answer));
}

bool fault_cleared(const configuration& live, const configuration& answer, const fault& f) {
    auto* ops = ops_for(f);
    return !ops || ops->same(live, answer, with_mailbox_keys(f, answer));
}

bool diagnosis_matches(const fault& f, const configuration& answer, std::string_view kind, std::string_view target) {
    if (!support::iequals(f.kind, kind)) return false;
    auto* k = find_fault_kind(f.kind);
    if (!k || k->params.empty()) return false;
    auto t = fake_dns::canonical_name(target);
    for (auto& value : f.list(k->params.front().name)) {
        if (support::iequals(fake_dns::canonical_name(value), t)) return true;
        // A host may be named by its name or its FQDN.
        auto* a = answer.find_host(value);
        if (a && a == answer.find_host(t)) return true;
    }
    return false;
}

}  // namespace sim
