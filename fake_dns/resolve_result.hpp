#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fake_dns/record.hpp"

namespace fake_dns {

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

/// Interprets a reply to a query for `name`/`type` (pure; used by the resolver and by tests).
resolve_result interpret_reply(std::span<const std::uint8_t> reply, std::uint16_t id, const std::string& name,
                               std::uint16_t type);

}  // namespace fake_dns
