#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fake_dns/record.hpp"

namespace fake_dns {

/// One authoritative zone with an index by owner name. Immutable once built:
/// a change to the live configuration builds a new zone.
class zone {
public:
    /// Builds the zone and its index. `origin` is canonical; records lie inside it.
    zone(std::string origin, std::vector<record> records);

    const std::string& origin() const { return origin_; }
    const std::vector<record>& records() const { return records_; }

    /// The SOA record at the apex, or nullptr when the zone has none.
    const record* soa() const;

    /// Records of `owner` (canonical); empty when the name owns nothing.
    /// `exists` is set when the name exists at all (owns records or has
    /// descendants: an empty non-terminal), which separates NODATA from NXDOMAIN.
    std::vector<const record*> find(std::string_view owner, bool& exists) const;

private:
    std::string origin_;
    std::vector<record> records_;
    // owner -> indices into records_; empty non-terminals map to an empty vector.
    std::unordered_map<std::string, std::vector<std::size_t>> index_;
};

}  // namespace fake_dns
