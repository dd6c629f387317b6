#pragma once
#include <array>
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

/// Longest name (RFC 1035 2.3.4: 255 octets in wire form) and longest label (63).
inline constexpr std::size_t max_name_octets = 255;
inline constexpr std::size_t max_label_octets = 63;

/// A name in uncompressed wire form, held inline so the answer path allocates nothing.
struct wire_name {
    std::array<std::uint8_t, max_name_octets> bytes{};
    std::size_t size = 0;    ///< octets used, including the terminating zero
    std::size_t labels = 0;  ///< labels before the root

    /// The octets in use.
    std::span<const std::uint8_t> view() const { return {bytes.data(), size}; }
};

/// Why presentation text is not a valid name.
enum class name_status { ok, empty_label, label_too_long, name_too_long, bad_escape };

/// Presentation text ("www.corp.example", trailing dot optional, "" and "." are the root,
/// "\." and "\DDD" escapes) to wire form; case is kept.
name_status text_to_wire(std::string_view text, wire_name& out);

/// Presentation text of an uncompressed wire name without the trailing dot ("" for the
/// root), escaping what master files cannot show raw; `lower` folds A-Z.
std::string wire_to_text(std::span<const std::uint8_t> wire, bool lower);

/// Reads a possibly compressed name at `pos` in `msg` and moves `pos` past it. False
/// when it runs out of bounds, uses a reserved label type, a pointer that does not
/// point before the run it interrupts, or exceeds 255 octets.
bool read_name(std::span<const std::uint8_t> msg, std::size_t& pos, wire_name& out);

/// Folds A-Z to a-z in an uncompressed wire name (RFC 4343: names compare case-insensitively).
void lower_wire(wire_name& name);

/// Uncompressed RDATA of a record; TXT strings over 255 octets are split. False when a
/// name in it is invalid.
bool rdata_to_wire(const record& r, std::vector<std::uint8_t>& out);

/// Writes names into a message being built, pointing at earlier copies of their longest
/// known suffix (RFC 1035 4.1.4). Fixed capacity: nothing is allocated.
class name_compressor {
public:
    /// Appends uncompressed wire `name` to `out`, compressed when `compress` is set, and
    /// remembers its labels for later names.
    void write(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> name, bool compress = true);
    /// Forgets names written at or after `size` (the message was cut back to `size`).
    void forget_from(std::size_t size);
    /// Forgets everything (a new message).
    void clear() { count_ = 0; }

private:
    struct entry {
        std::uint32_t hash;
        std::uint16_t offset;
    };
    std::array<entry, 256> entries_{};
    std::size_t count_ = 0;
};

/// A standard query for `name`/`type`, with an OPT advertising `edns_size` when given.
std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t type, bool recursion_desired,
                                      std::optional<std::uint16_t> edns_size = std::nullopt);

}  // namespace fake_dns
