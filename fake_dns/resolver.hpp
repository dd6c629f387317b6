#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "fake_dns/record.hpp"

namespace fake_dns {

namespace net = boost::asio;

/// What a lookup came to.
struct resolve_result {
    enum class outcome { answer, nxdomain, nodata, servfail, refused, timeout, unreachable, bad_reply };
    outcome what = outcome::timeout;
    std::vector<record> records;         ///< records of the asked type, CNAMEs followed
    std::vector<record> answer_section;  ///< the whole answer section as received
    std::uint32_t server = 0;            ///< the server that answered (0: none did)
    bool authoritative = false;
    bool over_tcp = false;

    /// "NXDOMAIN from 127.25.10.53", "timed out (127.25.10.53)", for logs and the console.
    std::string describe() const;
};

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

/// Interprets a reply to a query for `name`/`type` (pure; used by the resolver and by tests).
resolve_result interpret_reply(std::span<const std::uint8_t> reply, std::uint16_t id, const std::string& name,
                               std::uint16_t type);

}  // namespace fake_dns
