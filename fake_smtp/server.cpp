#include "fake_smtp/server.hpp"

#include "support/listener.hpp"
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace fake_smtp {

namespace {
constexpr auto tok = net::as_tuple(net::use_awaitable);

// A lingering close: the server has said its last word and shut down its
// sending side. Closing now, with the client's pipelined commands still
// unread, would make the kernel answer with a reset that discards the replies
// not yet delivered (the client would see "connection reset" instead of the
// 421). So read and drop until the client closes too, within bounds.
net::awaitable<void> drain(net::ip::tcp::socket& socket, net::steady_timer& timer, const smtp_limits& limits) {
    using namespace net::experimental::awaitable_operators;
    std::array<char, 8192> buf;
    std::size_t dropped = 0;
    timer.expires_after(limits.linger);
    while (dropped < limits.linger_bytes) {
        auto r = co_await (socket.async_read_some(net::buffer(buf), tok) || timer.async_wait(tok));
        if (r.index() == 1) co_return;
        auto [ec, n] = std::get<0>(r);
        if (ec) co_return;  // end of file: the client has closed as well
        dropped += n;
    }
}

// Splits text into lines for the protocol log (without line endings).
void log_lines(smtp_host& host, std::uint32_t client, bool from_server, std::string_view text) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        auto line = text.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        host.transcript(client, from_server, std::string(line));
        if (eol == std::string_view::npos) break;
        text.remove_prefix(eol + 1);
    }
}
}  // namespace

smtp_server::smtp_server(net::any_io_executor ex, std::shared_ptr<smtp_host> host, smtp_limits limits)
    : acceptor_(ex), host_(std::move(host)), limits_(limits) {}

boost::system::error_code smtp_server::open(const net::ip::tcp::endpoint& at) { return support::open_listener(acceptor_, at); }

void smtp_server::start() {
    net::co_spawn(acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
                  net::detached);
}

void smtp_server::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    support::close_sessions(sessions_);
}

int smtp_server::native_handle() { return acceptor_.native_handle(); }

std::vector<int> smtp_server::session_handles() {
    return support::open_session_handles(sessions_);
}

net::awaitable<void> smtp_server::accept_loop() {
    auto self = shared_from_this();
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(tok);
        if (ec) {
            if (!acceptor_.is_open() || ec == net::error::operation_aborted) co_return;
            continue;
        }
        if (connections_ >= limits_.max_connections) {
            // Over the limit: say so and close, as Postfix's anvil does.
            static const std::string busy = "421 4.7.0 Error: too many connections\r\n";
            boost::system::error_code ignored;
            net::write(socket, net::buffer(busy), ignored);
            continue;
        }
        net::co_spawn(acceptor_.get_executor(), session(std::move(socket)), net::detached);
    }
}

net::awaitable<void> smtp_server::session(net::ip::tcp::socket s) {
    using namespace net::experimental::awaitable_operators;
    auto self = shared_from_this();
    auto socket = std::make_shared<net::ip::tcp::socket>(std::move(s));
    std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    sessions_.push_back(socket);
    ++connections_;
    struct count_guard {
        std::size_t& n;
        ~count_guard() { --n; }
    } guard{connections_};

    boost::system::error_code ignored;
    socket->set_option(net::ip::tcp::no_delay(true), ignored);
    auto peer = socket->remote_endpoint(ignored);
    if (!peer.address().is_v4()) co_return;
    std::uint32_t client = peer.address().to_v4().to_uint();

    std::optional<reply> forced;
    server_config config;
    auto policy = host_->open_session(client, config, forced);
    if (!policy) co_return;  // closed as it goes out of scope
    server_session fsm(std::move(config), *policy, peer.address().to_string());
    net::steady_timer timer(socket->get_executor());
    std::array<char, 8192> buf;
    bool in_content = false;  // between 354 and the reply to the final dot: not logged line by line
    std::size_t content_bytes = 0;

    auto todo = fsm.on_connect(forced);
    for (;;) {
        // Carry out the actions; a deliver produces more actions.
        for (std::size_t i = 0; i < todo.size(); ++i) {
            auto& a = todo[i];
            if (a.what == server_action::kind::close) {
                socket->shutdown(net::ip::tcp::socket::shutdown_send, ignored);
                if (!stopped_) {
                    auto pending = drain(*socket, timer, limits_);
                    co_await std::move(pending);
                }
                socket->close(ignored);
                co_return;
            }
            if (a.what == server_action::kind::deliver) {
                in_content = false;
                host_->transcript(client, false, "(message, " + std::to_string(a.data.size()) + " bytes)");
                // Two statements: the call's by-value arguments must not share a
                // full-expression with co_await (GCC 12 mishandles their copies).
                auto pending = host_->deliver(std::move(a.env), std::move(a.data));
                auto outcome = co_await std::move(pending);
                if (stopped_) co_return;
                auto more = fsm.on_delivered(outcome.id, outcome.failure);
                todo.insert(todo.end(), more.begin(), more.end());
                continue;
            }
            log_lines(*host_, client, true, a.bytes);
            if (a.bytes.rfind("354", 0) == 0) {
                in_content = true;
                content_bytes = 0;
            }
            auto [wec, n] = co_await net::async_write(*socket, net::buffer(a.bytes), tok);
            if (wec) co_return;
        }
        timer.expires_after(limits_.idle_timeout);
        auto r = co_await (socket->async_read_some(net::buffer(buf), tok) || timer.async_wait(tok));
        if (r.index() == 1) {
            todo = fsm.on_idle_timeout();
            if (todo.empty()) co_return;
            continue;
        }
        auto [ec, n] = std::get<0>(r);
        if (ec) co_return;  // the client went away
        std::string_view bytes(buf.data(), n);
        if (in_content) content_bytes += n;
        else if (!fsm.stalled()) log_lines(*host_, client, false, bytes);
        todo = fsm.feed(bytes);
    }
}

}  // namespace fake_smtp
