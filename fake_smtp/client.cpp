#include "fake_smtp/client.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace fake_smtp {

namespace {
constexpr auto tok = net::as_tuple(net::use_awaitable);
using tcp = net::ip::tcp;

delivery_result unconnected(const outgoing_message& m, std::string error) {
    delivery_result r;
    r.stage = "connect";
    r.connected = false;
    r.transport_error = error;
    for (auto& a : m.recipients) {
        recipient_result rr;
        rr.address = a;
        rr.result = recipient_result::outcome::deferred;
        r.recipients.push_back(rr);
    }
    return r;
}
}  // namespace

net::awaitable<delivery_result> send_message(net::any_io_executor ex, std::uint32_t from, std::uint32_t to,
                                             std::uint16_t port, client_config config, outgoing_message message,
                                             client_timeouts timeouts, lab_sleeper sleep) {
    using namespace net::experimental::awaitable_operators;
    tcp::socket socket(ex);
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);
    // The connection leaves from the sending host's own address: the lab's
    // socket filters judge reachability by it.
    if (!ec) socket.bind(tcp::endpoint(net::ip::address_v4(from), 0), ec);
    if (ec) co_return unconnected(message, "cannot bind the local address: " + ec.message());

    auto connect = socket.async_connect(tcp::endpoint(net::ip::address_v4(to), port), tok);
    auto connect_timeout = sleep(timeouts.connect);
    auto c = co_await (std::move(connect) || std::move(connect_timeout));
    if (c.index() == 1) co_return unconnected(message, "TCP/IP timeout");
    if (auto [cec] = std::get<0>(c); cec) {
        if (cec == net::error::connection_refused) co_return unconnected(message, "Connection refused");
        if (cec == net::error::host_unreachable || cec == net::error::network_unreachable)
            co_return unconnected(message, "Host unreachable");
        co_return unconnected(message, cec.message());
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);

    client_session fsm(std::move(config), std::move(message));
    auto todo = fsm.on_connect();
    std::array<char, 8192> buf;
    for (;;) {
        for (auto& a : todo) {
            if (a.what == client_action::kind::done) {
                socket.close(ignored);
                co_return a.result;
            }
            if (a.what == client_action::kind::close) {
                socket.close(ignored);
                continue;
            }
            auto [wec, n] = co_await net::async_write(socket, net::buffer(a.bytes), tok);
            if (wec) {
                todo = fsm.on_closed();
                break;
            }
        }
        if (fsm.finished()) {
            for (auto& a : todo)
                if (a.what == client_action::kind::done) co_return a.result;
        }
        auto read = socket.async_read_some(net::buffer(buf), tok);
        auto reply_timeout = sleep(timeouts.reply);
        auto r = co_await (std::move(read) || std::move(reply_timeout));
        if (r.index() == 1) {
            todo = fsm.on_timeout();
            continue;
        }
        auto [rec, n] = std::get<0>(r);
        todo = rec ? fsm.on_closed() : fsm.feed(std::string_view(buf.data(), n));
    }
}

}  // namespace fake_smtp
