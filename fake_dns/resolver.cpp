#include "fake_dns/resolver.hpp"

#include <array>
#include <optional>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fake_dns/wire.hpp"

namespace fake_dns {

namespace {
constexpr auto tok = net::as_tuple(net::use_awaitable);
using udp = net::ip::udp;
using tcp = net::ip::tcp;

}  // namespace

resolver::resolver(net::any_io_executor ex, sleeper sleep)
    : ex_(std::move(ex)), sleep_(std::move(sleep)),
      id_state_(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}

net::awaitable<resolve_result> resolver::resolve(std::uint32_t from, std::vector<std::uint32_t> servers,
                                                 std::string name, std::uint16_t type, resolver_options options) {
    resolve_result last;
    last.what = servers.empty() ? resolve_result::outcome::unreachable : resolve_result::outcome::timeout;
    for (int attempt = 0; attempt < options.attempts; ++attempt)
        for (auto server : servers) {
            auto r = co_await ask_udp(from, server, name, type, options);
            if (r.what == resolve_result::outcome::answer || r.what == resolve_result::outcome::nodata ||
                r.what == resolve_result::outcome::nxdomain)
                co_return r;
            // SERVFAIL, REFUSED, time-outs and unreachable servers: try the next one.
            if (last.what == resolve_result::outcome::timeout || r.what != resolve_result::outcome::timeout) last = r;
        }
    co_return last;
}

net::awaitable<resolve_result> resolver::ask_udp(std::uint32_t from, std::uint32_t server, const std::string& name,
                                                 std::uint16_t type, const resolver_options& options) {
    using namespace net::experimental::awaitable_operators;
    resolve_result r;
    r.server = server;
    auto id = static_cast<std::uint16_t>((id_state_ = id_state_ * 6364136223846793005ull + 1442695040888963407ull) >> 48);
    auto query = build_query(id, name, type, false, 1232);
    udp::socket socket(ex_);
    boost::system::error_code ec;
    socket.open(udp::v4(), ec);
    if (!ec) socket.bind(udp::endpoint(net::ip::address_v4(from), 0), ec);
    if (ec) {
        r.what = resolve_result::outcome::unreachable;
        co_return r;
    }
    udp::endpoint to(net::ip::address_v4(server), options.port);
    auto [sec, sent] = co_await socket.async_send_to(net::buffer(query), to, tok);
    if (sec) {
        r.what = resolve_result::outcome::unreachable;
        co_return r;
    }
    std::array<std::uint8_t, 4096> buf{};
    // One time-out for the whole attempt, however many stray datagrams arrive.
    auto deadline = sleep_(options.timeout);
    for (;;) {
        udp::endpoint sender;
        auto res = co_await (socket.async_receive_from(net::buffer(buf), sender, tok) || std::move(deadline));
        if (res.index() == 1) {
            r.what = resolve_result::outcome::timeout;
            co_return r;
        }
        auto [rec, n] = std::get<0>(res);
        if (rec) {
            // ICMP port unreachable: nothing listens there.
            r.what = resolve_result::outcome::unreachable;
            co_return r;
        }
        if (sender != to) {
            deadline = sleep_(options.timeout);
            continue;
        }
        auto m = parse_message(std::span<const std::uint8_t>(buf.data(), n));
        if (m && m->hdr.id == id && m->hdr.tc) co_return co_await ask_tcp(from, server, name, type, options);
        auto out = interpret_reply(std::span<const std::uint8_t>(buf.data(), n), id, name, type);
        if (out.what == resolve_result::outcome::bad_reply) {
            deadline = sleep_(options.timeout);
            continue;  // not our answer; keep waiting
        }
        out.server = server;
        co_return out;
    }
}

net::awaitable<resolve_result> resolver::ask_tcp(std::uint32_t from, std::uint32_t server, const std::string& name,
                                                 std::uint16_t type, const resolver_options& options) {
    using namespace net::experimental::awaitable_operators;
    resolve_result r;
    r.server = server;
    r.over_tcp = true;
    auto id = static_cast<std::uint16_t>((id_state_ = id_state_ * 6364136223846793005ull + 1442695040888963407ull) >> 48);
    auto query = build_query(id, name, type, false);
    tcp::socket socket(ex_);
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind(tcp::endpoint(net::ip::address_v4(from), 0), ec);
    if (ec) {
        r.what = resolve_result::outcome::unreachable;
        co_return r;
    }
    auto exchange = [&]() -> net::awaitable<std::optional<std::vector<std::uint8_t>>> {
        auto [cec] = co_await socket.async_connect(tcp::endpoint(net::ip::address_v4(server), options.port), tok);
        if (cec) co_return std::nullopt;
        std::array<std::uint8_t, 2> len{static_cast<std::uint8_t>(query.size() >> 8),
                                        static_cast<std::uint8_t>(query.size() & 0xff)};
        std::array<net::const_buffer, 2> bufs{net::buffer(len), net::buffer(query)};
        auto [wec, w] = co_await net::async_write(socket, bufs, tok);
        if (wec) co_return std::nullopt;
        auto [rec, rn] = co_await net::async_read(socket, net::buffer(len), tok);
        if (rec) co_return std::nullopt;
        std::vector<std::uint8_t> reply((std::size_t{len[0]} << 8) | len[1]);
        auto [bec, bn] = co_await net::async_read(socket, net::buffer(reply), tok);
        if (bec) co_return std::nullopt;
        co_return reply;
    };
    auto res = co_await (exchange() || sleep_(options.timeout));
    if (res.index() == 1) {
        r.what = resolve_result::outcome::timeout;
        co_return r;
    }
    auto& reply = std::get<0>(res);
    if (!reply) {
        r.what = resolve_result::outcome::unreachable;
        co_return r;
    }
    auto out = interpret_reply(*reply, id, name, type);
    out.server = server;
    out.over_tcp = true;
    co_return out;
}

}  // namespace fake_dns
