#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fake_dns/record.hpp"

namespace fake_dns {

/// RCODEs (RFC 1035 4.1.1, RFC 6891 9 for BADVERS = 16 via the OPT extended rcode).
enum class rcode : std::uint16_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5, badvers = 16 };

/// "NOERROR", "NXDOMAIN", ...
std::string_view rcode_name(rcode r);

/// The fixed 12-byte header (RFC 1035 4.1.1), flags unpacked.
struct header {
    std::uint16_t id = 0;
    bool qr = false, aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
    std::uint8_t opcode = 0;
    std::uint8_t rcode = 0;  ///< low four bits only
    std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
};

/// One entry of the question section. `name` keeps the case it had on the wire.
struct question {
    std::string name;
    std::uint16_t type = 0;
    std::uint16_t qclass = 1;
};

/// The EDNS0 OPT pseudo-record (RFC 6891 6.1).
struct edns {
    std::uint16_t udp_size = 512;
    std::uint8_t extended_rcode = 0;
    std::uint8_t version = 0;
    bool dnssec_ok = false;
};

/// A whole DNS message. Records of types the codec does not know are skipped
/// when parsing (`skipped` counts them).
struct message {
    header hdr;
    std::vector<question> questions;
    std::vector<record> answers, authority, additional;
    std::optional<edns> opt;
    std::size_t skipped = 0;

    /// The full RCODE, including the OPT's extended bits.
    rcode full_rcode() const;
};

/// Parses a message; nullopt when it is malformed in any way (every length and
/// pointer is bounds-checked; compression loops are rejected).
std::optional<message> parse_message(std::span<const std::uint8_t> wire);

/// Reads only the header and the first question: the cheap peek a server needs
/// before deciding how to answer. nullopt when they are malformed.
std::optional<std::pair<header, question>> parse_question(std::span<const std::uint8_t> wire);

/// Encodes a message with name compression (RFC 1035 4.1.4).
std::vector<std::uint8_t> encode(const message& m);

/// A standard query for `name`/`type`, with an OPT advertising `edns_size` when given.
std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t type, bool recursion_desired,
                                      std::optional<std::uint16_t> edns_size = std::nullopt);

}  // namespace fake_dns
