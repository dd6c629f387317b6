#include "fake_dns/zone.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "fake_dns/wire.hpp"

namespace fake_dns {

namespace {

std::string wire_of(const std::string& text, const char* what) {
    wire_name w;
    if (text_to_wire(text, w) != name_status::ok)
        throw std::invalid_argument(std::string("invalid ") + what + " name \"" + text + "\"");
    lower_wire(w);
    return std::string(reinterpret_cast<const char*>(w.bytes.data()), w.size);
}

// The wire name without its first label: the parent.
std::string_view parent_of(std::string_view wire) { return wire.substr(1 + static_cast<unsigned char>(wire[0])); }

// Compared label by label so that escapes in the text form cannot fool the test.
bool wire_in_zone(std::string_view name, std::string_view origin) {
    for (;;) {
        if (name.size() == origin.size()) return name == origin;
        if (name.size() < origin.size() || name[0] == 0) return false;
        name = parent_of(name);
    }
}

}  // namespace

zone::zone(std::string origin, std::vector<record> records)
    : origin_(std::move(origin)), records_(std::move(records)) {
    origin_wire_ = wire_of(origin_, "zone origin");
    index_.try_emplace(origin_wire_);
    wire_.reserve(records_.size());
    for (std::uint32_t i = 0; i < records_.size(); ++i) {
        const auto& r = records_[i];
        wire_record w;
        w.owner = wire_of(r.owner, "owner");
        if (!wire_in_zone(w.owner, origin_wire_))
            throw std::invalid_argument("record \"" + r.owner + "\" lies outside the zone \"" + origin_ + "\"");
        std::vector<std::uint8_t> rdata;
        if (!rdata_to_wire(r, rdata)) throw std::invalid_argument("invalid name in the data of \"" + to_text(r) + "\"");
        w.rdata.assign(rdata.begin(), rdata.end());
        if (std::holds_alternative<name_data>(r.data) && (r.type == 2 || r.type == 5 || r.type == 12))
            w.form = rdata_form::name;
        else if (std::holds_alternative<mx_data>(r.data) && r.type == 15)
            w.form = rdata_form::mx;
        else if (std::holds_alternative<soa_data>(r.data) && r.type == 6)
            w.form = rdata_form::soa;
        // Names in RDATA are matched against the index, which is lower case. Length
        // octets (0..63) never fall in A-Z, so folding the name octets wholesale is safe.
        std::size_t names_begin = 0, names_end = 0;
        if (std::holds_alternative<name_data>(r.data)) names_end = w.rdata.size();
        if (std::holds_alternative<mx_data>(r.data)) names_begin = 2, names_end = w.rdata.size();
        if (std::holds_alternative<soa_data>(r.data)) names_end = w.rdata.size() - 20;
        for (std::size_t k = names_begin; k < names_end; ++k)
            if (w.rdata[k] >= 'A' && w.rdata[k] <= 'Z') w.rdata[k] = static_cast<char>(w.rdata[k] - 'A' + 'a');

        auto& n = index_[w.owner];
        auto it = std::find_if(n.rrsets.begin(), n.rrsets.end(), [&](const rrset& s) { return s.type == r.type; });
        if (it == n.rrsets.end()) {
            n.rrsets.push_back(rrset{r.type, {}});
            it = n.rrsets.end() - 1;
        }
        // RFC 2181 5: an RRset holds no duplicate records.
        bool duplicate = std::any_of(it->records.begin(), it->records.end(),
                                     [&](std::uint32_t j) { return wire_[j].rdata == w.rdata; });
        if (!duplicate) it->records.push_back(i);
        if (r.type == 2 && w.owner != origin_wire_) n.delegation = true;
        if (r.type == 6 && w.owner == origin_wire_ && soa_ == static_cast<std::size_t>(-1)) soa_ = i;

        // Ancestors up to the origin exist even when they own nothing (RFC 4592 2.2.2).
        for (std::string_view up = w.owner; up.size() > origin_wire_.size();) {
            up = parent_of(up);
            auto [pos, inserted] = index_.try_emplace(std::string(up));
            if (!inserted) break;  // its own ancestors were added with it
        }
        wire_.push_back(std::move(w));
    }
    for (const auto& [name, n] : index_) {
        if (n.delegation) has_delegations_ = true;
        // A `*` label at the apex or below makes its parent a possible closest encloser
        // with a source of synthesis (RFC 4592 3.3.1). A zone whose own origin starts
        // with `*` has no parent here: its apex is an ordinary name of this zone.
        if (name.size() > origin_wire_.size() && name[0] == 1 && name[1] == '*') {
            index_.find(parent_of(name))->second.wildcard_child = true;
            has_wildcards_ = true;
        }
    }
    if (const record* s = soa()) {
        const auto* d = std::get_if<soa_data>(&s->data);
        negative_ttl_ = d ? std::min(s->ttl, d->minimum) : s->ttl;
    }
}

const zone::node* zone::wildcard_for(std::string_view wire_lower) const {
    // Only zones with wildcards pay for the walk; outside the zone nothing matches.
    if (!has_wildcards_ || !wire_in_zone(wire_lower, origin_wire_)) return nullptr;
    // The closest encloser is the longest existing ancestor (RFC 4592 3.3.1); every
    // ancestor of an indexed name is indexed, so the first hit going up is it.
    for (std::string_view up = wire_lower; up.size() > origin_wire_.size();) {
        up = parent_of(up);
        auto it = index_.find(up);
        if (it == index_.end()) continue;
        if (!it->second.wildcard_child) return nullptr;
        // "*." + the encloser, on the stack: the flag says it exists, so it fits in a name.
        std::array<char, max_name_octets> star{};
        if (up.size() + 2 > star.size()) return nullptr;
        star[0] = 1;
        star[1] = '*';
        std::copy(up.begin(), up.end(), star.begin() + 2);
        return lookup(std::string_view(star.data(), up.size() + 2));
    }
    return nullptr;
}

std::vector<const record*> zone::find(std::string_view owner, bool& exists) const {
    std::vector<const record*> out;
    exists = false;
    wire_name w;
    if (text_to_wire(canonical_name(owner), w) != name_status::ok) return out;
    lower_wire(w);
    const node* n = lookup(std::string_view(reinterpret_cast<const char*>(w.bytes.data()), w.size));
    if (!n) return out;
    exists = true;
    for (const auto& s : n->rrsets)
        for (auto i : s.records) out.push_back(&records_[i]);
    return out;
}

}  // namespace fake_dns
