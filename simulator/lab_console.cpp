#include "simulator/lab_console.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fake_smtp/mail_policy.hpp"
#include "simulator/mail_agent.hpp"
#include "simulator/trainer_service.hpp"
#include "support/ipv4.hpp"

namespace sim {

namespace net = boost::asio;
using net::ip::tcp;

namespace {

constexpr auto tok = net::as_tuple(net::use_awaitable);

std::string two(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

std::string lab_time(duration d) {
    auto s = d.count() / 1000;
    return two(static_cast<int>(s / 3600)) + ":" + two(static_cast<int>(s / 60 % 60)) + ":" + two(static_cast<int>(s % 60));
}

// NT's event viewer shows local dates as 11/26/26 and times as 10:04:12 AM; the lab uses UTC.
std::pair<std::string, std::string> nt_date_time(std::int64_t wall_ms) {
    std::time_t t = static_cast<std::time_t>(wall_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[16], time[16];
    std::strftime(date, sizeof date, "%m/%d/%y", &tm);
    std::strftime(time, sizeof time, "%I:%M:%S %p", &tm);
    std::string time_text = time;
    if (time_text.front() == '0') time_text.erase(0, 1);
    return {date, time_text};
}

const char* state_name(fake_smtp::queued_recipient::state s) {
    switch (s) {
        case fake_smtp::queued_recipient::state::pending: return "waiting";
        case fake_smtp::queued_recipient::state::delivered: return "delivered";
        case fake_smtp::queued_recipient::state::failed: return "failed";
        case fake_smtp::queued_recipient::state::expired: return "expired";
    }
    return "waiting";
}

trainer::message_line to_line(const stored_message& m) {
    return {m.id, m.folder, m.from, m.subject, m.date, m.to, m.data.size(), m.data};
}

// Waits for a callback-style operation of the lab.
template <typename T>
net::awaitable<T> completion(net::any_io_executor ex, std::function<void(std::function<void(const T&)>)> start) {
    auto timer = std::make_shared<net::steady_timer>(ex, net::steady_timer::time_point::max());
    auto result = std::make_shared<std::optional<T>>();
    std::function<void(const T&)> done = [timer, result](const T& v) {
        *result = v;
        timer->cancel();
    };
    start(std::move(done));
    if (!*result) co_await timer->async_wait(tok);
    co_return result->value_or(T{});
}

trainer::lookup_result convert(const fake_dns::resolve_result& r, const configuration& live) {
    using o = fake_dns::resolve_result::outcome;
    trainer::lookup_result out;
    switch (r.what) {
        case o::answer: out.what = trainer::lookup_result::outcome::answer; break;
        case o::nxdomain: out.what = trainer::lookup_result::outcome::nxdomain; break;
        case o::nodata: out.what = trainer::lookup_result::outcome::nodata; break;
        case o::servfail:
        case o::bad_reply: out.what = trainer::lookup_result::outcome::servfail; break;
        case o::refused: out.what = trainer::lookup_result::outcome::refused; break;
        case o::timeout: out.what = trainer::lookup_result::outcome::timeout; break;
        case o::unreachable: out.what = trainer::lookup_result::outcome::unreachable; break;
    }
    for (auto& rec : r.records) {
        if (auto* a = std::get_if<fake_dns::a_data>(&rec.data)) out.addresses.push_back(support::format_ipv4(a->address));
        else out.records.push_back(fake_dns::to_text(rec));
    }
    if (r.server) {
        out.server = support::format_ipv4(r.server);
        if (auto* h = live.host_at(r.server)) out.server_name = h->fqdn.empty() ? h->name : h->fqdn;
    }
    return out;
}

}  // namespace

// --- the world ---------------------------------------------------------------

const configuration& lab_console_world::live() const { return lab_.live(); }
route_result lab_console_world::route(ipv4 from, ipv4 to) const { return lab_.net().route(from, to); }
bool lab_console_world::reachable(ipv4 from, ipv4 to) const { return lab_.net().reachable(from, to); }

std::vector<trainer::event_line> lab_console_world::events(const std::string& host) const {
    std::vector<trainer::event_line> out;
    for (auto& e : lab_.event_log(host)) {
        auto [date, time] = nt_date_time(e.wall_ms);
        out.push_back({e.number, date, time, e.record.id, e.record.source, e.record.type, e.record.log, e.record.text});
    }
    return out;
}

std::vector<trainer::queue_line> lab_console_world::queue(const std::string& host) const {
    std::vector<trainer::queue_line> out;
    auto agent = lab_.mail(host);
    if (!agent) return out;
    for (auto* e : agent->queue().entries()) {
        trainer::queue_line q;
        q.id = e->id;
        q.from = e->mail_from;
        q.subject = fake_smtp::header_value(e->data, "Subject");
        q.size = e->data.size();
        q.attempts = e->attempts;
        q.state = e->in_flight ? "sending" : "waiting";
        q.next_attempt = lab_time(e->next_attempt);
        q.last_error = e->last_error;
        for (auto& r : e->recipients)
            q.recipients.emplace_back(r.address, std::string(state_name(r.what)) +
                                                     (r.last_error.empty() ? "" : " (" + r.last_error + ")"));
        out.push_back(std::move(q));
    }
    return out;
}

std::vector<std::pair<std::string, std::vector<trainer::message_line>>> lab_console_world::connector_queues(
    const std::string& host) const {
    std::vector<std::pair<std::string, std::vector<trainer::message_line>>> out;
    auto agent = lab_.mail(host);
    if (!agent) return out;
    for (auto& [name, list] : agent->connector_queues()) {
        std::vector<trainer::message_line> lines;
        for (auto& m : list) lines.push_back(to_line(m));
        out.emplace_back(name, std::move(lines));
    }
    return out;
}

std::vector<trainer::message_line> lab_console_world::folder(const std::string& host, const std::string& mailbox,
                                                             const std::string& folder) const {
    std::vector<trainer::message_line> out;
    auto agent = lab_.mail(host);
    if (!agent) return out;
    auto& boxes = agent->mailboxes();
    auto it = boxes.find(agent->primary_address(support::to_lower(mailbox)));
    if (it == boxes.end()) return out;
    for (auto& m : it->second)
        if (support::iequals(m.folder, folder)) out.push_back(to_line(m));
    return out;
}

std::vector<trainer::traffic_line> lab_console_world::traffic(const std::string& host) const {
    std::vector<std::pair<duration, trainer::traffic_line>> all;
    if (auto agent = lab_.mail(host))
        for (auto& e : agent->events()) all.push_back({e.at, {lab_time(e.at), e.peer, e.outbound, e.line}});
    auto* h = lab_.live().find_host(host);
    auto name = h ? h->name : host;
    // DNS traffic: queries this host served and lookups it made.
    for (auto& e : lab_.log().since(0, 100000))
        if (e.host == name && e.kind == "dns") {
            auto text = e.describe();
            std::string peer = e.query ? support::format_ipv4(e.query->client) : std::string("dns");
            all.push_back({e.sim, {lab_time(e.sim), peer, !e.query, text}});
        }
    std::stable_sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<trainer::traffic_line> out;
    for (auto& [t, line] : all) out.push_back(std::move(line));
    return out;
}

std::string lab_console_world::clock_text() const {
    auto [date, time] = nt_date_time(lab_.started_wall_ms() + lab_.now().count());
    return date + " " + time + " (lab time " + lab_time(lab_.now()) + ")";
}

std::string lab_console_world::change(const std::string& what, const std::function<std::string(configuration&)>& edit) {
    return lab_.change("console: " + what, edit);
}

service_result lab_console_world::control_service(const std::string& host, const std::string& key, bool start) {
    return lab_.control_service(host, key, start);
}

std::string lab_console_world::send_mail(const std::string& host, const std::string& from,
                                         const std::vector<std::string>& to, const std::string& subject,
                                         std::uint64_t size, std::string& error) {
    auto agent = lab_.mail(host);
    if (!agent) {
        error = "there is no mail service on " + host;
        return {};
    }
    auto data = compose_message(from, to, subject, "Sent from the lab console.",
                                size, fake_smtp::rfc5322_date(lab_.started_wall_ms() + lab_.now().count()),
                                lab_.now().count(), agent->host());
    return agent->exchange() ? agent->submit_user(from, to, data, error) : agent->submit(from, to, data, error);
}

void lab_console_world::retry_queue(const std::string& host) {
    if (auto agent = lab_.mail(host)) agent->retry_now();
}

// --- the session ---------------------------------------------------------------

console_session::console_session(lab& l, std::string host, trainer_service* trainer)
    : lab_(l), trainer_(trainer), world_(l), console_(world_, std::move(host)) {}

net::awaitable<void> console_session::run(std::string line, console_output out) {
    if (trainer_) trainer_->note_console(console_.host(), line);
    auto reply = console_.run(line);
    auto pending = drive(std::move(reply), out, nullptr);
    co_await std::move(pending);
}

net::awaitable<void> console_session::run_interactive(
    std::string line, console_output out, std::function<net::awaitable<std::optional<std::string>>()> next_line) {
    if (trainer_) trainer_->note_console(console_.host(), line);
    auto reply = console_.run(line);
    auto pending = drive(std::move(reply), out, &next_line);
    co_await std::move(pending);
}

net::awaitable<void> console_session::drive(trainer::console_reply reply, console_output& out,
                                            std::function<net::awaitable<std::optional<std::string>>()>* next_line) {
    using namespace net::experimental::awaitable_operators;
    auto ex = lab_.io().get_executor();
    for (int step = 0; step < 16; ++step) {  // a command needs at most a lookup and a connection
        if (!reply.output.empty()) out(reply.output);
        if (reply.quit) finished_ = true;
        if (!reply.action) co_return;
        auto action = *reply.action;
        auto* h = lab_.live().find_host(action.host);
        if (action.what == trainer::console_action::kind::trainer) {
            std::string text = "There is no trainer on this lab.\n";
            if (trainer_) {
                auto pending = trainer_->console_command(action.name);
                text = co_await std::move(pending);
            }
            reply = console_.resume_trainer(text);
            continue;
        }
        if (action.what == trainer::console_action::kind::resolve ||
            action.what == trainer::console_action::kind::nslookup) {
            std::vector<ipv4> servers;
            if (auto a = support::parse_ipv4(action.server)) servers.push_back(*a);
            else if (!action.server.empty())
                if (auto* s = lab_.live().find_host(action.server)) servers.push_back(s->address);
            std::function<void(std::function<void(const fake_dns::resolve_result&)>)> start =
                [this, host = action.host, servers, name = action.name,
                 type = fake_dns::parse_type(action.type).value_or(1)](auto done) {
                    lab_.lookup(host, servers, name, type, std::move(done));
                };
            auto pending = completion<fake_dns::resolve_result>(ex, std::move(start));
            auto result = co_await std::move(pending);
            auto converted = convert(result, lab_.live());
            if (converted.server.empty() && !servers.empty()) converted.server = support::format_ipv4(servers.front());
            if (converted.server.empty() && h && !h->dns_servers.empty())
                converted.server = support::format_ipv4(h->dns_servers.front());
            if (converted.server_name.empty())
                if (auto a = support::parse_ipv4(converted.server))
                    if (auto* s = lab_.live().host_at(*a)) converted.server_name = s->fqdn.empty() ? s->name : s->fqdn;
            reply = action.what == trainer::console_action::kind::resolve ? console_.resume_resolve(converted)
                                                                          : console_.resume_nslookup(converted);
            continue;
        }
        // telnet: a real connection from the current host's address.
        auto target = support::parse_ipv4(action.address);
        std::string outcome = "timeout", transcript;
        if (h && h->tcpip_installed && target) {
            tcp::socket socket(ex);
            boost::system::error_code ec;
            socket.open(tcp::v4(), ec);
            if (!ec) socket.bind(tcp::endpoint(net::ip::address_v4(h->address), 0), ec);
            if (!ec) {
                net::steady_timer limit(ex, std::chrono::seconds(3));  // a person waits seconds, not lab time
                auto connect = socket.async_connect(tcp::endpoint(net::ip::address_v4(*target),
                                                                  static_cast<unsigned short>(action.port)),
                                                    tok);
                auto timeout = limit.async_wait(tok);
                auto c = co_await (std::move(connect) || std::move(timeout));
                if (c.index() == 0) {
                    auto [cec] = std::get<0>(c);
                    outcome = !cec ? "open" : cec == net::error::connection_refused ? "refused" : "timeout";
                }
                if (outcome == "open") {
                    std::array<char, 4096> buf;
                    if (!next_line) {
                        // The HTTP console: show what the server says first, then close.
                        net::steady_timer wait(ex, std::chrono::seconds(2));
                        auto read = socket.async_read_some(net::buffer(buf), tok);
                        auto r = co_await (std::move(read) || wait.async_wait(tok));
                        if (r.index() == 0) {
                            auto [rec, n] = std::get<0>(r);
                            if (!rec) transcript.assign(buf.data(), n);
                        }
                    } else {
                        out("Connecting To " + action.name + "...\nConnected to " + action.name +
                            ". Type ^] or ~. on a line of its own to close.\n");
                        bool open = true;
                        while (open) {
                            auto read = socket.async_read_some(net::buffer(buf), tok);
                            auto line = (*next_line)();
                            auto r = co_await (std::move(read) || std::move(line));
                            if (r.index() == 0) {
                                auto [rec, n] = std::get<0>(r);
                                if (rec) break;
                                out(std::string(buf.data(), n));
                                continue;
                            }
                            auto typed = std::get<1>(r);
                            if (!typed || *typed == "^]" || *typed == "~." || *typed == "\x1d") {
                                open = false;
                                break;
                            }
                            auto bytes = *typed + "\r\n";
                            auto [wec, w] = co_await net::async_write(socket, net::buffer(bytes), tok);
                            if (wec) break;
                        }
                        outcome = "closed";  // the session was shown as it went
                    }
                }
                boost::system::error_code ignored;
                socket.close(ignored);
            }
        }
        reply = console_.resume_telnet(outcome, transcript);
    }
}

}  // namespace sim
