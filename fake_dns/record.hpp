#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fake_dns {

/// Resource record types the lab serves (RFC 1035 3.2.2, RFC 3596, RFC 6891).
enum class rr_type : std::uint16_t {
    a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, mx = 15, txt = 16, aaaa = 28, opt = 41, any = 255,
};

/// "A", "MX", ... ; "TYPE123" for types without a mnemonic (RFC 3597).
std::string type_name(std::uint16_t type);
/// Parses a mnemonic (case-insensitive) or "TYPEnnn"; nullopt if unknown.
std::optional<std::uint16_t> parse_type(std::string_view text);

struct a_data { std::uint32_t address = 0; bool operator==(const a_data&) const = default; };        ///< host order
struct aaaa_data { std::array<std::uint8_t, 16> address{}; bool operator==(const aaaa_data&) const = default; };
struct name_data { std::string target; bool operator==(const name_data&) const = default; };        ///< NS, CNAME, PTR
struct mx_data { std::uint16_t preference = 0; std::string exchange; bool operator==(const mx_data&) const = default; };
struct soa_data {
    std::string mname, rname;
    std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
    bool operator==(const soa_data&) const = default;
};
struct txt_data { std::vector<std::string> strings; bool operator==(const txt_data&) const = default; };

/// The typed RDATA of a record.
using rdata = std::variant<a_data, aaaa_data, name_data, mx_data, soa_data, txt_data>;

/// One resource record. Names are absolute, lower case, without the trailing dot
/// ("exch1.corp.example"; the root is ""). Class is always IN.
struct record {
    std::string owner;
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    rdata data;
    bool operator==(const record&) const = default;
};

/// Master-file text of the RDATA alone ("10 exch1.corp.example.").
std::string rdata_to_text(const record& r);
/// One master-file line with absolute names ("exch1.corp.example. 3600 IN A 127.25.10.190").
std::string to_text(const record& r);

/// Lower-cases a domain name and strips one trailing dot; the root stays "".
std::string canonical_name(std::string_view name);
/// True when `name` equals `zone` or lies below it (both canonical).
bool in_zone(std::string_view name, std::string_view zone);

}  // namespace fake_dns
