#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace support {

/// An IPv4 address in host byte order.
using ipv4 = std::uint32_t;

/// Parses dotted-quad text ("127.25.10.190"); nullopt unless exactly four decimal octets.
std::optional<ipv4> parse_ipv4(std::string_view text);

/// Dotted-quad text of an address.
std::string format_ipv4(ipv4 address);

/// True for 127.0.0.0/8.
constexpr bool is_loopback(ipv4 a) { return (a >> 24) == 127; }

/// A network in CIDR notation.
struct cidr {
    ipv4 network = 0;
    int length = 0;

    /// The netmask of this prefix length.
    constexpr ipv4 mask() const { return length == 0 ? 0 : ~ipv4{0} << (32 - length); }
    /// True when the address lies in this network.
    constexpr bool contains(ipv4 a) const { return (a & mask()) == network; }
    /// "127.25.8.0/21".
    std::string to_string() const;
    bool operator==(const cidr&) const = default;
};

/// Parses "a.b.c.d/len"; nullopt if malformed or if host bits are set.
std::optional<cidr> parse_cidr(std::string_view text);

}  // namespace support
