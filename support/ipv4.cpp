#include "support/ipv4.hpp"

#include <charconv>

namespace support {

std::optional<ipv4> parse_ipv4(std::string_view text) {
    ipv4 value = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (text.empty() || text.front() != '.') return std::nullopt;
            text.remove_prefix(1);
        }
        std::size_t digits = 0;
        while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
        if (digits == 0 || digits > 3) return std::nullopt;
        unsigned octet = 0;
        std::from_chars(text.data(), text.data() + digits, octet);
        if (octet > 255) return std::nullopt;
        value = (value << 8) | octet;
        text.remove_prefix(digits);
    }
    if (!text.empty()) return std::nullopt;
    return value;
}

std::string format_ipv4(ipv4 a) {
    std::string out;
    out.reserve(15);
    for (int shift = 24; shift >= 0; shift -= 8) {
        out += std::to_string((a >> shift) & 0xff);
        if (shift) out += '.';
    }
    return out;
}

std::string cidr::to_string() const { return format_ipv4(network) + "/" + std::to_string(length); }

std::optional<cidr> parse_cidr(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = parse_ipv4(text.substr(0, slash));
    auto len_text = text.substr(slash + 1);
    int len = -1;
    auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (!addr || ec != std::errc{} || p != len_text.data() + len_text.size() || len < 0 || len > 32)
        return std::nullopt;
    cidr c{*addr, len};
    if ((c.network & ~c.mask()) != 0) return std::nullopt;
    return c;
}

}  // namespace support
