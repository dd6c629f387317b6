#include "fake_dns/server.hpp"

#include "support/listener.hpp"
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace fake_dns {

namespace {
constexpr auto tok = net::as_tuple(net::use_awaitable);
// Datagrams handled before yielding to other work, so a flood cannot starve the lab.
constexpr std::size_t udp_batch = 32;

// answer(), reusing replies built under the same snapshot of zones and faults.
bool answer_from(reply_cache& cache, const query_plan& plan, std::span<const std::uint8_t> query,
                 std::vector<std::uint8_t>& out) {
    if (!plan.keep) return answer(plan.zones, query, plan.context, out);
    cache.use(plan.keep);
    return cache.answer(plan.zones, query, plan.context, out);
}
}  // namespace

udp_server::udp_server(net::any_io_executor ex, std::shared_ptr<query_policy> policy)
    : socket_(ex), policy_(std::move(policy)) {}

boost::system::error_code udp_server::open(const net::ip::udp::endpoint& at) {
    boost::system::error_code ec;
    socket_.open(at.protocol(), ec);
    if (!ec) socket_.bind(at, ec);
    if (!ec) socket_.non_blocking(true, ec);
    if (ec) socket_.close();
    return ec;
}

void udp_server::start() {
    net::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->run(); }, net::detached);
}

void udp_server::stop() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

int udp_server::native_handle() { return socket_.native_handle(); }

net::ip::udp::endpoint udp_server::local_endpoint() const {
    boost::system::error_code ec;
    return socket_.local_endpoint(ec);
}

void udp_server::send(const net::ip::udp::endpoint& to, std::span<const std::uint8_t> query, const query_plan& plan,
                      std::vector<std::uint8_t>& out) {
    if (!answer(plan.zones, query, plan.context, out)) return;
    boost::system::error_code ec;
    // Non-blocking: a full send buffer loses the reply, as it would on a real server.
    socket_.send_to(net::buffer(out), to, 0, ec);
    if (!ec) policy_->replied(to.address().to_v4().to_uint(), false, query, out);
}

net::awaitable<void> udp_server::run() {
    auto self = shared_from_this();  // keep alive while suspended
    // Datagrams move in batches (recvmmsg/sendmmsg): one system call each way
    // for up to `udp_batch` queries, instead of two per query.
    constexpr std::size_t slot = 4096;  // larger queries are cut and answered FORMERR
    std::vector<std::uint8_t> in(udp_batch * slot);
    std::vector<mmsghdr> rx(udp_batch), tx(udp_batch);
    std::vector<iovec> rx_iov(udp_batch), tx_iov(udp_batch);
    std::vector<sockaddr_in> peers(udp_batch);
    std::vector<std::vector<std::uint8_t>> out(udp_batch);
    std::array<std::span<const std::uint8_t>, udp_batch> batch;
    for (auto& o : out) o.reserve(1232);
    // Set up once; the kernel writes only msg_len, msg_flags and msg_namelen.
    for (std::size_t i = 0; i < udp_batch; ++i) {
        rx_iov[i] = {in.data() + i * slot, slot};
        rx[i] = {};
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
        rx[i].msg_hdr.msg_name = &peers[i];
        rx[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    while (socket_.is_open()) {
        int n = ::recvmmsg(socket_.native_handle(), rx.data(), udp_batch, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                auto [wec] = co_await socket_.async_wait(net::ip::udp::socket::wait_read, tok);
                if (wec) co_return;
                continue;
            }
            if (!socket_.is_open()) co_return;
            continue;  // EINTR, or an ICMP error reported on the socket
        }
        // The cache's memory for the whole batch first, so that the waits overlap.
        for (int i = 0; i < n; ++i)
            batch[static_cast<std::size_t>(i)] = {in.data() + static_cast<std::size_t>(i) * slot,
                                                  std::min<std::size_t>(rx[static_cast<std::size_t>(i)].msg_len, slot)};
        answers_.prefetch(std::span(batch.data(), static_cast<std::size_t>(n)));
        unsigned ready = 0;
        for (int i = 0; i < n; ++i) {
            auto& peer = peers[static_cast<std::size_t>(i)];
            bool v4 = rx[static_cast<std::size_t>(i)].msg_hdr.msg_namelen >= sizeof(sockaddr_in) &&
                      peer.sin_family == AF_INET;
            rx[static_cast<std::size_t>(i)].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            if (!v4) continue;
            std::uint32_t client = ntohl(peer.sin_addr.s_addr);
            std::size_t len = rx[static_cast<std::size_t>(i)].msg_len;
            if (rx[static_cast<std::size_t>(i)].msg_hdr.msg_flags & MSG_TRUNC) len = std::min<std::size_t>(len, 12);
            std::span<const std::uint8_t> query(in.data() + static_cast<std::size_t>(i) * slot, std::min(len, slot));
            auto plan = policy_->plan(client, false, query);
            if (plan.drop) continue;
            if (plan.delay.count() > 0) {
                net::ip::udp::endpoint from(net::ip::address_v4(client), ntohs(peer.sin_port));
                net::co_spawn(socket_.get_executor(),
                              reply_later(from, std::vector<std::uint8_t>(query.begin(), query.end()), plan),
                              net::detached);
                continue;
            }
            auto& o = out[ready];
            if (!answer_from(answers_, plan, query, o)) continue;
            policy_->replied(client, false, query, o);
            tx_iov[ready] = {o.data(), o.size()};
            tx[ready] = {};
            tx[ready].msg_hdr.msg_iov = &tx_iov[ready];
            tx[ready].msg_hdr.msg_iovlen = 1;
            tx[ready].msg_hdr.msg_name = &peer;
            tx[ready].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            ++ready;
        }
        // A full send buffer loses replies, as it would on a real server.
        for (unsigned sent = 0; sent < ready;) {
            int k = ::sendmmsg(socket_.native_handle(), tx.data() + sent, ready - sent, MSG_DONTWAIT);
            if (k <= 0) break;
            sent += static_cast<unsigned>(k);
        }
        // Let the rest of the lab run between batches under a flood.
        if (static_cast<std::size_t>(n) == udp_batch) co_await net::post(socket_.get_executor(), net::use_awaitable);
    }
}

net::awaitable<void> udp_server::reply_later(net::ip::udp::endpoint to, std::vector<std::uint8_t> query,
                                             query_plan plan) {
    auto self = shared_from_this();
    co_await policy_->wait(plan.delay);
    if (!socket_.is_open()) co_return;
    std::vector<std::uint8_t> out;
    send(to, query, plan, out);
}

tcp_server::tcp_server(net::any_io_executor ex, std::shared_ptr<query_policy> policy, tcp_limits limits)
    : acceptor_(ex), policy_(std::move(policy)), limits_(limits) {}

boost::system::error_code tcp_server::open(const net::ip::tcp::endpoint& at) { return support::open_listener(acceptor_, at); }

void tcp_server::start() {
    net::co_spawn(acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
                  net::detached);
}

void tcp_server::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    support::close_sessions(sessions_);
}

int tcp_server::native_handle() { return acceptor_.native_handle(); }

std::vector<int> tcp_server::session_handles() {
    return support::open_session_handles(sessions_);
}

net::ip::tcp::endpoint tcp_server::local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
}

net::awaitable<void> tcp_server::accept_loop() {
    auto self = shared_from_this();
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(tok);
        if (ec) {
            if (!acceptor_.is_open() || ec == net::error::operation_aborted) co_return;
            continue;  // e.g. EMFILE: keep serving those already connected
        }
        if (connections_ >= limits_.max_connections) continue;  // closed as it goes out of scope
        net::co_spawn(acceptor_.get_executor(), session(std::move(socket)), net::detached);
    }
}

namespace {

// Closes the socket once it has been idle for `limit`; ends when cancelled.
net::awaitable<void> idle_watchdog(std::shared_ptr<net::ip::tcp::socket> socket,
                                   std::shared_ptr<net::steady_timer> timer,
                                   std::shared_ptr<std::chrono::steady_clock::time_point> last,
                                   std::chrono::seconds limit) {
    while (socket->is_open()) {
        timer->expires_at(*last + limit);
        auto [ec] = co_await timer->async_wait(tok);
        if (ec || !socket->is_open()) co_return;
        if (std::chrono::steady_clock::now() - *last >= limit) {
            boost::system::error_code ignored;
            socket->close(ignored);
            co_return;
        }
    }
}

}  // namespace

net::awaitable<void> tcp_server::session(net::ip::tcp::socket s) {
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
    auto client = peer.address().to_v4().to_uint();

    // One idle deadline per connection, checked by a watchdog, instead of a
    // timer raced against every read (RFC 7766 6.2.3: close idle connections).
    auto last_activity = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    auto watchdog = std::make_shared<net::steady_timer>(socket->get_executor());
    net::co_spawn(socket->get_executor(), idle_watchdog(socket, watchdog, last_activity, limits_.idle_timeout),
                  net::detached);
    struct watchdog_guard {
        std::shared_ptr<net::steady_timer> t;
        ~watchdog_guard() { t->cancel(); }
    } wguard{watchdog};

    std::vector<std::uint8_t> in;
    in.reserve(4096);
    std::vector<std::uint8_t> pending_out;  // replies to everything read so far, sent in one write
    std::vector<std::uint8_t> out;
    std::array<std::uint8_t, 16384> chunk;
    while (!stopped_) {
        auto [ec, n] = co_await socket->async_read_some(net::buffer(chunk), tok);
        if (ec) co_return;  // closed, reset, or closed by the watchdog
        *last_activity = std::chrono::steady_clock::now();
        in.insert(in.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        std::size_t pos = 0;
        pending_out.clear();
        // Answer every complete message in the buffer (RFC 7766 6.2.1: pipelined queries).
        while (in.size() - pos >= 2) {
            std::size_t len = (std::size_t{in[pos]} << 8) | in[pos + 1];
            if (len == 0) co_return;  // nothing to answer; a peer that sends this is broken
            if (in.size() - pos - 2 < len) break;
            std::span<const std::uint8_t> query(in.data() + pos + 2, len);
            pos += 2 + len;
            auto plan = policy_->plan(client, true, query);
            if (plan.drop) continue;
            if (plan.delay.count() > 0) {
                // Send what is ready first, then wait: later answers stay in order.
                if (!pending_out.empty()) {
                    auto [wec, w] = co_await net::async_write(*socket, net::buffer(pending_out), tok);
                    if (wec) co_return;
                    pending_out.clear();
                }
                std::vector<std::uint8_t> held(query.begin(), query.end());
                co_await policy_->wait(plan.delay);
                if (stopped_ || !socket->is_open()) co_return;
                if (!answer(plan.zones, held, plan.context, out)) continue;
                policy_->replied(client, true, held, out);
            } else {
                if (!answer_from(answers_, plan, query, out)) continue;
                policy_->replied(client, true, query, out);
            }
            pending_out.push_back(static_cast<std::uint8_t>(out.size() >> 8));
            pending_out.push_back(static_cast<std::uint8_t>(out.size() & 0xff));
            pending_out.insert(pending_out.end(), out.begin(), out.end());
        }
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
        if (!pending_out.empty()) {
            auto [wec, w] = co_await net::async_write(*socket, net::buffer(pending_out), tok);
            if (wec) co_return;
            *last_activity = std::chrono::steady_clock::now();
        }
    }
}

}  // namespace fake_dns
