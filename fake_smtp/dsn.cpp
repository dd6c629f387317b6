#include "fake_smtp/dsn.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace fake_smtp {

namespace {

// RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST stay within
// 998, both without the CRLF.
constexpr std::size_t soft_limit = 78;
constexpr std::size_t hard_limit = 998;
// The human part wraps shorter, as mail programs show it.
constexpr std::size_t text_width = 76;

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A value written into a header field or a delivery-status field: one line,
// US-ASCII (RFC 3464 2.1: the delivery-status body is US-ASCII).
std::string field_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n' || c == '\t')
            out += ' ';
        else if (c < 0x20 || c >= 0x7f)
            out += '?';
        else
            out += ch;
    }
    // Multi-line replies arrive with their lines joined by '\n'; one space between them is enough.
    std::string squeezed;
    for (char c : out)
        if (c != ' ' || squeezed.empty() || squeezed.back() != ' ') squeezed += c;
    while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    while (!squeezed.empty() && squeezed.front() == ' ') squeezed.erase(0, 1);
    return squeezed;
}

// RFC 5322 2.2.3: fold before a space, aiming at 78 and never past 998. A
// word too long for 998 is cut (the only way to keep the limit), the cut
// marked by the continuation's leading space.
std::string fold_line(std::string_view text) {
    std::string out;
    std::string line(text);
    while (line.size() > soft_limit) {
        // Break before a space that follows something other than space, so
        // no line is white space only (RFC 5322 3.2.2).
        std::size_t cut = 0;
        for (std::size_t i = std::min(line.size() - 1, soft_limit); i >= 1 && cut == 0; --i)
            if (line[i] == ' ' && line[i - 1] != ' ') cut = i;
        for (std::size_t i = soft_limit + 1; cut == 0 && i < line.size() && i <= hard_limit; ++i)
            if (line[i] == ' ' && line[i - 1] != ' ') cut = i;
        if (cut == 0 && line.size() <= hard_limit) break;
        if (cut == 0) {
            out.append(line, 0, hard_limit);
            line = " " + line.substr(hard_limit);
        } else {
            out.append(line, 0, cut);
            line.erase(0, cut);
        }
        out += "\r\n";
    }
    out += line;
    out += "\r\n";
    return out;
}

std::string field(std::string_view name, std::string_view value) {
    std::string line(name);
    line += ": ";
    line += value;
    return fold_line(line);
}

// RFC 2047 4.1: a header text with 8-bit characters becomes encoded words.
std::string encode_words(std::string_view s) {
    if (is_ascii(s)) return field_text(s);
    static constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string clean;
    for (char c : s) clean += (c == '\r' || c == '\n') ? ' ' : c;
    std::string out;
    // 45 octets make 60 base64 characters: each encoded word stays under 75 (RFC 2047 2).
    for (std::size_t at = 0; at < clean.size();) {
        auto n = std::min<std::size_t>(45, clean.size() - at);
        // Do not split a UTF-8 sequence between two words (RFC 2047 5).
        while (n > 1 && at + n < clean.size() && (static_cast<unsigned char>(clean[at + n]) & 0xC0) == 0x80) --n;
        std::string word = "=?UTF-8?B?";
        for (std::size_t i = 0; i < n; i += 3) {
            std::uint32_t v = static_cast<unsigned char>(clean[at + i]) << 16;
            if (i + 1 < n) v |= static_cast<unsigned char>(clean[at + i + 1]) << 8;
            if (i + 2 < n) v |= static_cast<unsigned char>(clean[at + i + 2]);
            word += b64[(v >> 18) & 63];
            word += b64[(v >> 12) & 63];
            word += i + 1 < n ? b64[(v >> 6) & 63] : '=';
            word += i + 2 < n ? b64[v & 63] : '=';
        }
        word += "?=";
        if (!out.empty()) out += ' ';
        out += word;
        at += n;
    }
    return out;
}

// Text put into a part as it is: CRLF line ends (a lone CR or LF ends a line
// too, so neither can run two lines into one or hide a boundary), no NUL
// (RFC 2045 2.8), no line over 998 octets.
std::string as_lines(std::string_view s, bool header_block) {
    std::string out;
    std::string line;
    auto flush = [&] {
        if (line.size() <= hard_limit) {
            out += line;
            out += "\r\n";
        } else if (header_block) {
            out += fold_line(line);
        } else {
            // A body line cannot be folded; cutting it is what RFC 5322 leaves.
            for (std::size_t at = 0; at < line.size(); at += hard_limit) {
                out.append(line, at, hard_limit);
                out += "\r\n";
            }
        }
        line.clear();
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
            flush();
        } else if (c == '\n') {
            flush();
        } else {
            line += c == '\0' ? '?' : c;
        }
    }
    if (!line.empty()) flush();
    return out;
}

// The original's header block: everything before the first empty line.
std::string_view header_block(std::string_view message) {
    if (message.starts_with("\n") || message.starts_with("\r\n")) return {};
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] != '\n') continue;
        std::size_t j = i + 1;
        if (j < message.size() && message[j] == '\r') ++j;
        if (j < message.size() && message[j] == '\n') return message.substr(0, i + 1);
    }
    return message;
}

// "rfc822;bob@x" and "bob@x" are both accepted; written "rfc822; bob@x" (RFC 3464 2.3.2).
std::string typed(std::string_view value, std::string_view default_type) {
    auto v = field_text(value);
    auto semi = v.find(';');
    if (semi != std::string::npos && semi > 0 && v.find('@') > semi &&
        std::all_of(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(semi), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        })) {
        std::string type = v.substr(0, semi);
        std::string rest = field_text(v.substr(semi + 1));
        return type + "; " + rest;
    }
    return std::string(default_type) + "; " + v;
}

// The value after "type;" for the human part.
std::string untyped(std::string_view value) {
    auto v = typed(value, "x");
    return v.substr(v.find(';') + 2);
}

bool valid_status(std::string_view s) {
    // RFC 3463 2: class "." subject "." detail; class 2, 4 or 5; 1-3 and 1-3 digits.
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    auto rest = s.substr(2);
    auto dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 3) return false;
    auto detail = rest.substr(dot + 1);
    if (detail.empty() || detail.size() > 3) return false;
    auto digits = [](std::string_view d) {
        return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return digits(rest.substr(0, dot)) && digits(detail);
}

std::string action_of(const dsn_recipient& r) {
    std::string a;
    for (char c : r.action) a += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static constexpr std::array<std::string_view, 5> known = {"failed", "delayed", "delivered", "relayed",
                                                               "expanded"};
    return std::find(known.begin(), known.end(), a) != known.end() ? a : "failed";
}

// RFC 3464 2.3.4: Status is required; without a usable one, the class the action implies.
std::string status_of(const dsn_recipient& r) {
    if (valid_status(r.status)) return r.status;
    auto const a = action_of(r);
    return a == "delayed" ? "4.0.0" : a == "failed" ? "5.0.0" : "2.0.0";
}

// RFC 3463 3, in words a sender can act on.
std::string describe(std::string_view status) {
    struct entry {
        std::string_view code, text;
    };
    static constexpr entry details[] = {
        {"1.1", "the mailbox does not exist"},
        {"1.2", "the destination domain does not exist or does not take mail"},
        {"1.3", "the destination address is malformed"},
        {"1.6", "the mailbox has moved"},
        {"1.8", "the sender's domain is not accepted"},
        {"2.1", "the mailbox is disabled"},
        {"2.2", "the mailbox is full"},
        {"2.3", "the message is larger than the mailbox accepts"},
        {"3.1", "the receiving system is out of storage"},
        {"3.4", "the message is larger than the receiving system accepts"},
        {"4.1", "the destination host does not answer"},
        {"4.2", "the connection to the destination host broke off"},
        {"4.3", "a directory server (DNS) failed"},
        {"4.4", "no route to the destination was found"},
        {"4.6", "the message was caught in a routing loop"},
        {"4.7", "the message was too long in the queue"},
        {"5.3", "the message has too many recipients"},
        {"7.1", "the receiving system refused the message by its policy"},
    };
    static constexpr entry subjects[] = {
        {"0", "an undefined problem"},           {"1", "an addressing problem"},
        {"2", "a problem with the mailbox"},     {"3", "a problem in the receiving mail system"},
        {"4", "a network or routing problem"},   {"5", "a mail protocol problem"},
        {"6", "a problem with the message content"}, {"7", "a security or policy problem"},
    };
    if (!valid_status(status)) return "";
    auto rest = status.substr(2);
    for (auto const& e : details)
        if (rest == e.code) return std::string(e.text);
    auto subject = rest.substr(0, rest.find('.'));
    for (auto const& e : subjects)
        if (subject == e.code) return std::string(e.text);
    return "";
}

// Word-wraps one paragraph; continuation lines get `indent`.
std::string wrap(std::string_view text, std::string_view indent, std::string_view first = "") {
    std::string out;
    std::string line(first);
    std::size_t at = 0;
    while (at < text.size()) {
        auto sp = text.find(' ', at);
        auto word = text.substr(at, sp == std::string_view::npos ? std::string_view::npos : sp - at);
        at = sp == std::string_view::npos ? text.size() : sp + 1;
        if (word.empty()) continue;
        bool const fresh = line.empty() || line == indent || line == first;
        if (!fresh && line.size() + 1 + word.size() > text_width) {
            out += line + "\r\n";
            line = indent;
        } else if (!fresh) {
            line += ' ';
        }
        line += word;
    }
    if (!line.empty() && line != indent && line != first) out += line + "\r\n";
    return as_lines(out, false);  // a single word past 998 is cut there
}

std::string recipient_paragraph(const dsn_recipient& r) {
    std::string text = "<" + untyped(r.final_recipient) + ">: ";
    auto const diagnostic = r.diagnostic.empty() ? std::string() : untyped(r.diagnostic);
    auto const remote = r.remote_mta.empty() ? std::string() : untyped(r.remote_mta);
    auto const status = status_of(r);
    auto const meaning = describe(status);
    if (!diagnostic.empty() && !remote.empty())
        text += "host " + remote + " said: " + diagnostic;
    else if (!diagnostic.empty())
        text += diagnostic;
    else if (!meaning.empty())
        text += meaning;
    else
        text += "no further details";
    if (!meaning.empty() && !diagnostic.empty())
        text += " (" + status + ": " + meaning + ")";
    else
        text += " (" + status + ")";
    return wrap(text, "    ");
}

std::string default_human_text(const dsn_report& report) {
    std::vector<const dsn_recipient*> failed, delayed, done;
    for (auto const& r : report.recipients) {
        auto a = action_of(r);
        (a == "failed" ? failed : a == "delayed" ? delayed : done).push_back(&r);
    }
    std::string text = wrap("This is the mail system at host " + field_text(report.reporting_mta) + ".", "") + "\r\n";
    if (!failed.empty()) {
        text += wrap("Your message could not be delivered to one or more of its recipients, and the mail "
                     "system has stopped trying. The reasons are listed below.",
                     "");
        text += "\r\n";
        text += wrap(std::string("If you need help, contact your postmaster and include this report. ") +
                         (report.return_full_message ? "Your message is attached; you may remove its text."
                                                     : "The headers of your message are attached."),
                     "");
    } else if (!delayed.empty()) {
        text += "#######################################################################\r\n"
                "# THIS IS A WARNING ONLY. YOU DO NOT NEED TO SEND YOUR MESSAGE AGAIN. #\r\n"
                "#######################################################################\r\n\r\n";
        text += wrap("Your message has not been delivered yet to the recipients below. The mail system "
                     "keeps trying; you will hear again if it has to give up.",
                     "");
    } else {
        text += wrap("Your message was delivered to the recipients below.", "");
    }
    text += "\r\n                   The mail system\r\n";
    auto section = [&text](const std::vector<const dsn_recipient*>& list, std::string_view heading) {
        if (list.empty()) return;
        text += "\r\n";
        text += heading;
        text += "\r\n\r\n";
        for (auto const* r : list) {
            if (r != list.front()) text += "\r\n";
            text += recipient_paragraph(*r);
            if (!r->will_retry_until.empty() && action_of(*r) == "delayed")
                text += wrap("The mail system will keep trying until " + field_text(r->will_retry_until) + ".",
                             "    ", "    ");
        }
    };
    section(failed, "Delivery failed:");
    section(delayed, "Delivery delayed:");
    section(done, "Delivered:");
    return text;
}

std::string delivery_status(const dsn_report& report) {
    // RFC 3464 2.2: per-message fields, then one group per recipient, each
    // group after a blank line.
    std::string out = field("Reporting-MTA", "dns; " + field_text(report.reporting_mta));
    if (!report.original_envelope_id.empty())
        out += field("Original-Envelope-Id", field_text(report.original_envelope_id));
    if (!report.arrival_date.empty()) out += field("Arrival-Date", field_text(report.arrival_date));
    for (auto const& r : report.recipients) {
        // RFC 3464 2.3
        out += "\r\n";
        out += field("Final-Recipient", typed(r.final_recipient, "rfc822"));
        auto const action = action_of(r);
        out += field("Action", action);
        out += field("Status", status_of(r));
        if (!r.remote_mta.empty()) out += field("Remote-MTA", typed(r.remote_mta, "dns"));
        if (!r.diagnostic.empty()) out += field("Diagnostic-Code", typed(r.diagnostic, "smtp"));
        if (!r.last_attempt.empty()) out += field("Last-Attempt-Date", field_text(r.last_attempt));
        if (action == "delayed" && !r.will_retry_until.empty())
            out += field("Will-Retry-Until", field_text(r.will_retry_until));
    }
    return out;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

std::string hex(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 15];
    return out;
}

// RFC 2046 5.1.1: 1 to 70 bchars, not ending in a space.
bool valid_boundary(std::string_view b) {
    static constexpr std::string_view extra = "'()+_,-./:=? ";
    return !b.empty() && b.size() <= 70 && b.back() != ' ' && std::all_of(b.begin(), b.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
    });
}

}  // namespace

std::string write_dsn(const dsn_report& report) {
    struct part {
        std::string headers;
        std::string body;
    };
    std::vector<part> parts;

    std::string human = report.human_text.empty() ? default_human_text(report) : as_lines(report.human_text, false);
    bool const human_8bit = !is_ascii(human);
    parts.push_back({field("Content-Description", "Notification") +
                         field("Content-Type", human_8bit ? "text/plain; charset=utf-8" : "text/plain; charset=us-ascii") +
                         (human_8bit ? field("Content-Transfer-Encoding", "8bit") : std::string()),
                     std::move(human)});
    parts.push_back({field("Content-Description", "Delivery report") + field("Content-Type", "message/delivery-status"),
                     delivery_status(report)});

    bool any_failed = false, any_delayed = false;
    for (auto const& r : report.recipients) {
        auto a = action_of(r);
        any_failed = any_failed || a == "failed";
        any_delayed = any_delayed || a == "delayed";
    }
    bool returned_8bit = false;
    if (!report.original.empty()) {
        std::string description = any_failed ? "Undelivered Message" : any_delayed ? "Delayed Message" : "Message";
        // Header lines are folded and body lines cut at 998 octets, so the
        // returned part keeps the limit too.
        auto const head = header_block(report.original);
        std::string body = as_lines(head, true);
        if (report.return_full_message)
            body += as_lines(report.original.substr(head.size()), false);
        else
            description += " Headers";
        // RFC 2046 5.2.1 / RFC 6522 4: the returned part is not encoded; an
        // 8-bit original is declared 8bit here and at the top.
        returned_8bit = !is_ascii(body);
        parts.push_back({field("Content-Description", description) +
                             field("Content-Type", report.return_full_message ? "message/rfc822" : "text/rfc822-headers") +
                             (returned_8bit ? field("Content-Transfer-Encoding", "8bit") : std::string()),
                         std::move(body)});
    }

    std::string everything;
    for (auto const& p : parts) {
        everything += p.headers;
        everything += p.body;
    }
    constexpr std::string_view preamble = "This is a MIME-encapsulated message.\r\n";
    everything += preamble;
    // RFC 2046 5.1.1: the boundary must not occur in any part. Derived from
    // the content when the given one is unusable: same report, same message.
    std::string boundary = report.boundary;
    for (std::uint64_t n = 0; !valid_boundary(boundary) || everything.find(boundary) != std::string::npos; ++n)
        boundary = "=_mailsim_dsn_" + hex(fnv1a(std::to_string(n), fnv1a(everything)));

    std::string const host = field_text(report.reporting_mta);
    std::string out;
    std::string from = field_text(report.from);
    if (from.find('@') == std::string::npos)
        out += field("From", "Mail Delivery System <" + (from.empty() ? "MAILER-DAEMON" : from) + "@" + host + ">");
    else
        out += field("From", from);
    std::string to = field_text(report.to);
    if (to.empty())
        out += field("To", "undisclosed-recipients:;");
    else
        out += field("To", to.find('<') == std::string::npos ? "<" + to + ">" : to);
    out += field("Subject", encode_words(report.subject));
    if (!report.date.empty()) out += field("Date", field_text(report.date));
    out += field("Message-ID", report.message_id.empty()
                                   ? "<" + hex(fnv1a(everything)) + ".dsn@" + host + ">"
                                   : field_text(report.message_id));
    out += field("Auto-Submitted", "auto-replied");  // RFC 3834 5
    out += field("MIME-Version", "1.0");
    out += field("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"");
    if (returned_8bit || !is_ascii(parts.front().body)) out += field("Content-Transfer-Encoding", "8bit");
    out += "\r\n";
    out += preamble;
    for (auto const& p : parts) {
        out += "\r\n--" + boundary + "\r\n";
        out += p.headers;
        out += "\r\n";
        out += p.body;
    }
    out += "\r\n--" + boundary + "--\r\n";
    return out;
}

}  // namespace fake_smtp
