#pragma once
#include <cstdint>
#include <functional>
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
    /// How the answer path writes a record's RDATA: which names in it it may compress
    /// (RFC 3597 4: only those of the RFC 1035 types).
    enum class rdata_form : std::uint8_t { raw, name, mx, soa };

    /// A record pre-encoded for the answer path: lower-case wire owner and uncompressed RDATA.
    struct wire_record {
        std::string owner;  ///< uncompressed wire form, lower case
        std::string rdata;  ///< uncompressed RDATA; names in it are lower case
        rdata_form form = rdata_form::raw;
    };

    /// The records of one type at one name, in zone order (indices into records()).
    struct rrset {
        std::uint16_t type = 0;
        std::vector<std::uint32_t> records;
    };

    /// A name of the zone: its RRsets in order of first appearance. An empty
    /// non-terminal is a node with no RRsets.
    struct node {
        std::vector<rrset> rrsets;
        bool delegation = false;  ///< NS records below the apex: a zone cut
        /// "*.<this name>" exists: as a closest encloser this name has a source of
        /// synthesis (RFC 4592 3.3.1).
        bool wildcard_child = false;

        /// The RRset of `type`, or nullptr.
        const rrset* find(std::uint16_t type) const {
            for (const auto& s : rrsets)
                if (s.type == type) return &s;
            return nullptr;
        }
    };

    /// Builds the zone and its index. `origin` is canonical; records lie inside it.
    /// Throws std::invalid_argument for a record outside the origin or with an
    /// unencodable name (label over 63 octets, name over 255).
    zone(std::string origin, std::vector<record> records);

    const std::string& origin() const { return origin_; }
    const std::vector<record>& records() const { return records_; }

    /// The SOA record at the apex, or nullptr when the zone has none.
    const record* soa() const { return soa_ < records_.size() ? &records_[soa_] : nullptr; }

    /// Records of `owner` (canonical); empty when the name owns nothing.
    /// `exists` is set when the name exists at all (owns records or has
    /// descendants: an empty non-terminal), which separates NODATA from NXDOMAIN.
    /// Allocates: the answer path uses lookup() instead.
    std::vector<const record*> find(std::string_view owner, bool& exists) const;

    /// The node of a lower-case uncompressed wire name, or nullptr when the name does not exist.
    const node* lookup(std::string_view wire_lower) const {
        auto it = index_.find(wire_lower);
        return it == index_.end() ? nullptr : &it->second;
    }

    /// The wildcard that answers for `wire_lower` (lower-case uncompressed wire form), a
    /// name lookup() did not find: the node of `*.<closest encloser>` (RFC 4592 3.3.1),
    /// which may be an empty non-terminal (RFC 4592 4.9). nullptr when no wildcard covers
    /// the name or the name lies outside the zone. Zone cuts are the caller's to check
    /// first: a referral (RFC 1034 4.3.2 step 3b) comes before a wildcard match (step 3c).
    /// Allocates nothing.
    const node* wildcard_for(std::string_view wire_lower) const;

    /// The pre-encoded form of records()[i].
    const wire_record& wire(std::uint32_t i) const { return wire_[i]; }
    /// The origin in lower-case uncompressed wire form.
    const std::string& origin_wire() const { return origin_wire_; }
    /// True when some name below the apex owns NS records.
    bool has_delegations() const { return has_delegations_; }
    /// True when some name of the zone starts with a `*` label (RFC 4592 2.1.1).
    bool has_wildcards() const { return has_wildcards_; }
    /// TTL of the SOA in negative answers: min(SOA TTL, MINIMUM) (RFC 2308 3).
    std::uint32_t negative_ttl() const { return negative_ttl_; }

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::string origin_;
    std::vector<record> records_;
    std::vector<wire_record> wire_;
    std::string origin_wire_;
    // lower-case wire owner -> node; empty non-terminals have no RRsets.
    std::unordered_map<std::string, node, string_hash, std::equal_to<>> index_;
    std::size_t soa_ = static_cast<std::size_t>(-1);
    std::uint32_t negative_ttl_ = 0;
    bool has_delegations_ = false;
    bool has_wildcards_ = false;
};

}  // namespace fake_dns
