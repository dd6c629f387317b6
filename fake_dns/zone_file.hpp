#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fake_dns/record.hpp"

namespace fake_dns {

/// A problem in master-file text, positioned in that text (1-based).
struct zone_error {
    int line = 0;
    int column = 0;
    std::string message;
};

/// What parsing master-file text gives: every record it could read and every error.
struct zone_parse_result {
    std::vector<record> records;
    std::vector<zone_error> errors;
    std::vector<std::pair<int, int>> positions;  ///< line and column where each record starts
};

/// Parses RFC 1035 master-file text (section 5.1): `@`, relative and absolute
/// names, blank owner (previous owner), optional TTL and class in either order,
/// `$TTL`, `$ORIGIN`, parentheses across lines, `;` comments, quoted strings;
/// types A, AAAA, NS, SOA, MX, CNAME, PTR, TXT. Errors are collected, never thrown;
/// parsing resumes at the next entry. Records outside `origin` are errors.
zone_parse_result parse_zone_text(std::string_view text, std::string_view origin, std::uint32_t default_ttl = 3600);

}  // namespace fake_dns
