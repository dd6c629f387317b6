#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fake_dns/zone.hpp"

namespace fake_dns {

/// How the server must behave for one query, decided by the caller (faults).
/// reply_cache keys on every field: a new one must join its key.
struct query_context {
    bool tcp = false;                               ///< no size limit (TCP framing is the caller's)
    bool truncate = false;                          ///< dns.truncated: UDP replies carry TC and no records
    const std::vector<std::string>* servfail = nullptr;  ///< dns.servfail: names (and below) that fail; empty = all
};

/// Answers one query as an authoritative-only server for `zones` (the zones
/// visible to this client). Writes the reply into `out` (cleared first) and
/// returns true; returns false when the right answer is silence (a response
/// packet, or a header too short to answer). Never throws on any input.
bool answer(std::span<const zone* const> zones, std::span<const std::uint8_t> query, const query_context& ctx,
            std::vector<std::uint8_t>& out);

}  // namespace fake_dns
