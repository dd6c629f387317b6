#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "fake_dns/resolve_result.hpp"

namespace fake_dns {

namespace net = boost::asio;

/// Time-outs and retries of the resolver.
struct resolver_options {
    std::chrono::milliseconds timeout{3000};  ///< per attempt, lab time
    int attempts = 2;                         ///< per server
    std::uint16_t port = 53;
};

/// The simulator's stub resolver: real queries over loopback from the address
/// of the host it acts for, to that host's DNS servers, never the system's.
class resolver {
public:
    /// Waits a lab-time duration; the lab passes its clock's sleep.
    using sleeper = std::function<net::awaitable<void>(std::chrono::milliseconds)>;

    resolver(net::any_io_executor ex, sleeper sleep);

    /// Looks `name` up for `type`, asking `servers` in order from address `from`.
    net::awaitable<resolve_result> resolve(std::uint32_t from, std::vector<std::uint32_t> servers, std::string name,
                                           std::uint16_t type, resolver_options options = {});

private:
    net::awaitable<resolve_result> ask_udp(std::uint32_t from, std::uint32_t server, const std::string& name,
                                           std::uint16_t type, const resolver_options& options);
    net::awaitable<resolve_result> ask_tcp(std::uint32_t from, std::uint32_t server, const std::string& name,
                                           std::uint16_t type, const resolver_options& options);

    net::any_io_executor ex_;
    sleeper sleep_;
    std::uint64_t id_state_;
};

}  // namespace fake_dns
