#include "simulator/mail_agent.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "fake_smtp/client.hpp"
#include "fake_smtp/command.hpp"
#include "fake_smtp/dsn.hpp"
#include "support/ipv4.hpp"

namespace sim {

namespace {

using fake_smtp::attempt_result;
using fake_smtp::reply;
using outcome = attempt_result::outcome;

constexpr std::size_t max_events = 2000;
// How long a router takes to give up on an address where nobody answers ARP.
constexpr auto arp_delay = std::chrono::seconds(3);

std::string reply_text(const reply& r) {
    std::string t = std::to_string(r.code);
    if (!r.enhanced.empty()) t += " " + r.enhanced;
    if (!r.text.empty()) t += " " + r.text.substr(0, r.text.find('\n'));
    return t;
}

// The per-connection policy handed to the server session.
class agent_policy : public fake_smtp::server_policy {
public:
    agent_policy(connection_view view, fake_smtp::mail_host_config config)
        : view_(std::move(view)), config_(std::move(config)) {}

    std::optional<fake_smtp::phase_rule> rule_at(fake_smtp::phase p) override {
        auto it = view_.service.rules.find(static_cast<smtp_phase>(p));
        if (it == view_.service.rules.end()) return std::nullopt;
        fake_smtp::phase_rule r;
        r.what = static_cast<fake_smtp::phase_rule::action>(it->second.what);
        r.code = it->second.code;
        r.text = it->second.text;
        return r;
    }

    std::optional<reply> check_sender(const fake_smtp::envelope&, const std::string&) override { return std::nullopt; }

    std::optional<reply> check_recipient(const fake_smtp::envelope&, const std::string& forward_path) override {
        auto d = fake_smtp::classify_recipient(config_, forward_path);
        // mail.ndr_loop: the broken host takes mail for unknown local users and
        // bounces it afterwards (backscatter), instead of refusing it at RCPT.
        if (d.refusal && d.refusal->code == 550 && view_.service.bounces_bounces) return std::nullopt;
        return d.refusal;
    }

private:
    connection_view view_;
    fake_smtp::mail_host_config config_;
};

// Enhanced status from an error we made up ourselves (no remote reply).
std::string status_for(const std::string& error) {
    if (error == "Connection refused" || error == "TCP/IP timeout" || error == "Host unreachable") return "4.4.1";
    return "4.4.0";
}

}  // namespace

mail_agent::mail_agent(mail_context& lab, std::string host) : lab_(lab), host_(std::move(host)) {
    if (auto* h = live_host(); h && h->smtp) {
        fake_smtp::retry_policy p;
        p.schedule = h->smtp->retry;
        p.bounce_after = h->smtp->bounce_after;
        queue_.set_policy(p);
    }
}

const host_config* mail_agent::live_host() const { return lab_.live().find_host(host_); }

fake_smtp::mail_host_config mail_agent::mail_config(const connection_view* view) const {
    fake_smtp::mail_host_config c;
    auto* h = live_host();
    if (!h) return c;
    c.hostname = h->fqdn.empty() ? support::to_lower(h->name) : h->fqdn;
    if (h->smtp) {
        c.local_domains = h->smtp->local_domains;
        c.mailboxes = h->smtp->mailboxes;
        c.relay_domains = view ? view->relay_domains : h->smtp->relay_domains;
        for (auto& r : h->smtp->routes) c.routes.emplace_back(r.domain, r.next_hop);
        c.smart_host = h->smtp->smart_host;
    }
    c.relays = h->has_role(role::relay);
    return c;
}

std::unique_ptr<fake_smtp::server_policy> mail_agent::open_session(std::uint32_t client,
                                                                   fake_smtp::server_config& config,
                                                                   std::optional<reply>& forced) {
    auto view = lab_.open_connection(host_);
    if (view.drop) return nullptr;
    auto cfg = mail_config(&view);
    config.hostname = cfg.hostname;
    config.max_message_size = view.max_message_size;
    config.max_recipients = view.max_recipients;
    // smtp.rate_limit: connections per client host per minute of lab time.
    if (view.service.rate_limit_per_minute > 0) {
        auto& times = recent_connections_[client];
        auto now = lab_.now();
        while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
        if (static_cast<int>(times.size()) >= view.service.rate_limit_per_minute)
            forced = reply{421, "4.7.0", cfg.hostname + " Error: too many connections from " + support::format_ipv4(client)};
        else times.push_back(now);
    }
    return std::make_unique<agent_policy>(std::move(view), std::move(cfg));
}

void mail_agent::record(const std::string& peer, bool outbound, const std::string& line) {
    events_.push_back({lab_.now(), peer, outbound, line});
    if (events_.size() > max_events) events_.pop_front();
}

void mail_agent::transcript(std::uint32_t client, bool from_server, const std::string& line) {
    auto peer = support::format_ipv4(client);
    auto text = (from_server ? "<<< " : ">>> ") + line;
    record(peer, false, text);
    lab_.note("smtp", host_, peer + " " + text);  // the protocol log
}

std::string mail_agent::store_local(const std::string& mailbox, const std::string& mail_from,
                                    const std::vector<std::string>& to, const std::string& data, const std::string& id) {
    stored_message m;
    m.id = id;
    m.mailbox = mailbox;
    m.from = mail_from;
    m.to = to;
    m.subject = fake_smtp::header_value(data, "Subject");
    m.date = fake_smtp::header_value(data, "Date");
    m.data = data;
    m.received = lab_.now();
    if (auto* s = lab_.store())
        if (auto err = s->save_message(host_, m); !err.empty()) return err;
    mailboxes_[mailbox].push_back(std::move(m));
    return {};
}

std::string mail_agent::enqueue(const std::string& id, const std::string& mail_from,
                                const std::vector<std::string>& rcpts, std::string data) {
    auto& e = queue_.add(id, mail_from, rcpts, std::move(data), lab_.now());
    if (auto* s = lab_.store())
        if (auto err = s->save_queue_entry(host_, e); !err.empty()) {
            queue_.remove(id);
            return err;
        }
    schedule_queue();
    return {};
}

net::awaitable<fake_smtp::delivery_outcome> mail_agent::deliver(fake_smtp::envelope env, std::string data) {
    fake_smtp::delivery_outcome out;
    auto id = lab_.next_id();
    auto cfg = mail_config(nullptr);
    auto* h = live_host();
    int max_hops = h && h->smtp ? h->smtp->max_hops : 30;
    int hops = fake_smtp::count_received(data);
    auto date = fake_smtp::rfc5322_date(lab_.wall_ms(lab_.now()));
    auto full = fake_smtp::received_header(cfg.hostname, env.helo, env.client_address, id, env.esmtp,
                                           env.rcpt_to.size() == 1 ? env.rcpt_to.front() : "", date) +
                data;

    // RFC 5321 6.3: a message that has crossed too many hosts is a loop; accept it and bounce it.
    if (hops >= max_hops) {
        lab_.note("mail", host_,
                  "message " + id + " has " + std::to_string(hops) + " Received lines (max_hops " +
                      std::to_string(max_hops) + "): bounced as a mail loop");
        std::vector<fake_smtp::queued_recipient> failed;
        for (auto& r : env.rcpt_to)
            failed.push_back({r, fake_smtp::queued_recipient::state::failed,
                              "554 5.4.6 Too many hops " + std::to_string(hops) + " (" + std::to_string(max_hops) +
                                  " max): message loops",
                              "5.4.6", ""});
        bounce(env.mail_from, full, failed, date);
        out.id = id;
        co_return out;
    }

    std::map<std::string, std::vector<std::string>> local;  // mailbox -> recipients as given
    std::vector<std::string> relayed;
    std::vector<fake_smtp::queued_recipient> unknown;      // accepted by a host that bounces later
    for (auto& r : env.rcpt_to) {
        auto d = fake_smtp::classify_recipient(cfg, r);
        if (d.refusal) {
            unknown.push_back({r, fake_smtp::queued_recipient::state::failed, reply_text(*d.refusal),
                               d.refusal->enhanced, ""});
            continue;
        }
        if (d.kind == fake_smtp::recipient_kind::local) local[d.mailbox].push_back(r);
        else relayed.push_back(r);
    }
    if (!unknown.empty()) bounce(env.mail_from, full, unknown, date);
    for (auto& [mailbox, rcpts] : local) {
        if (auto err = store_local(mailbox, env.mail_from, rcpts, full, id); !err.empty()) {
            lab_.note("mail", host_, "cannot store message " + id + ": " + err);
            out.failure = reply{451, "4.3.0", "Error: queue file write error"};
            co_return out;
        }
    }
    if (!relayed.empty())
        if (auto err = enqueue(id, env.mail_from, relayed, full); !err.empty()) {
            lab_.note("mail", host_, "cannot queue message " + id + ": " + err);
            out.failure = reply{451, "4.3.0", "Error: queue file write error"};
            co_return out;
        }
    lab_.note("mail", host_,
              "accepted " + id + " from <" + env.mail_from + "> for " + std::to_string(env.rcpt_to.size()) +
                  " recipient(s): " + std::to_string(local.size()) + " local mailbox(es), " +
                  std::to_string(relayed.size()) + " queued");
    out.id = id;
    co_return out;
}

std::string mail_agent::submit(const std::string& mail_from, const std::vector<std::string>& rcpts, std::string data,
                               std::string& error) {
    auto id = lab_.next_id();
    auto cfg = mail_config(nullptr);
    auto date = fake_smtp::rfc5322_date(lab_.wall_ms(lab_.now()));
    auto full = "Received: by " + cfg.hostname + " (mailsim) id " + id + "; " + date + "\r\n" + data;
    std::map<std::string, std::vector<std::string>> local;
    std::vector<std::string> remote;
    std::vector<fake_smtp::queued_recipient> unknown;
    for (auto& r : rcpts) {
        auto domain = fake_smtp::domain_of(r);
        bool local_domain = std::any_of(cfg.local_domains.begin(), cfg.local_domains.end(),
                                        [&](auto& d) { return support::iequals(d, domain); });
        if (!local_domain) {
            remote.push_back(r);  // locally submitted mail may go anywhere
            continue;
        }
        auto d = fake_smtp::classify_recipient(cfg, r);
        if (d.refusal) unknown.push_back({r, fake_smtp::queued_recipient::state::failed, reply_text(*d.refusal),
                                          d.refusal->enhanced, cfg.hostname});
        else local[d.mailbox].push_back(r);
    }
    for (auto& [mailbox, to] : local)
        if (auto err = store_local(mailbox, mail_from, to, full, id); !err.empty()) {
            error = err;
            return {};
        }
    if (!remote.empty())
        if (auto err = enqueue(id, mail_from, remote, full); !err.empty()) {
            error = err;
            return {};
        }
    if (!unknown.empty()) bounce(mail_from, full, unknown, date);
    return id;
}

void mail_agent::bounce(const std::string& original_from, const std::string& data,
                        const std::vector<fake_smtp::queued_recipient>& failed, const std::string& arrival) {
    if (failed.empty()) return;
    auto* h = live_host();
    bool misconfigured = h && h->smtp_service.bounces_bounces;
    // RFC 5321 4.5.5 / RFC 3464: never bounce a bounce, unless this host is the broken one.
    if (original_from.empty() && !misconfigured) {
        lab_.note("mail", host_, "not bouncing a message from <> (" + std::to_string(failed.size()) + " recipient(s) failed)");
        return;
    }
    if (original_from.empty()) return;  // nowhere to send it, even for a broken host
    if (!lab_.storm_allows(host_)) return;
    auto cfg = mail_config(nullptr);
    fake_smtp::dsn_report report;
    report.reporting_mta = cfg.hostname;
    report.to = original_from;
    report.date = fake_smtp::rfc5322_date(lab_.wall_ms(lab_.now()));
    auto id = lab_.next_id();
    report.message_id = "<" + id + "@" + cfg.hostname + ">";
    report.arrival_date = arrival;
    for (auto& r : failed) {
        fake_smtp::dsn_recipient d;
        d.final_recipient = r.address;
        d.action = "failed";
        d.status = r.status.empty() ? (r.what == fake_smtp::queued_recipient::state::expired ? "4.4.7" : "5.0.0")
                                    : r.status;
        if (!r.remote.empty()) d.remote_mta = r.remote;
        bool remote_reply = r.last_error.size() >= 3 && std::isdigit(static_cast<unsigned char>(r.last_error[0]));
        d.diagnostic = (remote_reply ? "smtp; " : "X-mailsim; ") + r.last_error;
        d.last_attempt = report.date;
        report.recipients.push_back(std::move(d));
    }
    report.original = data;
    // The misconfiguration of mail.ndr_loop: reports go out with a real sender,
    // so a report that cannot be delivered is reported in turn.
    std::string sender = misconfigured ? "postmaster@" + cfg.hostname : "";
    std::string error;
    auto text = fake_smtp::write_dsn(report);
    auto sent = submit(sender, {original_from}, text, error);
    lab_.note("mail", host_,
              sent.empty() ? "could not send a delivery report to <" + original_from + ">: " + error
                           : "sent delivery report " + sent + " to <" + original_from + "> for " +
                                 std::to_string(failed.size()) + " recipient(s)");
}

void mail_agent::schedule_queue() {
    auto wake = queue_.next_wakeup();
    if (!wake || (wakeup_ && *wakeup_ <= *wake)) return;
    wakeup_ = wake;
    lab_.at(*wake, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            self->wakeup_.reset();
            self->run_due();
        }
    });
}

void mail_agent::kick() { run_due(); }

void mail_agent::run_due() {
    auto* h = live_host();
    // A host that cannot send holds its queue (no TCP/IP, or the service is stopped).
    bool can_send = h && h->tcpip_installed;
    if (can_send)
        for (auto& id : queue_.due(lab_.now()))
            if (queue_.begin_attempt(id))
                net::co_spawn(lab_.executor(), attempt(id), net::detached);
    schedule_queue();
}

net::awaitable<void> mail_agent::attempt(std::string id) {
    auto self = shared_from_this();
    const auto* e = queue_.find(id);
    if (!e) co_return;
    auto mail_from = e->mail_from;
    auto data = e->data;
    std::map<std::string, std::vector<std::string>> by_domain;
    for (auto& r : e->recipients)
        if (r.what == fake_smtp::queued_recipient::state::pending)
            by_domain[fake_smtp::domain_of(r.address)].push_back(r.address);
    std::vector<attempt_result> results;
    for (auto& [domain, rcpts] : by_domain) {
        auto pending = deliver_domain(domain, rcpts, mail_from, data);
        auto got = co_await std::move(pending);
        results.insert(results.end(), got.begin(), got.end());
    }
    if (!queue_.find(id)) co_return;  // removed meanwhile
    auto arrival = fake_smtp::rfc5322_date(lab_.wall_ms(queue_.find(id)->arrived));
    auto report = queue_.finish_attempt(id, results, lab_.now());
    for (auto& r : results)
        lab_.note("mail", host_,
                  "queue " + id + ": <" + r.address + "> " +
                      (r.what == outcome::delivered ? "delivered" : r.what == outcome::failed ? "failed" : "deferred") +
                      (r.error.empty() ? std::string{} : " (" + r.error + ")"));
    auto failed = report.failed;
    failed.insert(failed.end(), report.expired.begin(), report.expired.end());
    bounce(mail_from, data, failed, arrival);
    if (report.finished) {
        queue_.remove(id);
        if (auto* s = lab_.store()) s->remove_queue_entry(host_, id);
    } else if (auto* s = lab_.store()) {
        if (auto err = s->save_queue_entry(host_, *queue_.find(id)); !err.empty())
            lab_.note("mail", host_, "cannot save queue entry " + id + ": " + err);
    }
    schedule_queue();
}

net::awaitable<std::vector<attempt_result>> mail_agent::deliver_domain(std::string domain,
                                                                      std::vector<std::string> rcpts,
                                                                      std::string mail_from, std::string data) {
    auto self = shared_from_this();
    std::vector<attempt_result> results;
    auto all = [&](outcome what, const std::string& error, const std::string& status, const std::string& remote = {}) {
        results.clear();
        for (auto& r : rcpts) results.push_back({r, what, error, status, remote});
        return results;
    };
    auto cfg = mail_config(nullptr);
    auto hop = fake_smtp::route_for(cfg, domain);

    // Where to connect: (address, name) in order of preference.
    std::vector<std::pair<ipv4, std::string>> targets;
    auto add_host = [&](const std::string& name) -> net::awaitable<std::string> {
        if (auto a = support::parse_ipv4(name)) {
            targets.emplace_back(*a, name);
            co_return std::string{};
        }
        // A scenario host may be named directly, as a hosts file or WINS would allow.
        if (auto* h = lab_.live().find_host(name); h && !support::iequals(h->fqdn, name) && name.find('.') == std::string::npos) {
            targets.emplace_back(h->address, h->fqdn.empty() ? h->name : h->fqdn);
            co_return std::string{};
        }
        auto pending = lab_.resolve(host_, name, 1);
        auto r = co_await std::move(pending);
        using o = fake_dns::resolve_result::outcome;
        if (r.what == o::answer) {
            for (auto& rec : r.records)
                targets.emplace_back(std::get<fake_dns::a_data>(rec.data).address, fake_dns::canonical_name(name));
            co_return std::string{};
        }
        if (r.what == o::nxdomain || r.what == o::nodata) co_return "NXDOMAIN";
        co_return r.what == o::timeout ? "DNS lookup timed out" : "Name service error: " + r.describe();
    };

    if (hop.how == fake_smtp::next_hop::kind::mx) {
        auto pending = lab_.resolve(host_, domain, 15);
        auto mx = co_await std::move(pending);
        using o = fake_dns::resolve_result::outcome;
        if (mx.what == o::nxdomain)
            co_return all(outcome::failed, "Host or domain name not found. Name service error for name=" + domain +
                                              " type=MX: Host not found", "5.4.4");
        if (mx.what == o::answer) {
            std::vector<std::pair<std::uint16_t, std::string>> exchanges;
            for (auto& rec : mx.records) {
                auto& m = std::get<fake_dns::mx_data>(rec.data);
                exchanges.emplace_back(m.preference, m.exchange);
            }
            std::stable_sort(exchanges.begin(), exchanges.end());
            std::string last;
            for (auto& [pref, name] : exchanges) {
                auto err = co_await add_host(name);
                if (!err.empty()) last = err;
            }
            if (targets.empty())
                co_return all(last == "NXDOMAIN" ? outcome::failed : outcome::deferred,
                              "Host or domain name not found. Name service error for name=" + exchanges.front().second +
                                  " type=A: " + (last == "NXDOMAIN" ? "Host not found" : last),
                              last == "NXDOMAIN" ? "5.4.4" : "4.4.3");
        } else if (mx.what == o::nodata) {
            // RFC 5321 5.1: no MX records: the domain itself is the mail exchanger.
            auto err = co_await add_host(domain);
            if (!err.empty())
                co_return all(err == "NXDOMAIN" ? outcome::failed : outcome::deferred,
                              "Host or domain name not found. Name service error for name=" + domain +
                                  " type=A: " + (err == "NXDOMAIN" ? "Host not found" : err),
                              err == "NXDOMAIN" ? "5.4.4" : "4.4.3");
        } else {
            co_return all(outcome::deferred,
                          mx.what == o::timeout ? "DNS lookup timed out (MX " + domain + ")"
                                                : "Name service error for name=" + domain + " type=MX: " + mx.describe(),
                          "4.4.3");
        }
    } else {
        auto err = co_await add_host(hop.target);
        if (!err.empty())
            co_return all(err == "NXDOMAIN" ? outcome::failed : outcome::deferred,
                          "Host or domain name not found. Name service error for name=" + hop.target + " type=A: " +
                              (err == "NXDOMAIN" ? "Host not found" : err),
                          err == "NXDOMAIN" ? "5.4.4" : "4.4.3");
    }

    auto* h = live_host();
    if (!h) co_return all(outcome::deferred, "the host is gone", "4.3.0");
    auto own = h->address;
    std::string last_error = "no mail exchanger answered";
    for (auto& [address, name] : targets) {
        if (address == own)
            co_return all(outcome::failed, "mail for " + domain + " loops back to myself", "5.4.6");
        if (lab_.nobody_at(own, address)) {
            co_await lab_.sleep(arp_delay);
            last_error = "Host unreachable";
            record(support::format_ipv4(address), true, "connect: Host unreachable");
            continue;
        }
        fake_smtp::client_config cc;
        cc.helo_name = cfg.hostname;
        fake_smtp::outgoing_message m{mail_from, rcpts, data, false};
        auto sleeper = [ctx = &lab_](std::chrono::milliseconds d) { return ctx->sleep(d); };
        auto pending = fake_smtp::send_message(lab_.executor(), own, address, lab_.smtp_port(), cc, std::move(m), {},
                                               sleeper);
        auto res = co_await std::move(pending);
        auto peer = support::format_ipv4(address);
        std::size_t start = 0;
        while (start < res.transcript.size()) {
            auto eol = res.transcript.find('\n', start);
            auto line = res.transcript.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
            if (!line.empty()) record(peer, true, line);
            if (eol == std::string::npos) break;
            start = eol + 1;
        }
        if (!res.connected) {
            last_error = res.transport_error;
            record(peer, true, "connect: " + res.transport_error);
            lab_.note("mail", host_, "connect to " + name + " [" + peer + "]: " + res.transport_error);
            continue;
        }
        results.clear();
        bool all_deferred_by_session = res.session_reply && res.session_reply->transient();
        for (auto& rr : res.recipients) {
            attempt_result a;
            a.address = rr.address;
            a.remote = name;
            a.what = rr.result == fake_smtp::recipient_result::outcome::delivered ? outcome::delivered
                     : rr.result == fake_smtp::recipient_result::outcome::failed ? outcome::failed
                                                                                 : outcome::deferred;
            if (a.what != outcome::delivered) {
                a.error = rr.answer.code ? reply_text(rr.answer)
                                         : (res.transport_error.empty() ? std::string("no reply") : res.transport_error);
                a.status = rr.answer.enhanced.empty() ? status_for(a.error) : rr.answer.enhanced;
            }
            results.push_back(std::move(a));
        }
        // A server that turned us away as a whole (421 at the banner): try the next one.
        if (all_deferred_by_session) {
            last_error = reply_text(*res.session_reply);
            continue;
        }
        co_return results;
    }
    co_return all(outcome::deferred, last_error, status_for(last_error));
}

void mail_agent::restore(std::vector<stored_message> messages, std::vector<fake_smtp::queue_entry> queued) {
    for (auto& m : messages) mailboxes_[m.mailbox].push_back(std::move(m));
    for (auto& e : queued) queue_.restore(std::move(e));
    schedule_queue();
}

}  // namespace sim
