#include "fake_smtp/server.hpp"

#include "support/listener.hpp"
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
// 421). So read and drop until the client closes too, within bounds. One timer
// for the whole linger, which cancels the read when it expires.
net::awaitable<void> drain(std::shared_ptr<net::ip::tcp::socket> socket, const smtp_limits& limits) {
    net::steady_timer timer(socket->get_executor());
    timer.expires_after(limits.linger);
    timer.async_wait([socket](const boost::system::error_code& ec) {
        boost::system::error_code ignored;
        if (!ec) socket->cancel(ignored);
    });
    std::array<char, 8192> buf;
    std::size_t dropped = 0;
    while (dropped < limits.linger_bytes) {
        auto [ec, n] = co_await socket->async_read_some(net::buffer(buf), tok);
        if (ec) break;  // end of file (the client has closed as well), or the linger is over
        dropped += n;
    }
    timer.cancel();
}

// The idle limit of one connection: a deadline moved at every read, and a
// watchdog that cancels the read once the deadline passes. Cheaper than racing
// every read against a timer, which costs more than the read itself.
struct idle_watch {
    explicit idle_watch(net::any_io_executor ex) : timer(std::move(ex)) {}
    net::steady_timer timer;
    std::chrono::steady_clock::time_point since;  // when the read now waiting began
    bool reading = false;
    bool expired = false;
};

net::awaitable<void> watch_idle(std::shared_ptr<net::ip::tcp::socket> socket, std::shared_ptr<idle_watch> w,
                                std::chrono::seconds limit) {
    for (;;) {
        // Only a read times out: while the session writes or delivers, wait another period.
        w->timer.expires_at(w->reading ? w->since + limit : std::chrono::steady_clock::now() + limit);
        auto [ec] = co_await w->timer.async_wait(tok);
        if (ec || !socket->is_open()) co_return;  // the session is over
        if (w->reading && std::chrono::steady_clock::now() - w->since >= limit) {
            w->expired = true;
            boost::system::error_code ignored;
            socket->cancel(ignored);  // the read ends with operation_aborted
            co_return;
        }
    }
}

// Splits text into lines for the protocol log (without line endings).
void log_lines(smtp_host& host, std::uint32_t client, bool from_server, std::string_view text) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        auto line = text.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        host.transcript(client, from_server, line);
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

    auto idle = std::make_shared<idle_watch>(socket->get_executor());
    auto start_watch = [&] {
        idle->expired = false;
        net::co_spawn(socket->get_executor(), watch_idle(socket, idle, limits_.idle_timeout), net::detached);
    };
    start_watch();
    struct watch_guard {
        std::shared_ptr<idle_watch> w;
        ~watch_guard() { w->timer.cancel(); }
    } wguard{idle};

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
                idle->timer.cancel();
                if (!stopped_) {
                    auto pending = drain(socket, limits_);
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
        idle->since = std::chrono::steady_clock::now();
        idle->reading = true;
        auto [ec, n] = co_await socket->async_read_some(net::buffer(buf), tok);
        idle->reading = false;
        if (idle->expired) {
            if (!ec) {
                start_watch();  // data came in just as the deadline passed: not idle after all
            } else {
                todo = fsm.on_idle_timeout();
                if (todo.empty()) co_return;
                start_watch();
                continue;
            }
        }
        if (ec) co_return;  // the client went away
        std::string_view bytes(buf.data(), n);
        if (in_content) content_bytes += n;
        else if (!fsm.stalled()) log_lines(*host_, client, false, bytes);
        todo = fsm.feed(bytes);
    }
}

}  // namespace fake_smtp
