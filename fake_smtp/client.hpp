#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "fake_smtp/client_session.hpp"

namespace fake_smtp {

namespace net = boost::asio;

/// Time-outs of the client, in lab time (RFC 5321 4.5.3.2 gives the usual values).
struct client_timeouts {
    std::chrono::milliseconds connect{std::chrono::seconds(30)};
    std::chrono::milliseconds reply{std::chrono::minutes(5)};
};

/// Waits a lab-time duration (the lab passes its clock's sleep).
using lab_sleeper = std::function<net::awaitable<void>(std::chrono::milliseconds)>;

/// Delivers one message over a real connection from address `from` to
/// `to`:`port` (IPv4, host order), driving a client_session. Connect errors
/// come back in the result: "Connection refused", "TCP/IP timeout".
net::awaitable<delivery_result> send_message(net::any_io_executor ex, std::uint32_t from, std::uint32_t to,
                                             std::uint16_t port, client_config config, outgoing_message message,
                                             client_timeouts timeouts, lab_sleeper sleep);

}  // namespace fake_smtp
