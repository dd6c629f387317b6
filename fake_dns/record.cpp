#include "fake_dns/record.hpp"

#include <charconv>
#include <cstdio>

#include "support/ipv4.hpp"

namespace fake_dns {

namespace {

struct type_entry {
    std::uint16_t type;
    std::string_view name;
};

constexpr type_entry known_types[] = {
    {1, "A"},     {2, "NS"},   {5, "CNAME"}, {6, "SOA"}, {12, "PTR"},  {15, "MX"},
    {16, "TXT"},  {28, "AAAA"}, {41, "OPT"}, {255, "ANY"},
};

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
        if (x != y) return false;
    }
    return true;
}

// A name as master files write it: absolute, with the trailing dot ("." for the root).
std::string absolute(const std::string& name) { return name.empty() ? std::string(".") : name + "."; }

void append_aaaa(std::string& out, const std::array<std::uint8_t, 16>& a) {
    std::uint16_t g[8];
    for (int i = 0; i < 8; ++i) g[i] = static_cast<std::uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
    // RFC 5952 5: IPv4-mapped addresses show the IPv4 part dotted.
    bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
    int groups = mapped ? 6 : 8;
    // RFC 5952 4.2: compress the longest run of two or more zero groups, the first on a tie.
    int best = -1, best_len = 0;
    for (int i = 0; i < groups;) {
        if (g[i] != 0) { ++i; continue; }
        int j = i;
        while (j < groups && g[j] == 0) ++j;
        if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
        i = j;
    }
    char buf[8];
    for (int i = 0; i < groups; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len) out += ':';
        int n = std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(g[i]));
        out.append(buf, static_cast<std::size_t>(n));
    }
    if (mapped) {
        if (best + best_len != groups) out += ':';
        out += support::format_ipv4(static_cast<std::uint32_t>(a[12]) << 24 | static_cast<std::uint32_t>(a[13]) << 16 |
                                    static_cast<std::uint32_t>(a[14]) << 8 | a[15]);
    }
}

void append_quoted(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

}  // namespace

std::string type_name(std::uint16_t type) {
    for (const auto& e : known_types)
        if (e.type == type) return std::string(e.name);
    return "TYPE" + std::to_string(type);  // RFC 3597 5
}

std::optional<std::uint16_t> parse_type(std::string_view text) {
    for (const auto& e : known_types)
        if (iequal(text, e.name)) return e.type;
    if (text.size() > 4 && iequal(text.substr(0, 4), "TYPE")) {
        auto digits = text.substr(4);
        if (digits.size() > 5) return std::nullopt;
        unsigned value = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (ec != std::errc{} || p != digits.data() + digits.size() || value > 65535) return std::nullopt;
        return static_cast<std::uint16_t>(value);
    }
    return std::nullopt;
}

std::string rdata_to_text(const record& r) {
    std::string out;
    if (auto* a = std::get_if<a_data>(&r.data)) {
        out = support::format_ipv4(a->address);
    } else if (auto* aaaa = std::get_if<aaaa_data>(&r.data)) {
        append_aaaa(out, aaaa->address);
    } else if (auto* n = std::get_if<name_data>(&r.data)) {
        out = absolute(n->target);
    } else if (auto* mx = std::get_if<mx_data>(&r.data)) {
        out = std::to_string(mx->preference) + " " + absolute(mx->exchange);
    } else if (auto* soa = std::get_if<soa_data>(&r.data)) {
        out = absolute(soa->mname) + " " + absolute(soa->rname) + " " + std::to_string(soa->serial) + " " +
              std::to_string(soa->refresh) + " " + std::to_string(soa->retry) + " " + std::to_string(soa->expire) +
              " " + std::to_string(soa->minimum);
    } else if (auto* txt = std::get_if<txt_data>(&r.data)) {
        for (std::size_t i = 0; i < txt->strings.size(); ++i) {
            if (i) out += ' ';
            append_quoted(out, txt->strings[i]);
        }
        if (txt->strings.empty()) out = "\"\"";
    }
    return out;
}

std::string to_text(const record& r) {
    return absolute(r.owner) + " " + std::to_string(r.ttl) + " IN " + type_name(r.type) + " " + rdata_to_text(r);
}

std::string canonical_name(std::string_view name) {
    std::string out(name);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!out.empty() && out.back() == '.') {
        // An escaped final dot ("a\.") belongs to the label; count the backslashes before it.
        std::size_t slashes = 0;
        for (std::size_t i = out.size() - 1; i > 0 && out[i - 1] == '\\'; --i) ++slashes;
        if (slashes % 2 == 0) out.pop_back();
    }
    return out;
}

bool in_zone(std::string_view name, std::string_view zone) {
    if (zone.empty() || name == zone) return true;
    if (name.size() <= zone.size() + 1) return false;
    std::size_t dot = name.size() - zone.size() - 1;
    if (name[dot] != '.' || name.substr(dot + 1) != zone) return false;
    // The separating dot must not be an escaped dot inside a label.
    std::size_t slashes = 0;
    for (std::size_t i = dot; i > 0 && name[i - 1] == '\\'; --i) ++slashes;
    return slashes % 2 == 0;
}

}  // namespace fake_dns
