#include "fake_smtp/reply.hpp"

#include <cstddef>

namespace fake_smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3463 2: class "." subject "." detail, subject and detail of 1-3 digits.
// Returns the length of the code at the start of `s` (0 when there is none)
// whose class is `klass`; it must be followed by a space or the end.
std::size_t enhanced_code_length(std::string_view s, char klass) {
    if (s.size() < 5 || s[0] != klass || s[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (i < s.size() && is_digit(s[i]) && digits < 4) ++i, ++digits;
        if (digits == 0 || digits > 3) return 0;
        if (part == 0) {
            if (i >= s.size() || s[i] != '.') return 0;
            ++i;
        }
    }
    if (i < s.size() && s[i] != ' ') return 0;
    return i;
}

}  // namespace

std::string reply::wire() const {
    // RFC 5321 4.2.1: every line but the last has "-" after the code; RFC 2034:
    // every line of a multi-line reply repeats the enhanced code.
    std::string const number = (code >= 100 && code <= 999) ? std::to_string(code) : std::string("500");
    std::string_view rest = text;
    if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
    std::string out;
    for (;;) {
        auto const nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        bool const last = nl == std::string_view::npos;
        out += number;
        std::string body = enhanced;
        if (!line.empty()) {
            if (!body.empty()) body += ' ';
            body.append(line);
        }
        // A CR inside the text would end the line early on the wire: drop it.
        std::erase(body, '\r');
        if (!body.empty() || !last) out += last ? ' ' : '-';
        out += body;
        out += "\r\n";
        if (last) break;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

std::string reply::status() const {
    if (!enhanced.empty()) return enhanced;
    // RFC 3463 3.1: the class agrees with the reply code's first digit.
    if (code >= 200 && code < 600) return std::to_string(code / 100) + ".0.0";
    return {};
}

bool parse_reply(std::string_view wire, reply& out) {
    std::vector<std::string_view> lines;
    int code = -1;
    bool done = false;
    while (!wire.empty()) {
        if (done) return false;  // bytes after the last line
        auto const nl = wire.find('\n');
        if (nl == std::string_view::npos) return false;  // not a complete line
        auto line = wire.substr(0, nl);
        wire.remove_prefix(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return false;
        int const c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (c < 100) return false;
        if (code >= 0 && c != code) return false;  // RFC 5321 4.2.1: one code for all lines
        code = c;
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return false;
        done = line.size() == 3 || line[3] == ' ';
        lines.push_back(line.size() > 4 ? line.substr(4) : std::string_view());
    }
    if (!done) return false;

    reply r;
    r.code = code;
    // The enhanced code is taken from the first line and stripped from every
    // line that repeats it (RFC 2034).
    char const klass = static_cast<char>('0' + code / 100);
    if (auto n = enhanced_code_length(lines.front(), klass); n > 0 && (klass == '2' || klass == '4' || klass == '5'))
        r.enhanced = std::string(lines.front().substr(0, n));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto l = lines[i];
        if (!r.enhanced.empty() && l.substr(0, r.enhanced.size()) == r.enhanced &&
            (l.size() == r.enhanced.size() || l[r.enhanced.size()] == ' ')) {
            l.remove_prefix(r.enhanced.size());
            if (!l.empty()) l.remove_prefix(1);
        }
        if (i > 0) r.text += '\n';
        r.text.append(l);
    }
    out = std::move(r);
    return true;
}

}  // namespace fake_smtp
