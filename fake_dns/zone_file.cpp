#include "fake_dns/zone_file.hpp"

#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <span>

#include "fake_dns/wire.hpp"
#include "support/ipv4.hpp"
#include "support/text.hpp"

namespace fake_dns {

namespace {

// One token of master-file text. Words keep their backslash escapes (names need them
// to tell "\." from a separator); quoted strings arrive unescaped.
struct token {
    std::string text;
    bool quoted = false;
    int line = 0, column = 0;
};

// One entry: the tokens of a line, or of several joined by parentheses (RFC 1035 5.1).
struct entry {
    std::vector<token> tokens;
    bool blank_owner = false;  // the line began with white space: the previous owner
    bool broken = false;       // the lexer already reported an error in it
    int end_line = 0, end_column = 0;  // just past the last token, for "missing ..." errors
};

class lexer {
public:
    lexer(std::string_view text, std::vector<zone_error>& errors) : text_(text), errors_(errors) {}

    // The next non-empty entry; false at the end of the text.
    bool next(entry& e) {
        e = entry{};
        int depth = 0;
        int open_line = 0, open_column = 0;
        bool line_start = true, line_blank_owner = false;
        for (;;) {
            if (pos_ >= text_.size()) {
                if (depth > 0) {
                    error(open_line, open_column, "missing closing parenthesis");
                    e.broken = true;
                }
                return !e.tokens.empty() || e.broken;
            }
            char c = text_[pos_];
            if (line_start) {
                line_start = false;
                line_blank_owner = (c == ' ' || c == '\t');
            }
            if (c == '\n') {
                advance();
                if (depth == 0 && (!e.tokens.empty() || e.broken)) return true;
                if (depth == 0) line_start = true;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r') {
                advance();
                continue;
            }
            if (c == ';') {
                while (pos_ < text_.size() && text_[pos_] != '\n') advance();
                continue;
            }
            if (c == '(') {
                if (depth == 0) open_line = line_, open_column = column_;
                ++depth;
                advance();
                continue;
            }
            if (c == ')') {
                if (depth == 0) {
                    error(line_, column_, "unexpected closing parenthesis");
                    e.broken = true;
                } else {
                    --depth;
                }
                advance();
                continue;
            }
            if (e.tokens.empty() && !e.broken) e.blank_owner = line_blank_owner;
            token t;
            t.line = line_;
            t.column = column_;
            if (c == '"') {
                t.quoted = true;
                bad_escape_ = false;
                if (!quoted(t.text)) {
                    error(t.line, t.column, "missing closing quote");
                    e.broken = true;
                }
                if (bad_escape_) e.broken = true;
            } else {
                word(t.text);
            }
            e.tokens.push_back(std::move(t));
            e.end_line = line_;
            e.end_column = column_;
        }
    }

private:
    void advance() {
        if (text_[pos_] == '\n') {
            ++line_;
            column_ = 1;
        } else {
            ++column_;
        }
        ++pos_;
    }

    void word(std::string& out) {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"') break;
            if (c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '\n') {
                out += c;
                advance();
                c = text_[pos_];
            }
            out += c;
            advance();
        }
    }

    // Reads a quoted string after its opening quote; false when the line ends first.
    bool quoted(std::string& out) {
        advance();  // the opening quote
        while (pos_ < text_.size() && text_[pos_] != '\n') {
            char c = text_[pos_];
            if (c == '"') {
                advance();
                return true;
            }
            if (c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '\n') {
                int esc_line = line_, esc_column = column_;
                advance();
                char d = text_[pos_];
                if (d >= '0' && d <= '9') {
                    // RFC 1035 5.1: \DDD is the octet with that decimal value.
                    int v = 0, digits = 0;
                    while (digits < 3 && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
                        v = v * 10 + (text_[pos_] - '0');
                        ++digits;
                        advance();
                    }
                    if (digits != 3 || v > 255) {
                        error(esc_line, esc_column, "bad escape in quoted string (\\DDD needs three digits, at most 255)");
                        bad_escape_ = true;
                        continue;
                    }
                    out += static_cast<char>(v);
                    continue;
                }
                out += d;
                advance();
                continue;
            }
            out += c;
            advance();
        }
        return false;
    }

    void error(int line, int column, std::string message) { errors_.push_back({line, column, std::move(message)}); }

    std::string_view text_;
    std::vector<zone_error>& errors_;
    std::size_t pos_ = 0;
    int line_ = 1, column_ = 1;
    bool bad_escape_ = false;
};

bool iequals(std::string_view a, std::string_view b) { return support::iequals(a, b); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A TTL or SOA timer: seconds, or BIND's units ("1h30m", "2w"). RFC 2181 8: at most 2^31 - 1.
std::optional<std::uint32_t> parse_ttl(std::string_view s) {
    if (s.empty() || !is_digit(s.front())) return std::nullopt;
    std::uint64_t total = 0;
    bool units = false;
    while (!s.empty()) {
        std::size_t n = 0;
        while (n < s.size() && is_digit(s[n])) ++n;
        if (n == 0 || n > 10) return std::nullopt;
        std::uint64_t value = 0;
        std::from_chars(s.data(), s.data() + n, value);
        s.remove_prefix(n);
        std::uint64_t mult = 1;
        if (!s.empty()) {
            switch (s.front() | 0x20) {
                case 's': mult = 1; break;
                case 'm': mult = 60; break;
                case 'h': mult = 3600; break;
                case 'd': mult = 86400; break;
                case 'w': mult = 604800; break;
                default: return std::nullopt;
            }
            s.remove_prefix(1);
            units = true;
        } else if (units) {
            return std::nullopt;  // "1h30": a bare number after units is a typo, not seconds
        }
        total += value * mult;
        if (total > 0x7FFFFFFFu) return std::nullopt;
    }
    return static_cast<std::uint32_t>(total);
}

std::optional<std::uint32_t> parse_u32(std::string_view s) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::uint16_t> parse_u16(std::string_view s) {
    auto v = parse_u32(s);
    if (!v || *v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

// RFC 4291 2.2, all three forms: full, "::" for a run of zeros, trailing dotted IPv4.
std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view s) {
    std::array<std::uint16_t, 8> head{}, tail{};
    std::size_t nhead = 0, ntail = 0;
    bool gap = false;
    auto gap_at = s.find("::");
    if (gap_at != std::string_view::npos) {
        gap = true;
        if (s.find("::", gap_at + 1) != std::string_view::npos) return std::nullopt;
    }
    std::array<std::uint8_t, 4> v4{};
    bool has_v4 = false;
    auto parse_side = [&](std::string_view side, std::array<std::uint16_t, 8>& groups, std::size_t& n,
                          bool last_side) -> bool {
        if (side.empty()) return true;
        while (true) {
            auto colon = side.find(':');
            std::string_view part = side.substr(0, colon);
            bool last = colon == std::string_view::npos;
            if (last && last_side && part.find('.') != std::string_view::npos) {
                auto a = support::parse_ipv4(part);
                if (!a) return false;
                for (int i = 0; i < 4; ++i) v4[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(*a >> (24 - 8 * i));
                has_v4 = true;
                return true;
            }
            if (part.empty() || part.size() > 4 || n >= 8) return false;
            unsigned v = 0;
            auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 16);
            if (ec != std::errc{} || p != part.data() + part.size()) return false;
            groups[n++] = static_cast<std::uint16_t>(v);
            if (last) return true;
            side.remove_prefix(colon + 1);
        }
    };
    if (gap) {
        if (!parse_side(s.substr(0, gap_at), head, nhead, false)) return std::nullopt;
        if (!parse_side(s.substr(gap_at + 2), tail, ntail, true)) return std::nullopt;
    } else {
        if (!parse_side(s, head, nhead, true)) return std::nullopt;
    }
    std::size_t used = nhead + ntail + (has_v4 ? 2 : 0);
    if (gap ? used > 7 : used != 8) return std::nullopt;
    std::array<std::uint8_t, 16> out{};
    for (std::size_t i = 0; i < nhead; ++i) {
        out[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
        out[2 * i + 1] = static_cast<std::uint8_t>(head[i]);
    }
    std::size_t tail_bytes = ntail * 2 + (has_v4 ? 4 : 0);
    std::size_t at = 16 - tail_bytes;
    for (std::size_t i = 0; i < ntail; ++i) {
        out[at++] = static_cast<std::uint8_t>(tail[i] >> 8);
        out[at++] = static_cast<std::uint8_t>(tail[i]);
    }
    if (has_v4)
        for (std::size_t i = 0; i < 4; ++i) out[at++] = v4[i];
    return out;
}

// Unescapes a TXT word written without quotes.
std::optional<std::string> unescape_word(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (i + 1 >= s.size()) return std::nullopt;
        if (is_digit(s[i + 1])) {
            if (i + 3 >= s.size() || !is_digit(s[i + 2]) || !is_digit(s[i + 3])) return std::nullopt;
            int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
            if (v > 255) return std::nullopt;
            out += static_cast<char>(v);
            i += 3;
        } else {
            out += s[++i];
        }
    }
    return out;
}

constexpr std::string_view served_types[] = {"A", "AAAA", "NS", "SOA", "MX", "CNAME", "PTR", "TXT"};

class parser {
public:
    parser(std::string_view origin, std::uint32_t default_ttl, zone_parse_result& result)
        : default_ttl_(default_ttl), result_(result) {
        wire_name w;
        if (text_to_wire(canonical_name(origin), w) == name_status::ok) zone_origin_ = wire_to_text(w.view(), true);
        else zone_origin_ = canonical_name(origin);
        origin_ = zone_origin_;
    }

    void process(const entry& e) {
        const auto& t = e.tokens;
        if (t.empty()) return;
        if (!e.blank_owner && !t[0].quoted && !t[0].text.empty() && t[0].text[0] == '$') return directive(e);

        std::size_t i = 0;
        std::string owner;
        const token& first = t[0];
        if (e.blank_owner) {
            if (!previous_owner_) return error(first, "no previous owner name for this record");
            owner = *previous_owner_;
        } else {
            auto n = name(first);
            if (!n) return;
            owner = *n;
            previous_owner_ = owner;
            i = 1;
        }

        std::optional<std::uint32_t> ttl;
        bool class_seen = false;
        while (i < t.size() && !t[i].quoted) {
            const auto& text = t[i].text;
            if (!ttl && is_digit(text.front())) {
                ttl = parse_ttl(text);
                if (!ttl) return error(t[i], "bad TTL \"" + text + "\"");
                ++i;
                continue;
            }
            if (!class_seen && is_class(text)) {
                if (!iequals(text, "IN") && !iequals(text, "CLASS1")) return error(t[i], "only class IN is served");
                class_seen = true;
                ++i;
                continue;
            }
            break;
        }
        if (i >= t.size()) return error_at_end(e, "missing record type");
        const token& type_token = t[i];
        auto type = type_token.quoted ? std::nullopt : parse_type(type_token.text);
        if (!type) {
            std::string message = "unknown record type \"" + type_token.text + "\"";
            if (auto hint = support::did_you_mean(type_token.text, served_types)) message += " (did you mean \"" + *hint + "\"?)";
            return error(type_token, message);
        }
        if (!served(*type)) return error(type_token, "record type \"" + type_token.text + "\" is not supported");
        if (!in_zone(owner, zone_origin_))
            return error(first, "record \"" + owner + "\" lies outside the zone \"" + zone_origin_ + "\"");

        record r;
        r.owner = owner;
        r.type = *type;
        r.ttl = ttl ? *ttl : ttl_default_ ? *ttl_default_ : default_ttl_;
        std::span<const token> data(t.data() + i + 1, t.size() - i - 1);
        std::string type_text = type_name(*type);
        if (!rdata(e, type_text, data, r)) return;
        if (r.type == 6) {
            if (owner != zone_origin_)
                return error(first, "SOA record must be at the zone apex \"" + zone_origin_ + "\"");
            if (soa_seen_) return error(first, "more than one SOA record");
            soa_seen_ = true;
        }
        result_.records.push_back(std::move(r));
        result_.positions.push_back({first.line, first.column});
    }

    // RFC 1034 3.6.2 and RFC 2181 10.1: a CNAME owner has no other data, and one CNAME.
    void check_cnames() {
        struct usage {
            std::size_t first_cname = 0;
            int cnames = 0;
            bool other = false;
        };
        std::map<std::string, usage> owners;
        for (std::size_t k = 0; k < result_.records.size(); ++k) {
            auto& u = owners[result_.records[k].owner];
            if (result_.records[k].type == 5) {
                if (u.cnames++ == 0) u.first_cname = k;
            } else {
                u.other = true;
            }
        }
        for (const auto& [owner, u] : owners) {
            if (u.cnames == 0) continue;
            auto [line, column] = result_.positions[u.first_cname];
            std::string shown = owner.empty() ? "." : owner;
            if (u.other)
                result_.errors.push_back({line, column, "CNAME at \"" + shown + "\" cannot coexist with other data"});
            else if (u.cnames > 1)
                result_.errors.push_back({line, column, "more than one CNAME record at \"" + shown + "\""});
        }
    }

private:
    static bool is_class(std::string_view s) {
        return iequals(s, "IN") || iequals(s, "CH") || iequals(s, "CHAOS") || iequals(s, "HS") || iequals(s, "CS") ||
               iequals(s, "NONE") || (s.size() > 5 && iequals(s.substr(0, 5), "CLASS") && is_digit(s[5]));
    }

    static bool served(std::uint16_t type) {
        return type == 1 || type == 2 || type == 5 || type == 6 || type == 12 || type == 15 || type == 16 || type == 28;
    }

    void directive(const entry& e) {
        const auto& t = e.tokens;
        const auto& d = t[0];
        if (iequals(d.text, "$TTL")) {
            if (t.size() < 2) return error_at_end(e, "missing TTL after $TTL");
            if (t.size() > 2) return error(t[2], "unexpected \"" + t[2].text + "\" after $TTL");
            auto ttl = t[1].quoted ? std::nullopt : parse_ttl(t[1].text);
            if (!ttl) return error(t[1], "bad TTL \"" + t[1].text + "\"");
            ttl_default_ = ttl;
            return;
        }
        if (iequals(d.text, "$ORIGIN")) {
            if (t.size() < 2) return error_at_end(e, "missing name after $ORIGIN");
            if (t.size() > 2) return error(t[2], "unexpected \"" + t[2].text + "\" after $ORIGIN");
            if (auto n = name(t[1])) origin_ = *n;
            return;
        }
        if (iequals(d.text, "$INCLUDE")) return error(d, "$INCLUDE is not supported");
        error(d, "unknown directive \"" + d.text + "\"");
    }

    // A name in master-file form, made absolute and canonical; nullopt after reporting why not.
    std::optional<std::string> name(const token& t) {
        if (t.quoted) return error(t, "bad name \"" + t.text + "\" (names are not quoted)"), std::nullopt;
        std::string text;
        if (t.text == "@") {
            text = origin_;
        } else {
            // An unescaped final dot makes the name absolute; otherwise the origin follows.
            std::size_t slashes = 0;
            for (std::size_t k = t.text.size() - 1; k > 0 && t.text[k - 1] == '\\'; --k) ++slashes;
            bool absolute = t.text.back() == '.' && slashes % 2 == 0;
            if (absolute) text = t.text;
            else if (origin_.empty()) text = t.text;
            else text = t.text + "." + origin_;
        }
        wire_name w;
        switch (text_to_wire(text, w)) {
            case name_status::ok: break;
            case name_status::label_too_long: return error(t, "label longer than 63 octets"), std::nullopt;
            case name_status::name_too_long: return error(t, "name longer than 255 octets"), std::nullopt;
            case name_status::empty_label: return error(t, "empty label in name \"" + t.text + "\""), std::nullopt;
            case name_status::bad_escape: return error(t, "bad escape in name \"" + t.text + "\""), std::nullopt;
        }
        return wire_to_text(w.view(), true);
    }

    bool rdata(const entry& e, const std::string& type_text, std::span<const token> d, record& r) {
        auto missing = [&](const char* what) {
            error_at_end(e, std::string("missing ") + what + " in " + type_text + " record");
            return false;
        };
        auto expect = [&](std::size_t n) {
            if (d.size() > n) {
                error(d[n], "unexpected \"" + d[n].text + "\" after the " + type_text + " record data");
                return false;
            }
            return true;
        };
        switch (r.type) {
            case 1: {
                if (d.empty()) return missing("address");
                auto a = d[0].quoted ? std::nullopt : support::parse_ipv4(d[0].text);
                if (!a) return error(d[0], "bad IPv4 address \"" + d[0].text + "\" in A record"), false;
                r.data = a_data{*a};
                return expect(1);
            }
            case 28: {
                if (d.empty()) return missing("address");
                auto a = d[0].quoted ? std::nullopt : parse_ipv6(d[0].text);
                if (!a) return error(d[0], "bad IPv6 address \"" + d[0].text + "\" in AAAA record"), false;
                r.data = aaaa_data{*a};
                return expect(1);
            }
            case 2: case 5: case 12: {
                if (d.empty()) return missing("target name");
                auto n = name(d[0]);
                if (!n) return false;
                r.data = name_data{*n};
                return expect(1);
            }
            case 15: {
                if (d.empty()) return missing("preference");
                auto pref = d[0].quoted ? std::nullopt : parse_u16(d[0].text);
                if (!pref) return error(d[0], "bad MX preference \"" + d[0].text + "\""), false;
                if (d.size() < 2) return missing("exchange");
                auto n = name(d[1]);
                if (!n) return false;
                r.data = mx_data{*pref, *n};
                return expect(2);
            }
            case 6: {
                static constexpr const char* fields[] = {"primary server", "mailbox", "serial", "refresh",
                                                         "retry",          "expire",  "minimum"};
                soa_data s;
                for (std::size_t k = 0; k < 7; ++k) {
                    if (d.size() <= k) return missing(fields[k]);
                    if (k < 2) {
                        auto n = name(d[k]);
                        if (!n) return false;
                        (k == 0 ? s.mname : s.rname) = *n;
                        continue;
                    }
                    auto v = d[k].quoted ? std::nullopt : k == 2 ? parse_u32(d[k].text) : parse_ttl(d[k].text);
                    if (!v) return error(d[k], std::string("bad SOA ") + fields[k] + " \"" + d[k].text + "\""), false;
                    std::uint32_t* slots[] = {&s.serial, &s.refresh, &s.retry, &s.expire, &s.minimum};
                    *slots[k - 2] = *v;
                }
                r.data = std::move(s);
                return expect(7);
            }
            case 16: {
                if (d.empty()) return missing("text");
                txt_data txt;
                for (const auto& tok : d) {
                    auto s = tok.quoted ? std::optional<std::string>(tok.text) : unescape_word(tok.text);
                    if (!s) return error(tok, "bad escape in \"" + tok.text + "\""), false;
                    // RFC 1035 3.3: a <character-string> is at most 255 octets.
                    if (s->size() > 255) return error(tok, "TXT string longer than 255 octets"), false;
                    txt.strings.push_back(std::move(*s));
                }
                r.data = std::move(txt);
                return true;
            }
        }
        return false;
    }

    void error(const token& t, std::string message) { result_.errors.push_back({t.line, t.column, std::move(message)}); }
    void error_at_end(const entry& e, std::string message) {
        result_.errors.push_back({e.end_line, e.end_column, std::move(message)});
    }

    std::uint32_t default_ttl_;
    zone_parse_result& result_;
    std::string zone_origin_;
    std::string origin_;
    std::optional<std::uint32_t> ttl_default_;
    std::optional<std::string> previous_owner_;
    bool soa_seen_ = false;
};

}  // namespace

zone_parse_result parse_zone_text(std::string_view text, std::string_view origin, std::uint32_t default_ttl) {
    zone_parse_result result;
    lexer lex(text, result.errors);
    parser p(origin, default_ttl, result);
    entry e;
    while (lex.next(e))
        if (!e.broken) p.process(e);
    p.check_cnames();
    return result;
}

}  // namespace fake_dns
