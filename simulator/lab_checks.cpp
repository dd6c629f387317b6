#include "simulator/lab_checks.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "fake_smtp/mail_policy.hpp"
#include "simulator/mail_agent.hpp"
#include "support/ipv4.hpp"

namespace sim {

namespace net = boost::asio;

namespace {

constexpr auto tok = net::as_tuple(net::use_awaitable);

// A bounce or an Exchange NDR about the message carrying `tag`.
bool is_bounce(const stored_message& m) {
    auto subject = support::to_lower(m.subject);
    auto from = support::to_lower(m.from);
    return m.from.empty() || from.starts_with("mailer-daemon@") || subject.find("undeliver") != std::string::npos ||
           subject.find("delivery status") != std::string::npos ||
           support::to_lower(fake_smtp::header_value(m.data, "Content-Type")).find("multipart/report") != std::string::npos;
}

// The host a check acts as: a connect check's `from`, else its `via`, else
// the lab's vantage host (docs/scenario-format.md, [trainer]).
std::string acting_host(const lab& l, const trainer_check& c) {
    if (c.kind == "connect" && !c.from.empty()) return c.from;
    return c.via.empty() ? l.vantage() : c.via;
}

net::awaitable<trainer::check_outcome> run_deliver(lab& l, const trainer_check& c, int serial, time_passer pass_time) {
    trainer::check_outcome out{c, false, ""};
    auto via = acting_host(l, c);
    auto agent = l.mail(via);
    if (!agent) {
        out.got = via + " has no mail service to send from";
        co_return out;
    }
    auto tag = "mailsim-check-" + std::to_string(serial) + "-" + std::to_string(l.log().last_seq());
    std::vector<std::string> to{c.to};
    if (c.recipients)
        for (int i = 1; i < *c.recipients; ++i) to.push_back("check" + std::to_string(i) + "@" + c.to.substr(c.to.find('@') + 1));
    auto data = compose_message(c.from, to, "Trainer check " + tag, "Sent by the trainer's verify.", c.size.value_or(0),
                                fake_smtp::rfc5322_date(l.started_wall_ms() + l.now().count()),
                                static_cast<long long>(serial), agent->host());
    std::string error;
    auto id = agent->exchange() ? agent->submit_user(c.from, to, data, error) : agent->submit(c.from, to, data, error);
    if (id.empty()) {
        out.got = "refused at submission: " + error;
        out.passed = c.expect == "bounced";
        co_return out;
    }
    auto has_tag = [&](const stored_message& m) { return m.data.find(tag) != std::string::npos; };
    auto state = [&]() -> std::string {
        bool queued = false;
        for (auto& a : l.mail_agents()) {
            for (auto& [box, list] : a->mailboxes())
                for (auto& m : list) {
                    if (!has_tag(m)) continue;
                    if (support::iequals(box, c.to) && m.folder == "inbox" && !is_bounce(m)) return "delivered";
                    if (support::iequals(box, c.from) && m.folder == "inbox" && is_bounce(m)) return "bounced";
                    if (m.folder == "outbox") queued = true;
                }
            for (auto* e : a->queue().entries())
                if (e->data.find(tag) != std::string::npos && !e->finished()) queued = true;
            for (auto& [name, list] : a->connector_queues())
                for (auto& m : list)
                    if (has_tag(m)) return "taken by the connector " + name;
        }
        return queued ? "queued" : "in transit";
    };
    // Lab time passes in steps up to `within`; each step lets real I/O run.
    auto step = std::max<duration>(c.within / 40, std::chrono::seconds(5));
    duration waited{0};
    std::string now_state;
    for (int i = 0; i < 400; ++i) {
        now_state = state();
        if (now_state == "delivered" || now_state == "bounced" || now_state.starts_with("taken")) break;
        if (waited >= c.within) break;
        auto pending = pass_time(step);
        co_await std::move(pending);
        waited += step;
    }
    if (now_state == "in transit") now_state = "queued";
    out.got = now_state;
    out.passed = now_state == c.expect;
    co_return out;
}

}  // namespace

net::awaitable<void> let_lab_time_pass(lab& l, duration d) {
    l.advance(d);
    // Let deliveries, lookups and connections that the jump set off run on real sockets.
    net::steady_timer t(l.io(), std::chrono::milliseconds(25));
    co_await t.async_wait(tok);
}

net::awaitable<trainer::check_outcome> run_lab_check(lab& l, const trainer_check& c, int serial, time_passer pass_time) {
    if (c.kind == "deliver") {
        auto pending = run_deliver(l, c, serial, std::move(pass_time));
        co_return co_await std::move(pending);
    }
    trainer::check_outcome out{c, false, ""};
    auto who = acting_host(l, c);
    auto* from = l.live().find_host(who);
    if (!from) {
        out.got = "no host " + who;
        co_return out;
    }
    if (c.kind == "resolve") {
        auto type = fake_dns::parse_type(c.type.empty() ? "A" : c.type).value_or(1);
        auto timer = std::make_shared<net::steady_timer>(l.io(), net::steady_timer::time_point::max());
        auto result = std::make_shared<std::optional<fake_dns::resolve_result>>();
        l.lookup(from->name, {}, c.name, type, [timer, result](const fake_dns::resolve_result& r) {
            *result = r;
            timer->cancel();
        });
        if (!*result) co_await timer->async_wait(tok);
        auto& r = result->value();
        using o = fake_dns::resolve_result::outcome;
        if (r.what == o::answer) {
            std::vector<std::string> got;
            for (auto& rec : r.records) {
                if (auto* a = std::get_if<fake_dns::a_data>(&rec.data)) got.push_back(support::format_ipv4(a->address));
                else got.push_back(fake_dns::rdata_to_text(rec));
            }
            for (auto& g : got) out.got += (out.got.empty() ? "" : ",") + g;
            // The checks were moved to the lab's prefix with it. A name may be
            // written with or without its final dot, and an MX or SRV-like
            // answer matches on its host name alone ("mail.example.net" for
            // "10 mail.example.net.").
            auto bare = [](std::string t) {
                while (!t.empty() && t.back() == '.') t.pop_back();
                return t;
            };
            auto want = bare(c.expect);
            out.passed = std::any_of(got.begin(), got.end(), [&](auto& g) {
                auto text = bare(g);
                auto last = text.substr(text.rfind(' ') == std::string::npos ? 0 : text.rfind(' ') + 1);
                return support::iequals(text, want) || support::iequals(last, want);
            });
        } else {
            out.got = r.what == o::nxdomain ? "nxdomain" : r.describe();
            out.passed = support::iequals(out.got, c.expect);
        }
        co_return out;
    }
    if (c.kind == "connect") {
        auto* target = l.live().find_host(c.host);
        auto address = target ? std::optional<ipv4>(target->address) : support::parse_ipv4(c.host);
        if (!address) {
            out.got = "no host " + c.host;
            co_return out;
        }
        // 25 and 53 stand for the lab's SMTP and DNS ports, whatever they are; no port means SMTP.
        int port = c.port == 25 || c.port == 0 ? l.smtp_port() : c.port == 53 ? l.dns_port() : c.port;
        using namespace net::experimental::awaitable_operators;
        net::ip::tcp::socket socket(l.io());
        boost::system::error_code ec;
        socket.open(net::ip::tcp::v4(), ec);
        if (!ec) socket.bind({net::ip::address_v4(from->address), 0}, ec);
        if (ec) {
            out.got = "cannot open a socket: " + ec.message();
            co_return out;
        }
        net::steady_timer limit(l.io(), std::chrono::seconds(2));
        auto connect = socket.async_connect({net::ip::address_v4(*address), static_cast<unsigned short>(port)}, tok);
        auto r = co_await (std::move(connect) || limit.async_wait(tok));
        if (r.index() == 0) {
            auto [cec] = std::get<0>(r);
            out.got = !cec ? "open" : cec == net::error::connection_refused ? "refused" : "timeout";
        } else {
            out.got = "timeout";
        }
        out.passed = out.got == c.expect;
        co_return out;
    }
    out.got = "unknown check kind " + c.kind;
    co_return out;
}

}  // namespace sim
