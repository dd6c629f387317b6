#include "fake_smtp/command.hpp"

#include <array>
#include <utility>

namespace fake_smtp {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = to_upper(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_upper(a[i]) != to_upper(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// RFC 5322 3.2.3 atext, as RFC 5321 4.1.2 uses it for the dot-string.
bool is_atext(char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
        return true;
    default:
        return false;
    }
}

// RFC 5321 4.1.2: Dot-string = Atom *("." Atom).
bool valid_dot_string(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!is_atext(s[i])) {
            return false;
        }
    }
    return true;
}

// RFC 5321 4.1.2: Quoted-string = DQUOTE *QcontentSMTP DQUOTE, where
// qtextSMTP is %d32-33 / %d35-91 / %d93-126 and quoted-pairSMTP is "\" %d32-126.
bool valid_quoted_string(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
        auto const c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            if (i + 2 >= s.size()) return false;  // the escape would take the closing quote
            auto const n = static_cast<unsigned char>(s[++i]);
            if (n < 32 || n > 126) return false;
        } else if (c < 32 || c > 126 || c == '"') {
            return false;
        }
    }
    return true;
}

// RFC 5321 4.1.2: sub-domain = Let-dig [Ldh-str]; labels of at most 63
// octets (RFC 1035 2.3.4).
bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 255) return false;
    std::size_t start = 0;
    for (;;) {
        auto const dot = d.find('.', start);
        auto const label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (!(is_alpha(label.front()) || is_digit(label.front()))) return false;
        if (!(is_alpha(label.back()) || is_digit(label.back()))) return false;
        for (char c : label)
            if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// RFC 5321 4.1.3: IPv4-address-literal = Snum 3("." Snum), Snum of 1-3 digits <= 255.
bool valid_ipv4(std::string_view s) {
    int parts = 0;
    std::size_t i = 0;
    while (parts < 4) {
        std::size_t digits = 0;
        int value = 0;
        while (i < s.size() && is_digit(s[i]) && digits < 4) value = value * 10 + (s[i++] - '0'), ++digits;
        if (digits == 0 || digits > 3 || value > 255) return false;
        ++parts;
        if (parts < 4) {
            if (i >= s.size() || s[i] != '.') return false;
            ++i;
        }
    }
    return i == s.size();
}

// RFC 5321 4.1.3: "IPv6:" followed by hex groups, "::" and an optional
// trailing IPv4 part. Checked loosely: the characters and the group count.
bool valid_ipv6(std::string_view s) {
    if (s.empty() || s.size() > 45) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
    } else if (s.front() == ':') {
        return false;
    }
    while (i < s.size()) {
        auto const end = s.find(':', i);
        auto const group = s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        if (end == std::string_view::npos && group.find('.') != std::string_view::npos) {
            if (!valid_ipv4(group)) return false;
            groups += 2;
            break;
        }
        if (group.empty() || group.size() > 4) return false;
        for (char c : group)
            if (!(is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'f'))) return false;
        ++groups;
        if (end == std::string_view::npos) break;
        i = end + 1;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false;
            compressed = true;
            ++i;
        } else if (i == s.size()) {
            return false;  // a single trailing colon
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

// RFC 5321 4.1.2: address-literal = "[" ( IPv4 / IPv6 / General ) "]".
bool valid_address_literal(std::string_view s) {
    if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
    s = s.substr(1, s.size() - 2);
    if (istarts_with(s, "IPv6:")) return valid_ipv6(s.substr(5));
    if (valid_ipv4(s)) return true;
    // General-address-literal = Standardized-tag ":" 1*dcontent.
    auto const colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
    auto const tag = s.substr(0, colon);
    if (!(is_alpha(tag.front()) || is_digit(tag.front())) || tag.back() == '-') return false;
    for (char c : tag)
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
    for (char c : s.substr(colon + 1)) {
        auto const u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126 || c == '[' || c == '\\' || c == ']') return false;
    }
    return true;
}

// RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool valid_keyword(std::string_view k) {
    if (k.empty() || !(is_alpha(k.front()) || is_digit(k.front()))) return false;
    for (char c : k)
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
    return true;
}

// RFC 5321 4.1.2: esmtp-value = 1*(%d33-60 / %d62-126).
bool valid_value(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v) {
        auto const u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126 || c == '=') return false;
    }
    return true;
}

// The end of a "<...>" path that starts at s[0]: the '>' outside quotes, or npos.
std::size_t closing_bracket(std::string_view s) {
    bool quoted = false;
    for (std::size_t i = 1; i < s.size(); ++i) {
        char const c = s[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == '>') {
            return i;
        }
    }
    return std::string_view::npos;
}

// MAIL FROM:<reverse-path> [params] and RCPT TO:<forward-path> [params]
// (RFC 5321 4.1.1.2, 4.1.1.3). Errors are worded as the reply text.
void parse_path_and_params(command& c, std::string_view keyword, bool sender) {
    std::string_view arg = c.argument;
    std::string const syntax = sender ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
    std::string const bad = sender ? "Bad sender address syntax" : "Bad recipient address syntax";
    if (!istarts_with(arg, keyword)) {
        c.error = syntax;
        return;
    }
    arg = trim(arg.substr(keyword.size()));  // "MAIL FROM: <a>" is common enough to accept
    if (arg.empty()) {
        c.error = syntax;
        return;
    }
    std::string_view inner, rest;
    if (arg.front() == '<') {
        auto const close = closing_bracket(arg);
        if (close == std::string_view::npos) {
            c.error = bad;
            return;
        }
        inner = arg.substr(1, close - 1);
        rest = arg.substr(close + 1);
        if (!rest.empty() && !is_space(rest.front())) {
            c.error = bad;
            return;
        }
    } else {
        // Without brackets, as Postfix accepts (strict_rfc821_envelopes = no):
        // the address runs to the first space.
        std::size_t end = 0;
        while (end < arg.size() && !is_space(arg[end])) ++end;
        inner = arg.substr(0, end);
        rest = arg.substr(end);
    }
    // RFC 5321 4.1.1.3 and C: a source route "@a,@b:" is accepted and ignored.
    if (!inner.empty() && inner.front() == '@') {
        auto const colon = inner.find(':');
        if (colon == std::string_view::npos) {
            c.error = bad;
            return;
        }
        inner = inner.substr(colon + 1);
    }
    // The null reverse-path is for MAIL only (RFC 5321 4.5.5); RFC 5321 4.1.1.3:
    // "RCPT TO:<Postmaster>" without a domain must be accepted.
    bool const ok = sender ? valid_mailbox(inner, true) : (valid_mailbox(inner) || iequals(inner, "postmaster"));
    if (!ok) {
        c.error = bad;
        return;
    }
    c.path = std::string(inner);

    rest = trim(rest);
    while (!rest.empty()) {
        std::size_t end = 0;
        while (end < rest.size() && !is_space(rest[end])) ++end;
        auto const token = rest.substr(0, end);
        rest = trim(rest.substr(end));
        auto const eq = token.find('=');
        auto const key = token.substr(0, eq);
        auto const value = eq == std::string_view::npos ? std::string_view() : token.substr(eq + 1);
        if (!valid_keyword(key) || (eq != std::string_view::npos && !valid_value(value))) {
            if (c.error.empty()) c.error = "Unsupported option: " + std::string(token);
            continue;
        }
        c.params.emplace(upper(key), std::string(value));
    }
}

}  // namespace

command parse_command(std::string_view line) {
    command c;
    line = trim(line);
    std::size_t end = 0;
    while (end < line.size() && !is_space(line[end])) ++end;
    c.word = std::string(line.substr(0, end));
    c.argument = std::string(trim(line.substr(end)));

    static constexpr std::array<std::pair<std::string_view, command::verb>, 14> verbs{{
        {"HELO", command::verb::helo},
        {"EHLO", command::verb::ehlo},
        {"MAIL", command::verb::mail},
        {"RCPT", command::verb::rcpt},
        {"DATA", command::verb::data},
        {"RSET", command::verb::rset},
        {"NOOP", command::verb::noop},
        {"QUIT", command::verb::quit},
        {"VRFY", command::verb::vrfy},
        {"EXPN", command::verb::expn},
        {"HELP", command::verb::help},
        {"STARTTLS", command::verb::starttls},
        {"AUTH", command::verb::auth},
        {"BDAT", command::verb::bdat},
    }};
    for (auto const& [name, v] : verbs)
        if (iequals(c.word, name)) c.what = v;

    if (c.what == command::verb::mail) parse_path_and_params(c, "FROM:", true);
    if (c.what == command::verb::rcpt) parse_path_and_params(c, "TO:", false);
    return c;
}

bool valid_mailbox(std::string_view address, bool null_ok) {
    if (address.empty()) return null_ok;
    auto const at = address.rfind('@');
    if (at == std::string_view::npos || at == 0) return false;
    auto const local = address.substr(0, at);
    auto const domain = address.substr(at + 1);
    // RFC 5321 4.5.3.1.1 and 4.5.3.1.2: 64 octets of local part, 255 of domain.
    if (local.size() > 64) return false;
    if (!(valid_dot_string(local) || valid_quoted_string(local))) return false;
    if (!domain.empty() && domain.front() == '[') return valid_address_literal(domain);
    return valid_domain(domain);
}

std::string domain_of(std::string_view address) {
    auto const at = address.rfind('@');
    if (at == std::string_view::npos) return "";
    std::string out(address.substr(at + 1));
    for (auto& c : out) c = to_lower(c);
    return out;
}

}  // namespace fake_smtp
