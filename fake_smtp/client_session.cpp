#include "fake_smtp/client_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fake_smtp {

namespace {

using outcome = recipient_result::outcome;

// RFC 5321 4.5.2: CRLF line ends. Bare LF becomes CRLF and a last line without
// an end gets one, so that the SIZE we announce is what the server counts.
std::string normalize_line_ends(std::string_view data) {
    std::string out;
    out.reserve(data.size() + data.size() / 32 + 2);
    for (std::size_t i = 0; i < data.size(); ++i) {
        char c = data[i];
        if (c == '\n' && (i == 0 || data[i - 1] != '\r')) out += '\r';
        out += c;
    }
    if (!out.empty() && out.back() != '\n') out += out.back() == '\r' ? "\n" : "\r\n";
    return out;
}

// RFC 5321 4.5.2: a line that starts with "." gets one more. `body` already
// has CRLF line ends (normalize_line_ends).
std::string dot_stuff(std::string_view body) {
    std::string out;
    out.reserve(body.size() + body.size() / 64 + 1);
    bool line_start = true;
    for (char c : body) {
        if (line_start && c == '.') out += '.';
        out += c;
        line_start = c == '\n';
    }
    return out;
}

// Addresses go into command lines: a CR or LF would end the command early.
std::string without_line_ends(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != '\r' && c != '\n') out += c;
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// The transcript goes to logs and netmon: control characters and 8-bit bytes
// are shown as \xNN so one line stays one line.
std::string printable(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= 0x20 && c < 0x7f) || c == '\t') {
            out += ch;
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

// RFC 5321 4.2: Reply-code [ ("-" / SP) textstring ]; three digits, the
// first 2..5 (1yz is not used by SMTP).
bool valid_reply_line(std::string_view line) {
    if (line.size() < 3) return false;
    if (line[0] < '2' || line[0] > '5') return false;
    if (!std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])))
        return false;
    return line.size() == 3 || line[3] == ' ' || line[3] == '-';
}

const char* command_name(int s) {
    static constexpr const char* names[] = {"the banner", "EHLO", "HELO", "MAIL", "RCPT",
                                            "DATA",       "end of data", "end of data", "QUIT"};
    return names[s];
}

const char* stage_name(int s) {
    static constexpr const char* names[] = {"banner", "ehlo", "ehlo", "mail", "rcpt", "data", "dot", "dot", "done"};
    return names[s];
}

// RFC 5321 4.2.1: only 2yz completes a command (reply::positive() counts 3yz too).
bool completed(const reply& r) { return r.code >= 200 && r.code < 300; }

// RFC 3463: X.4.2 bad connection (Postfix reports lost connections and
// time-outs in the dialogue so), X.5.0 other protocol error.
reply no_reply(std::string enhanced, std::string text) { return reply{0, std::move(enhanced), std::move(text)}; }

}  // namespace

client_session::client_session(client_config config, outgoing_message message)
    : config_(std::move(config)), message_(std::move(message)) {
    if (config_.helo_name.empty()) config_.helo_name = "localhost";
    // No limit at all would refuse every reply; RFC 5321 4.5.3.1.5's reply line is the floor.
    if (config_.max_reply_bytes == 0) config_.max_reply_bytes = 512;
    body_ = normalize_line_ends(message_.data);
    accepted_.assign(message_.recipients.size(), false);
    decided_.assign(message_.recipients.size(), false);
    for (auto const& a : message_.recipients) {
        recipient_result r;
        r.address = a;
        r.result = outcome::deferred;
        result_.recipients.push_back(std::move(r));
    }
    awaited_.push_back(step::banner);
}

std::vector<client_action> client_session::on_connect() { return {}; }

bool client_session::finished() const { return finished_; }

std::vector<client_action> client_session::feed(std::string_view bytes) {
    std::vector<client_action> out;
    if (finished_) return out;
    // Only the new bytes can end the line held back from the last feed: a
    // reply trickling in a byte at a time costs no rescans.
    auto const unscanned = in_.size();
    in_.append(bytes);
    auto const append = [&out](std::vector<client_action> v) { out.insert(out.end(), v.begin(), v.end()); };
    std::size_t pos = 0;
    while (!finished_) {
        auto const after = std::string(command_name(static_cast<int>(awaited_.front())));
        auto nl = in_.find('\n', std::max(pos, unscanned));
        auto const line_bytes = (nl == std::string::npos ? in_.size() : nl + 1) - pos;
        // A server that never ends its reply must not grow our buffer without bound.
        if (reply_bytes_ + line_bytes > config_.max_reply_bytes) {
            append(protocol_error("protocol error: reply longer than " + std::to_string(config_.max_reply_bytes) +
                                  " bytes after " + after));
            break;
        }
        if (nl == std::string::npos) break;
        std::string line = in_.substr(pos, nl - pos);
        reply_bytes_ += line_bytes;
        pos = nl + 1;
        // Servers that end lines in a bare LF are tolerated, as most clients do.
        if (!line.empty() && line.back() == '\r') line.pop_back();
        result_.transcript += "<<< " + printable(line) + "\n";
        // Every line of a multi-line reply carries the same code (RFC 5321 4.2.1).
        if (!valid_reply_line(line) || (!lines_.empty() && line.compare(0, 3, lines_.front(), 0, 3) != 0)) {
            append(protocol_error("protocol error: malformed reply after " + after + ": " +
                                  printable(std::string_view(line).substr(0, 80))));
            break;
        }
        lines_.push_back(std::move(line));
        if (lines_.back().size() > 3 && lines_.back()[3] == '-') continue;

        std::string wire;
        for (auto const& l : lines_) wire += l + "\r\n";
        auto const lines = std::move(lines_);
        lines_.clear();
        reply_bytes_ = 0;
        reply r;
        if (!parse_reply(wire, r)) {
            append(protocol_error("protocol error: malformed reply after " + after));
            break;
        }
        append(on_reply(r, lines));
    }
    if (finished_)
        in_.clear();
    else
        in_.erase(0, pos);
    return out;
}

std::vector<client_action> client_session::protocol_error(std::string error) {
    // Once QUIT is sent nothing is left to decide: whatever comes back is moot.
    if (awaited_.front() == step::quit) return finish();
    return fail(std::move(error), no_reply("4.5.0", ""));
}

std::vector<client_action> client_session::on_timeout() {
    if (finished_) return {};
    auto s = awaited_.empty() ? step::quit : awaited_.front();
    if (s == step::quit) return finish();  // everything was decided: a silent QUIT costs nothing
    if (s == step::banner) return fail("timed out waiting for the banner", no_reply("4.4.2", ""));
    std::string error = std::string("timed out after ") + command_name(static_cast<int>(s));
    if (s == step::dot) error += " (the message may arrive twice)";
    return fail(error, no_reply("4.4.2", ""));
}

std::vector<client_action> client_session::on_closed() {
    if (finished_) return {};
    auto s = awaited_.empty() ? step::quit : awaited_.front();
    if (s == step::quit) return finish();
    if (s == step::banner) return fail("connection closed before the banner", no_reply("4.4.2", ""));
    std::string error = std::string("connection closed after ") + command_name(static_cast<int>(s));
    if (s == step::dot) error += " (the message may arrive twice)";
    return fail(error, no_reply("4.4.2", ""));
}

std::vector<client_action> client_session::on_reply(const reply& r, const std::vector<std::string>& lines) {
    auto const s = awaited_.front();
    awaited_.erase(awaited_.begin());
    if (s == step::quit) return finish();
    // RFC 5321 3.8: 421 means the server is closing the channel; sending QUIT
    // into it is pointless.
    if (r.code == 421) {
        set_stage(s);
        return session_over(r);
    }
    auto const by_class = [&r] { return r.permanent() ? outcome::failed : outcome::deferred; };

    switch (s) {
    case step::banner:
        if (r.code == 220) return send("EHLO " + config_.helo_name, step::ehlo);
        // RFC 5321 3.1: 554 instead of 220 means no service here.
        set_stage(s);
        result_.session_reply = r;
        decide_pending(r, by_class());
        return quit();

    case step::ehlo:
        if (completed(r)) {
            // RFC 5321 4.1.1.1: the first line greets, each further one names an extension.
            for (std::size_t i = 1; i < lines.size(); ++i) {
                std::string_view l = lines[i].size() > 4 ? std::string_view(lines[i]).substr(4) : std::string_view();
                auto sp = l.find(' ');
                auto keyword = l.substr(0, sp);
                auto param = sp == std::string_view::npos ? std::string_view() : l.substr(sp + 1);
                if (iequals(keyword, "PIPELINING")) {
                    pipelining_ = config_.use_pipelining;
                } else if (iequals(keyword, "8BITMIME")) {
                    eight_bit_ = true;
                } else if (iequals(keyword, "SIZE")) {
                    // RFC 1870 4: "SIZE" alone or "SIZE 0" announce no fixed limit.
                    size_offered_ = true;
                    std::uint64_t n = 0;
                    auto [p, ec] = std::from_chars(param.data(), param.data() + param.size(), n);
                    size_limit_ = ec == std::errc() ? n : 0;
                }
            }
            return start_transaction();
        }
        // RFC 5321 4.1.4: a server that does not know EHLO gets HELO.
        return send("HELO " + config_.helo_name, step::helo);

    case step::helo:
        if (completed(r)) return start_transaction();
        set_stage(s);
        result_.session_reply = r;
        decide_pending(r, by_class());
        return quit();

    case step::mail:
        if (completed(r)) {
            if (pipelining_) return {};
            return send("RCPT TO:<" + without_line_ends(message_.recipients[0]) + ">", step::rcpt);
        }
        set_stage(s);
        mail_rejected_ = true;
        result_.session_reply = r;
        decide_pending(r, r.permanent() ? outcome::failed : outcome::deferred);
        // Pipelined RCPT and DATA replies still come and are read past.
        return pipelining_ ? std::vector<client_action>{} : quit();

    case step::rcpt: {
        auto const i = next_rcpt_++;
        if (!mail_rejected_ && i < accepted_.size()) {
            if (completed(r))
                accepted_[i] = true;
            else
                decide(i, r, by_class());
        }
        if (pipelining_) return {};
        if (next_rcpt_ < message_.recipients.size())
            return send("RCPT TO:<" + without_line_ends(message_.recipients[next_rcpt_]) + ">", step::rcpt);
        if (any_accepted()) return send("DATA", step::data);
        set_stage(s);
        return quit();
    }

    case step::data:
        if (mail_rejected_ || !any_accepted()) {
            if (!mail_rejected_) set_stage(step::rcpt);
            // As Postfix's smtp client: a server that says 354 although no
            // recipient was accepted gets an empty message (RFC 2920 3.1).
            if (r.code >= 300 && r.code < 400) {
                result_.transcript += ">>> .\n";
                awaited_.push_back(step::lone_dot);
                return {client_action{client_action::kind::write, ".\r\n", {}}};
            }
            return quit();
        }
        if (r.code >= 300 && r.code < 400) {
            auto stuffed = dot_stuff(body_);
            result_.transcript += ">>> (message, " + std::to_string(stuffed.size()) + " bytes)\n>>> .\n";
            stuffed += ".\r\n";
            awaited_.push_back(step::dot);
            return {client_action{client_action::kind::write, std::move(stuffed), {}}};
        }
        // Refused; a 2yz here answers nothing we asked, and delivers nothing.
        set_stage(s);
        decide_accepted(r, by_class());
        return quit();

    case step::dot:
        if (completed(r))
            result_.stage = "done";
        else
            set_stage(s);
        // 2yz delivers, 5yz fails, anything else leaves the recipient for the next attempt.
        decide_accepted(r, completed(r) ? outcome::delivered : by_class());
        return quit();

    case step::lone_dot:
    case step::quit:
        break;
    }
    return quit();
}

std::vector<client_action> client_session::start_transaction() {
    if (message_.recipients.empty()) {
        result_.stage = "done";
        return quit();
    }
    // RFC 1870 6.1: a client that knows the message is too big does not send it.
    if (size_offered_ && size_limit_ > 0 && body_.size() > size_limit_) {
        result_.stage = "mail";
        reply r{552, "5.3.4", "Message size exceeds fixed maximum message size"};
        result_.session_reply = r;
        decide_pending(r, outcome::failed);
        return quit();
    }
    std::string mail = "MAIL FROM:<" + without_line_ends(message_.mail_from) + ">";
    if (size_offered_) mail += " SIZE=" + std::to_string(body_.size());  // RFC 1870 3
    if (eight_bit_ && message_.body_8bit) mail += " BODY=8BITMIME";      // RFC 6152 2
    if (!pipelining_) return send(mail, step::mail);

    // RFC 2920 3.1: MAIL, every RCPT and DATA in one write; DATA is the last
    // command of the group.
    std::string bytes = mail + "\r\n";
    result_.transcript += ">>> " + printable(mail) + "\n";
    awaited_.push_back(step::mail);
    for (auto const& a : message_.recipients) {
        std::string rcpt = "RCPT TO:<" + without_line_ends(a) + ">";
        bytes += rcpt + "\r\n";
        result_.transcript += ">>> " + printable(rcpt) + "\n";
        awaited_.push_back(step::rcpt);
    }
    bytes += "DATA\r\n";
    result_.transcript += ">>> DATA\n";
    awaited_.push_back(step::data);
    return {client_action{client_action::kind::write, std::move(bytes), {}}};
}

std::vector<client_action> client_session::send(std::string_view line, step awaited) {
    result_.transcript += ">>> " + printable(line) + "\n";
    awaited_.push_back(awaited);
    return {client_action{client_action::kind::write, std::string(line) + "\r\n", {}}};
}

std::vector<client_action> client_session::quit() {
    awaited_.clear();
    return send("QUIT", step::quit);
}

std::vector<client_action> client_session::session_over(const reply& r) {
    result_.session_reply = r;
    decide_pending(r, outcome::deferred);
    return finish();
}

std::vector<client_action> client_session::fail(std::string error, reply answer) {
    if (!awaited_.empty()) set_stage(awaited_.front());
    if (answer.text.empty()) answer.text = error;
    result_.transport_error = std::move(error);
    decide_pending(answer, outcome::deferred);
    return finish();
}

std::vector<client_action> client_session::finish() {
    finished_ = true;
    awaited_.clear();
    if (result_.stage.empty()) result_.stage = "done";
    std::vector<client_action> out(2);
    out[0].what = client_action::kind::close;
    out[1].what = client_action::kind::done;
    out[1].result = result_;
    return out;
}

void client_session::decide(std::size_t i, const reply& r, outcome o) {
    if (i >= decided_.size() || decided_[i]) return;
    decided_[i] = true;
    result_.recipients[i].answer = r;
    result_.recipients[i].result = o;
}

void client_session::decide_pending(const reply& r, outcome o) {
    for (std::size_t i = 0; i < decided_.size(); ++i) decide(i, r, o);
}

void client_session::decide_accepted(const reply& r, outcome o) {
    for (std::size_t i = 0; i < accepted_.size(); ++i)
        if (accepted_[i]) decide(i, r, o);
}

void client_session::set_stage(step s) {
    if (result_.stage.empty()) result_.stage = stage_name(static_cast<int>(s));
}

bool client_session::any_accepted() const {
    return std::find(accepted_.begin(), accepted_.end(), true) != accepted_.end();
}

}  // namespace fake_smtp
