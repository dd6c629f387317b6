#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "fake_smtp/server_session.hpp"

namespace fake_smtp {

namespace net = boost::asio;

/// The result of handing a message to the host: its queue id, or the reply
/// that refuses it (451 4.3.0 when it could not be stored).
struct delivery_outcome {
    std::string id;
    std::optional<reply> failure;
};

/// What an SMTP listener needs from the host it serves (a mail store, a
/// relay, the Exchange connector): configuration, per-connection policy,
/// storage, and the protocol log.
class smtp_host {
public:
    virtual ~smtp_host() = default;
    /// The policy and limits for one connection from `client` (IPv4, host
    /// order). Set `forced` to greet with that reply and close (a rate
    /// limit); return nullptr to close at once without a word.
    virtual std::unique_ptr<server_policy> open_session(std::uint32_t client, server_config& config,
                                                        std::optional<reply>& forced) = 0;
    /// Stores or queues a complete message.
    virtual net::awaitable<delivery_outcome> deliver(envelope env, std::string data) = 0;
    /// One line of the dialogue, for the protocol log ("<<<" server, ">>>" client).
    virtual void transcript(std::uint32_t client, bool from_server, std::string_view line) = 0;
};

/// Limits of a listener.
struct smtp_limits {
    std::size_t max_connections = 256;
    /// Idle limit per connection (RFC 5321 4.5.3.2: at least 5 minutes). Real
    /// time, not lab time: a person typing into telnet must not be cut off
    /// because the lab clock runs fast.
    std::chrono::seconds idle_timeout{300};
    /// After the server closes a connection, how long and how much it still
    /// reads (and drops) of what the client sends, so that its last replies
    /// (a 421) are not lost to the reset a close with unread input causes.
    std::chrono::milliseconds linger{1000};
    std::size_t linger_bytes = 1 << 20;
};

/// An SMTP listener on one address: accepts connections and runs a
/// server_session for each, carrying out its actions.
class smtp_server : public std::enable_shared_from_this<smtp_server> {
public:
    smtp_server(net::any_io_executor ex, std::shared_ptr<smtp_host> host, smtp_limits limits = {});
    /// Binds and listens; the error says why it could not.
    boost::system::error_code open(const net::ip::tcp::endpoint& at);
    void start();
    /// Closes the listener and every connection.
    void stop();
    int native_handle();
    /// The sockets of open connections (filters must reach them too).
    std::vector<int> session_handles();
    std::size_t connections() const { return connections_; }

private:
    net::awaitable<void> accept_loop();
    net::awaitable<void> session(net::ip::tcp::socket socket);

    net::ip::tcp::acceptor acceptor_;
    std::shared_ptr<smtp_host> host_;
    smtp_limits limits_;
    std::size_t connections_ = 0;
    bool stopped_ = false;
    std::vector<std::weak_ptr<net::ip::tcp::socket>> sessions_;
};

}  // namespace fake_smtp
