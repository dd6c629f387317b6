#include "simulator/mail_agent.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "fake_smtp/client.hpp"
#include "fake_smtp/command.hpp"
#include "fake_smtp/dsn.hpp"
#include "fake_smtp/exchange/gwart.hpp"
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

std::string compose_message(const std::string& from, const std::vector<std::string>& to, const std::string& subject,
                            const std::string& body, std::uint64_t size, const std::string& date, long long unique,
                            const std::string& host) {
    std::string to_line;
    for (auto& t : to) to_line += (to_line.empty() ? "" : ", ") + t;
    static long long counter = 0;
    std::string headers = "Date: " + date + "\r\nFrom: <" + from + ">\r\nTo: " + to_line + "\r\nSubject: " + subject +
                          "\r\nMessage-ID: <" + std::to_string(unique) + "." + std::to_string(++counter) + "@" +
                          support::to_lower(host) + ".mailsim>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
                          "charset=us-ascii\r\n\r\n";
    std::string text;
    for (char c : body) {
        if (c == '\n' && (text.empty() || text.back() != '\r')) text += '\r';
        text += c;
    }
    if (!text.empty() && text.back() != '\n') text += "\r\n";
    static const std::string line = "The quick brown fox jumps over the lazy dog. 0123456789 mailsim padding line.\r\n";
    while (headers.size() + text.size() + line.size() <= size) text += line;
    return headers + text;
}

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
    if (h->exchange) {
        // The IMC's recipients are the mailboxes' SMTP proxy addresses.
        auto& e = *h->exchange;
        if (!e.org_domain.empty()) c.local_domains.push_back(e.org_domain);
        for (auto& m : e.mailboxes)
            for (auto& a : m.smtp) {
                c.mailboxes.push_back(support::to_lower(a));
                auto d = fake_smtp::domain_of(a);
                if (std::find(c.local_domains.begin(), c.local_domains.end(), d) == c.local_domains.end())
                    c.local_domains.push_back(d);
            }
        c.smart_host = e.imc.smart_host;
        for (auto& d : e.imc.email_domains) c.routes.emplace_back(d.domain, d.host);
    }
    c.relays = h->has_role(role::relay);
    return c;
}

bool mail_agent::exchange() const {
    auto* h = live_host();
    return h && h->exchange;
}

std::string mail_agent::primary_address(const std::string& address) const {
    auto* h = live_host();
    if (!h || !h->exchange) return support::to_lower(address);
    for (auto& m : h->exchange->mailboxes)
        for (auto& a : m.smtp)
            if (support::iequals(a, address) && !m.smtp.empty()) return support::to_lower(m.smtp.front());
    return support::to_lower(address);
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
    // smtp.rate_limit: connections per client host per minute of lab time. Clients
    // that are no lab host (127.0.0.1, 127.0.0.2...) are all the vantage host.
    if (view.service.rate_limit_per_minute > 0) {
        auto& times = recent_connections_[lab_.counts_as(client)];
        auto now = lab_.now();
        while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
        if (static_cast<int>(times.size()) >= view.service.rate_limit_per_minute)
            forced = reply{421, "4.7.0", cfg.hostname + " Error: too many connections from " + support::format_ipv4(client)};
        else times.push_back(now);
    }
    return std::make_unique<agent_policy>(std::move(view), std::move(cfg));
}

void mail_agent::record(const std::string& peer, bool outbound, std::string line) {
    events_.push_back({lab_.now(), peer, outbound, std::move(line)});
    if (events_.size() > max_events) events_.pop_front();
}

void mail_agent::transcript(std::uint32_t client, bool from_server, std::string_view line) {
    // Every command and reply comes through here: the client's address is formatted
    // once per client, and each line is built once for netmon and once for the log.
    if (client != transcript_client_ || transcript_peer_.empty()) {
        transcript_client_ = client;
        transcript_peer_ = support::format_ipv4(client);
    }
    const std::string& peer = transcript_peer_;
    std::string text;
    text.reserve(4 + line.size());
    text.append(from_server ? "<<< " : ">>> ").append(line);
    // The protocol log: an Exchange IMC writes it only at the level its
    // Diagnostics Logging asks for (none: nothing; medium and maximum: the dialogue).
    auto* h = live_host();
    bool logged = !(h && h->exchange && h->exchange->imc.protocol_log == "none");
    std::string entry;
    if (logged) {
        entry.reserve(peer.size() + 1 + text.size());
        entry.append(peer).append(1, ' ').append(text);
    }
    record(peer, false, std::move(text));  // netmon sees the wire whatever the server logs
    static const std::string kind = "smtp";
    if (logged) lab_.note(kind, host_, entry);
}

const std::string& mail_agent::date_of(std::int64_t wall_ms) {
    if (date_text_.empty() || wall_ms / 1000 != date_second_) {
        date_second_ = wall_ms / 1000;
        date_text_ = fake_smtp::rfc5322_date(wall_ms);
    }
    return date_text_;
}

std::string mail_agent::store_local(const std::string& mailbox, const std::string& mail_from,
                                    const std::vector<std::string>& to, std::string data, const std::string& id) {
    stored_message m;
    m.id = id;
    m.mailbox = mailbox;
    m.from = mail_from;
    m.to = to;
    m.subject = fake_smtp::header_value(data, "Subject");
    m.date = fake_smtp::header_value(data, "Date");
    m.data = std::move(data);
    m.received = lab_.now();
    if (auto* s = lab_.store())
        if (auto err = s->save_message(host_, m); !err.empty()) return err;
    mailboxes_[mailbox].push_back(std::move(m));
    return {};
}

std::string mail_agent::store_in_folder(stored_message m) {
    if (auto* s = lab_.store())
        if (auto err = s->save_message(host_, m); !err.empty()) return err;
    mailboxes_[m.mailbox].push_back(std::move(m));
    return {};
}

std::string mail_agent::enqueue(const std::string& id, const std::string& mail_from,
                                const std::vector<std::string>& rcpts, std::string data, bool body_8bit) {
    auto& e = queue_.add(id, mail_from, rcpts, std::move(data), lab_.now(), body_8bit);
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
    auto date = date_of(lab_.wall_ms(lab_.now()));
    auto full = fake_smtp::received_header(cfg.hostname, env.helo, env.client_address, id, env.esmtp,
                                           env.rcpt_to.size() == 1 ? env.rcpt_to.front() : "", date);
    full.reserve(full.size() + data.size());
    full += data;
    data = std::string();  // copied: no need to hold the message twice

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
        if (d.kind == fake_smtp::recipient_kind::local) local[primary_address(d.mailbox)].push_back(r);
        else relayed.push_back(r);
    }
    if (!unknown.empty()) bounce(env.mail_from, full, unknown, date);
    std::size_t left = local.size();
    for (auto& [mailbox, rcpts] : local) {
        // The last mailbox takes the message itself when nothing is queued after it.
        bool last = --left == 0 && relayed.empty();
        auto err = store_local(mailbox, env.mail_from, rcpts, last ? std::move(full) : std::string(full), id);
        if (!err.empty()) {
            lab_.note("mail", host_, "cannot store message " + id + ": " + err);
            out.failure = reply{451, "4.3.0", "Error: queue file write error"};
            co_return out;
        }
    }
    if (!relayed.empty())
        if (auto err = enqueue(id, env.mail_from, relayed, full, env.body_8bit); !err.empty()) {
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
        else local[primary_address(d.mailbox)].push_back(r);
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
    // An Exchange user's message comes back as an Exchange NDR in their Inbox.
    if (h && h->exchange && is_mailbox(original_from)) {
        exchange_ndr(primary_address(original_from), data, failed, "");
        return;
    }
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

void mail_agent::kick() {
    run_mta();
    run_due();
}

std::string mail_agent::looked_up(const std::string& name) const {
    // The IMC's ResolverSearchList suffix is appended to every name it looks
    // up (Q150969): with a wrong suffix every outbound lookup fails.
    auto* h = live_host();
    if (!h || !h->exchange || h->exchange->imc.resolver_search_list.empty() || name.ends_with(".")) return name;
    return name + "." + h->exchange->imc.resolver_search_list.front();
}

void mail_agent::retry_now() {
    queue_.retry_all(lab_.now());
    kick();
}

bool mail_agent::is_mailbox(const std::string& address) const {
    auto* h = live_host();
    if (!h || !h->exchange) return false;
    for (auto& m : h->exchange->mailboxes)
        for (auto& a : m.smtp)
            if (support::iequals(a, address)) return true;
    return false;
}

std::string mail_agent::submit_user(const std::string& from, const std::vector<std::string>& rcpts, std::string data,
                                    std::string& error) {
    if (!is_mailbox(from)) {
        error = "<" + from + "> is not a mailbox on " + host_;
        return {};
    }
    stored_message m;
    m.id = lab_.next_id();
    m.mailbox = primary_address(from);
    m.folder = "outbox";
    m.from = m.mailbox;
    m.to = rcpts;
    m.subject = fake_smtp::header_value(data, "Subject");
    m.date = fake_smtp::header_value(data, "Date");
    m.data = std::move(data);
    m.received = lab_.now();
    if (auto err = store_in_folder(m); !err.empty()) {
        error = err;
        return {};
    }
    lab_.note("mail", host_, "message " + m.id + " from " + m.mailbox + " is in the Outbox");
    run_mta();
    return m.id;
}

void mail_agent::run_mta() {
    auto* h = live_host();
    if (!h || !h->exchange) return;
    if (!h->exchange->mta_running) return;  // guide step 6: messages stay in the Outbox
    std::vector<stored_message> waiting;
    for (auto& [box, list] : mailboxes_) {
        for (auto& m : list)
            if (m.folder == "outbox") waiting.push_back(m);
        std::erase_if(list, [](auto& m) { return m.folder == "outbox"; });
    }
    for (auto& m : waiting) {
        if (auto* st = lab_.store()) st->remove_message(host_, m);
        route_from_outbox(m);
    }
}

void mail_agent::route_from_outbox(const stored_message& m) {
    auto* h = live_host();
    auto& e = *h->exchange;
    auto cfg = mail_config(nullptr);
    stored_message sent = m;
    sent.folder = "sent";
    if (auto err = store_in_folder(sent); !err.empty()) lab_.note("mail", host_, "cannot keep a Sent copy: " + err);

    std::vector<fake_smtp::exchange::gateway> gateways;
    if (e.imc.installed)
        gateways.push_back({"Internet Mail Connector (" + h->name + ")", e.imc.address_space, e.imc.cost, true});
    for (auto& c : e.connectors) gateways.push_back({c.name, c.address_space, c.cost, false});
    auto gwart = fake_smtp::exchange::build_gwart(gateways);

    std::map<std::string, std::vector<std::string>> local;
    std::vector<std::string> imc;
    std::vector<fake_smtp::queued_recipient> unroutable;
    for (auto& r : m.to) {
        if (is_mailbox(r)) {
            local[primary_address(r)].push_back(r);
            continue;
        }
        auto row = fake_smtp::exchange::route(gwart, r);
        if (!row) {
            unroutable.push_back({r, fake_smtp::queued_recipient::state::failed,
                                  "No transport provider was available for delivery to this recipient.", "5.4.4", ""});
        } else if (row->imc) {
            imc.push_back(r);
        } else {
            stored_message taken = m;
            taken.to = {r};
            connector_queues_[row->gateway].push_back(std::move(taken));
            lab_.note("mail", host_, "message " + m.id + " for <" + r + "> was routed to the connector " + row->gateway);
        }
    }
    for (auto& [box, to] : local)
        if (auto err = store_local(box, m.from, to, m.data, m.id); !err.empty())
            lab_.note("mail", host_, "cannot deliver " + m.id + " to " + box + ": " + err);
    if (!imc.empty()) {
        auto date = fake_smtp::rfc5322_date(lab_.wall_ms(lab_.now()));
        auto data = "Received: by " + cfg.hostname + " with Internet Mail Service (5.0.1460.8)\r\n\tid " + m.id + "; " +
                    date + "\r\n" + m.data;
        if (auto err = enqueue(m.id, m.from, imc, data); !err.empty())
            lab_.note("mail", host_, "cannot queue " + m.id + " for the IMC: " + err);
        else lab_.note("mail", host_, "message " + m.id + " is in the IMC outbound queue");
    }
    if (!unroutable.empty()) exchange_ndr(m.mailbox, m.data, unroutable, "");
}

void mail_agent::exchange_ndr(const std::string& sender_mailbox, const std::string& original,
                              const std::vector<fake_smtp::queued_recipient>& failed, const std::string& reason) {
    if (!lab_.storm_allows(host_)) return;
    auto* h = live_host();
    auto cfg = mail_config(nullptr);
    auto org = h && h->exchange && !h->exchange->org_domain.empty() ? h->exchange->org_domain : cfg.hostname;
    auto now = fake_smtp::rfc5322_date(lab_.wall_ms(lab_.now()));
    auto subject = fake_smtp::header_value(original, "Subject");
    std::string to_list;
    for (auto& r : failed) to_list += (to_list.empty() ? "" : "; ") + r.address;
    // Worded after Exchange 5.0's non-delivery reports.
    std::string text = "Your message\r\n\r\n  To:      " + to_list + "\r\n  Subject: " + subject +
                       "\r\n  Sent:    " + fake_smtp::header_value(original, "Date") +
                       "\r\n\r\ndid not reach the following recipient(s):\r\n\r\n";
    for (auto& r : failed) {
        std::string why = reason;
        const auto& err = r.last_error;
        if (why.empty()) {
            if (err == "Host unreachable")
                why = "The message could not be delivered because the destination host was unreachable.";
            else if (err == "TCP/IP timeout" || err == "Connection refused")
                why = "The message could not be delivered because the remote host did not answer (" + err + ").";
            else if (err.find("not found") != std::string::npos)
                why = "The destination host name could not be found: " + err;
            else if (r.what == fake_smtp::queued_recipient::state::expired)
                why = "Could not deliver the message in the time limit specified. Please retry or contact your "
                      "administrator.";
            else if (!err.empty() && std::isdigit(static_cast<unsigned char>(err[0])))
                why = "The recipient was rejected by the remote host: " + err;
            else why = err.empty() ? "The message could not be delivered." : err;
        }
        text += r.address + " on " + now + "\r\n    " + why + "\r\n    MSEXCH:IMS:" + support::to_lower(org) + ":" +
                (h ? h->name : host_) + " 0 (000C05A6) " + (err.empty() ? why : err) + "\r\n\r\n";
    }
    fake_smtp::dsn_report report;
    report.reporting_mta = cfg.hostname;
    report.from = "postmaster@" + org;
    report.to = sender_mailbox;
    report.subject = "Undeliverable: " + subject;
    report.date = now;
    auto id = lab_.next_id();
    report.message_id = "<" + id + "@" + cfg.hostname + ">";
    report.human_text = text;
    for (auto& r : failed) {
        fake_smtp::dsn_recipient d;
        d.final_recipient = r.address;
        d.status = r.status.empty() ? "5.0.0" : r.status;
        d.diagnostic = (r.last_error.size() >= 3 && std::isdigit(static_cast<unsigned char>(r.last_error[0])) ? "smtp; "
                                                                                                              : "X-mailsim; ") +
                       (r.last_error.empty() ? std::string("no route") : r.last_error);
        report.recipients.push_back(std::move(d));
    }
    report.original = original;
    stored_message ndr;
    ndr.id = id;
    ndr.mailbox = sender_mailbox;
    ndr.folder = "inbox";
    ndr.to = {sender_mailbox};
    ndr.data = fake_smtp::write_dsn(report);
    ndr.subject = report.subject;
    ndr.date = now;
    ndr.received = lab_.now();
    if (auto err = store_in_folder(std::move(ndr)); !err.empty())
        lab_.note("mail", host_, "cannot store an NDR for " + sender_mailbox + ": " + err);
    else
        lab_.note("mail", host_, "non-delivery report " + id + " to " + sender_mailbox + " for " +
                                     std::to_string(failed.size()) + " recipient(s)");
}

bool mail_agent::can_send() const {
    auto* h = live_host();
    // A host that cannot send holds its queue (no TCP/IP, or the service is stopped).
    if (!h || !h->tcpip_installed) return false;
    if (!h->exchange) return true;
    // The IMC sends only while installed, running, and allowed outbound (guide step 6).
    auto& imc = h->exchange->imc;
    return imc.installed && imc.running &&
           (imc.mode == transfer_mode::outbound || imc.mode == transfer_mode::inbound_outbound);
}

void mail_agent::run_due() {
    // A host that cannot send (IMC stopped or outbound not allowed, no TCP/IP)
    // holds its queue without a timer: what is due stays due, and the next
    // change of the live configuration kicks the queue again. Rescheduling for
    // a time already past would spin.
    if (!can_send()) return;
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
    bool const body_8bit = e->body_8bit;
    std::map<std::string, std::vector<std::string>> by_domain;
    for (auto& r : e->recipients)
        if (r.what == fake_smtp::queued_recipient::state::pending)
            by_domain[fake_smtp::domain_of(r.address)].push_back(r.address);
    std::vector<attempt_result> results;
    for (auto& [domain, rcpts] : by_domain) {
        auto pending = deliver_domain(domain, rcpts, mail_from, data, body_8bit);
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
                                                                      std::string mail_from, std::string data,
                                                                      bool body_8bit) {
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
        auto pending = lab_.resolve(host_, looked_up(name), 1);
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
        auto pending = lab_.resolve(host_, looked_up(domain), 15);
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
        fake_smtp::outgoing_message m{mail_from, rcpts, data, body_8bit};
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
                // A reply without an enhanced code still has a class: a 554
                // greeting is a permanent failure (5.0.0), not a connection problem.
                auto status = rr.answer.status();
                a.status = status.empty() ? status_for(a.error) : status;
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
