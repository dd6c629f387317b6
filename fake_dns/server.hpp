#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "fake_dns/answer.hpp"
#include "fake_dns/reply_cache.hpp"

namespace fake_dns {

namespace net = boost::asio;

/// How one query is to be answered, as decided by whoever runs the server.
struct query_plan {
    bool drop = false;                   ///< answer with silence
    std::chrono::milliseconds delay{0};  ///< lab time to wait before answering
    query_context context;
    std::span<const zone* const> zones;  ///< the zones this client sees
    /// Keeps `zones` alive while a delayed reply waits, and stands for them: the
    /// server reuses replies built under the same `keep` (reply_cache), so a change
    /// of zones, views or faults must come with a new one. Null: nothing is reused.
    std::shared_ptr<const void> keep;
};

/// The decisions a DNS server needs from outside: faults, views, lab time, log.
class query_policy {
public:
    virtual ~query_policy() = default;
    /// Decides how to answer `query` from `client` (IPv4, host order).
    virtual query_plan plan(std::uint32_t client, bool tcp, std::span<const std::uint8_t> query) = 0;
    /// Waits `delay` of lab time.
    virtual net::awaitable<void> wait(std::chrono::milliseconds delay) = 0;
    /// Told of every reply sent; for the lab's log.
    virtual void replied(std::uint32_t client, bool tcp, std::span<const std::uint8_t> query,
                         std::span<const std::uint8_t> reply) = 0;
};

/// Limits of the TCP side.
struct tcp_limits {
    std::size_t max_connections = 256;
    std::chrono::seconds idle_timeout{30};
};

/// DNS over UDP on one address: a thin shell around answer().
class udp_server : public std::enable_shared_from_this<udp_server> {
public:
    udp_server(net::any_io_executor ex, std::shared_ptr<query_policy> policy);
    /// Binds; the error says why it could not.
    boost::system::error_code open(const net::ip::udp::endpoint& at);
    void start();
    void stop();
    int native_handle();
    net::ip::udp::endpoint local_endpoint() const;

private:
    net::awaitable<void> run();
    net::awaitable<void> reply_later(net::ip::udp::endpoint to, std::vector<std::uint8_t> query, query_plan plan);
    void send(const net::ip::udp::endpoint& to, std::span<const std::uint8_t> query, const query_plan& plan,
              std::vector<std::uint8_t>& out);

    net::ip::udp::socket socket_;
    std::shared_ptr<query_policy> policy_;
    reply_cache answers_;
};

/// DNS over TCP on one address (RFC 1035 4.2.2, RFC 7766: several queries per connection).
class tcp_server : public std::enable_shared_from_this<tcp_server> {
public:
    tcp_server(net::any_io_executor ex, std::shared_ptr<query_policy> policy, tcp_limits limits = {});
    boost::system::error_code open(const net::ip::tcp::endpoint& at);
    void start();
    void stop();
    int native_handle();
    net::ip::tcp::endpoint local_endpoint() const;
    /// The sockets of open connections: a filter change must reach them too,
    /// since they keep the filter they were accepted with.
    std::vector<int> session_handles();

private:
    net::awaitable<void> accept_loop();
    net::awaitable<void> session(net::ip::tcp::socket socket);

    net::ip::tcp::acceptor acceptor_;
    std::shared_ptr<query_policy> policy_;
    reply_cache answers_;
    tcp_limits limits_;
    std::size_t connections_ = 0;
    bool stopped_ = false;
    std::vector<std::weak_ptr<net::ip::tcp::socket>> sessions_;
};

}  // namespace fake_dns
