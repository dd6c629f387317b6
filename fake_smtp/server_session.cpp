#include "fake_smtp/server_session.hpp"

#include <charconv>
#include <limits>
#include <utility>

#include "fake_smtp/command.hpp"

namespace fake_smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
        if (x != y) return false;
    }
    return true;
}

// A leading RFC 3463 code of the reply's class ("5.1.1 no such user") split
// off `text`, so that fault authors and policies may write their own.
std::pair<std::string, std::string> split_enhanced(int code, std::string_view text) {
    char const klass = static_cast<char>('0' + code / 100);
    std::size_t i = 0;
    if (text.size() >= 5 && text[0] == klass && text[1] == '.') {
        i = 2;
        for (int part = 0; part < 2 && i != 0; ++part) {
            std::size_t digits = 0;
            while (i < text.size() && is_digit(text[i])) ++i, ++digits;
            if (digits == 0 || digits > 3) i = 0;
            else if (part == 0) i = (i < text.size() && text[i] == '.') ? i + 1 : 0;
        }
        if (i != 0 && i < text.size() && text[i] != ' ') i = 0;
    }
    if (i == 0) return {"", std::string(text)};
    auto rest = text.substr(i);
    if (!rest.empty()) rest.remove_prefix(1);
    return {std::string(text.substr(0, i)), std::string(rest)};
}

// A refusal from the host made fit for the wire: a 4xx/5xx code and an
// enhanced code of the same class (RFC 3463 3: the class must agree).
reply refusal(reply r, int fallback_code, std::string_view fallback_detail) {
    if (r.code < 400 || r.code > 599) r.code = fallback_code;
    char const klass = static_cast<char>('0' + r.code / 100);
    if (r.enhanced.empty() || r.enhanced[0] != klass) {
        auto [enhanced, text] = split_enhanced(r.code, r.text);
        r.enhanced = enhanced.empty() ? std::string(1, klass) + std::string(fallback_detail) : enhanced;
        if (!enhanced.empty()) r.text = text;
    }
    if (r.text.empty()) r.text = "Error";
    return r;
}

reply ok(int code, std::string text) { return {code, "2.0.0", std::move(text)}; }

}  // namespace

server_session::server_session(server_config config, server_policy& policy, std::string client_address)
    : config_(std::move(config)), policy_(&policy) {
    if (config_.hostname.empty()) config_.hostname = "localhost";
    env_.client_address = std::move(client_address);
}

bool server_session::closed() const { return mode_ == mode::closed; }
bool server_session::stalled() const { return mode_ == mode::stalled; }
phase server_session::current_phase() const { return phase_; }

std::vector<server_action> server_session::on_connect(std::optional<reply> forced) {
    actions out;
    if (mode_ != mode::greeting) return out;
    phase_ = phase::banner;
    if (forced) {
        write(*forced, out);
        close(out);
        return out;
    }
    if (auto rule = policy_->rule_at(phase::banner)) {
        switch (rule->what) {
        case phase_rule::action::disconnect:
            close(out);
            return out;
        case phase_rule::action::stall:
            mode_ = mode::stalled;
            in_.clear();
            return out;
        case phase_rule::action::reject:
        case phase_rule::action::tempfail: {
            bool const temporary = rule->what == phase_rule::action::tempfail;
            int const code = (rule->code >= 400 && rule->code <= 599) ? rule->code : (temporary ? 421 : 554);
            auto [enhanced, text] = split_enhanced(code, rule->text);
            // RFC 2034 puts no enhanced code on the greeting; Postfix words these
            // two "554 host ESMTP not accepting connections" and "421 host
            // Service unavailable - try again later".
            if (text.empty())
                text = code < 500 ? "Service unavailable - try again later" : "ESMTP not accepting connections";
            write({code, enhanced, config_.hostname + " " + text}, out);
            if (code < 500) {
                // RFC 5321 3.1, 4.2.2: a 4xx greeting (421) closes the channel.
                close(out);
                return out;
            }
            // RFC 5321 3.1: after a 554 greeting the server waits for QUIT and
            // answers anything else with 503. Postfix counts the refusal as an error.
            mode_ = mode::rejected;
            ++errors_;
            check_error_limit(out);
            process(out);
            return out;
        }
        }
    }
    write({220, "", config_.hostname + (config_.banner_text.empty() ? "" : " " + config_.banner_text)}, out);
    mode_ = mode::command;
    process(out);  // an early talker's commands, kept until now
    return out;
}

std::vector<server_action> server_session::feed(std::string_view bytes) {
    actions out;
    // A stalled server reads nothing; a closed one has nothing to read with.
    if (mode_ == mode::closed || mode_ == mode::stalled) return out;
    in_.append(bytes);
    // Before the banner and while a message is being stored the input waits,
    // so that pipelined commands are answered in order (RFC 2920 3.1).
    if (mode_ == mode::greeting || mode_ == mode::delivering) return out;
    process(out);
    return out;
}

std::vector<server_action> server_session::on_delivered(const std::string& id, std::optional<reply> failure) {
    actions out;
    if (mode_ != mode::delivering) return out;
    mode_ = mode::command;
    phase_ = helo_seen_ ? phase::ehlo : phase::banner;
    if (failure) {
        fail(refusal(*failure, 451, ".3.0"), out);
    } else {
        // Postfix forgives earlier errors once a message got through.
        errors_ = 0;
        std::string queue_id = id;
        for (auto& c : queue_id)
            if (c == '\n' || c == '\r') c = ' ';
        write(ok(250, "Ok: queued as " + queue_id), out);
    }
    check_error_limit(out);
    if (mode_ == mode::command) process(out);
    return out;
}

std::vector<server_action> server_session::on_idle_timeout() {
    actions out;
    switch (mode_) {
    case mode::closed:
        break;
    case mode::greeting:
    case mode::stalled:
        // A hung server says nothing, not even goodbye: the client sees its own time-out.
        close(out);
        break;
    default:
        write({421, "4.4.2", config_.hostname + " Error: timeout exceeded"}, out);
        close(out);
        break;
    }
    return out;
}

void server_session::process(actions& out) {
    for (;;) {
        bool more = false;
        if (taken_ < in_.size()) {
            if (mode_ == mode::command || mode_ == mode::rejected) more = step_command(out);
            else if (mode_ == mode::data) more = step_data(out);
        }
        if (!more) break;
    }
    if (mode_ == mode::closed || mode_ == mode::stalled) {
        in_.clear();
    } else {
        in_.erase(0, taken_);
    }
    taken_ = 0;
}

bool server_session::step_command(actions& out) {
    std::string_view rest(in_);
    rest.remove_prefix(taken_);
    auto const lf = rest.find('\n');
    if (discarding_) {
        // The rest of an over-long line is dropped unread, never taken as a command.
        if (lf == std::string_view::npos) {
            taken_ = in_.size();
            return false;
        }
        taken_ += lf + 1;
        discarding_ = false;
        fail({500, "5.5.6", "Error: line too long"}, out);
        check_error_limit(out);
        return true;
    }
    if (lf == std::string_view::npos) {
        // RFC 5321 4.5.3.1.4: 512 octets with the CRLF. This many bytes without
        // an LF can only end in a line over the limit, so stop keeping them.
        if (rest.size() >= config_.max_command_line) {
            discarding_ = true;
            taken_ = in_.size();
        }
        return false;
    }
    taken_ += lf + 1;
    command_line(rest.substr(0, lf), out);
    return true;
}

void server_session::command_line(std::string_view line, actions& out) {
    // Commands may end in CRLF or a bare LF (telnet, nc); the limit counts the line as if it ended in CRLF.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() + 2 > config_.max_command_line) {
        fail({500, "5.5.6", "Error: line too long"}, out);
    } else if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
        // RFC 5321 2.3.8: CR only before LF; a NUL has no place in a command.
        fail({500, "5.5.2", "Error: bad syntax"}, out);
    } else {
        dispatch(line, out);
    }
    check_error_limit(out);
}

void server_session::dispatch(std::string_view line, actions& out) {
    auto const c = parse_command(line);
    if (c.word.empty()) {
        fail({500, "5.5.2", "Error: bad syntax"}, out);
        return;
    }
    if (mode_ == mode::rejected) {
        if (c.what == command::verb::quit) {
            write(ok(221, "Bye"), out);
            close(out);
        } else {
            fail({503, "5.5.1", "Error: bad sequence of commands"}, out);
        }
        return;
    }
    using verb = command::verb;
    switch (c.what) {
    case verb::helo:
        helo(c, false, out);
        break;
    case verb::ehlo:
        helo(c, true, out);
        break;
    case verb::mail:
        mail(c, out);
        break;
    case verb::rcpt:
        rcpt(c, out);
        break;
    case verb::data:
        data(c, out);
        break;
    case verb::rset:
        if (!c.argument.empty()) {
            fail({501, "5.5.4", "Syntax: RSET"}, out);
            break;
        }
        reset_transaction();
        write(ok(250, "Ok"), out);
        break;
    case verb::noop:
        // RFC 5321 4.1.1.9: an argument is allowed and ignored.
        write(ok(250, "Ok"), out);
        break;
    case verb::quit:
        write(ok(221, "Bye"), out);
        close(out);
        break;
    case verb::vrfy:
        if (c.argument.empty()) {
            fail({501, "5.5.4", "Syntax: VRFY address"}, out);
            break;
        }
        // RFC 5321 3.5.3: 252 when the server will not say but will try delivery.
        write({252, "2.0.0", "Cannot VRFY user, but will accept message"}, out);
        break;
    case verb::help:
        write({214, "2.0.0",
               "Commands supported:\n"
               "HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\n"
               "End of HELP info"},
              out);
        break;
    case verb::starttls:
    case verb::auth:
    case verb::bdat:
        // Postfix built without TLS and SASL, and with CHUNKING off, says this.
        fail({502, "5.5.1", "Error: command not implemented"}, out);
        break;
    case verb::expn:  // Postfix has no EXPN at all
    case verb::unknown:
        fail({502, "5.5.2", "Error: command not recognized"}, out);
        break;
    }
}

void server_session::helo(const command& c, bool esmtp, actions& out) {
    if (c.argument.empty()) {
        // RFC 2034: replies to HELO and EHLO carry no enhanced code (Postfix agrees).
        fail({501, "", esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"}, out);
        return;
    }
    if (apply_rule(phase::ehlo, "<" + c.argument + ">", out)) return;
    // RFC 5321 4.1.4: HELO/EHLO resets the transaction as RSET does.
    reset_transaction();
    helo_seen_ = true;
    env_.helo = c.argument;
    env_.esmtp = esmtp;
    phase_ = phase::ehlo;
    if (!esmtp) {
        write({250, "", config_.hostname}, out);
        return;
    }
    // RFC 1870 4: SIZE without a number announces no fixed limit.
    std::string text = config_.hostname;
    text += config_.max_message_size ? "\nSIZE " + std::to_string(config_.max_message_size) : "\nSIZE";
    text += "\n8BITMIME";
    if (config_.pipelining) text += "\nPIPELINING";
    text += "\nENHANCEDSTATUSCODES";
    write({250, "", text}, out);
}

void server_session::mail(const command& c, actions& out) {
    if (!helo_seen_) {
        fail({503, "5.5.1", "Error: send HELO/EHLO first"}, out);
        return;
    }
    if (in_transaction_) {
        fail({503, "5.5.1", "Error: nested MAIL command"}, out);
        return;
    }
    if (!c.path) {
        bool const syntax = c.error.rfind("Syntax", 0) == 0;
        fail({501, syntax ? "5.5.4" : "5.1.7", c.error}, out);
        return;
    }
    if (!c.error.empty()) {
        fail({555, "5.5.4", c.error}, out);
        return;
    }
    bool body_8bit = false;
    std::uint64_t size = 0;
    for (auto const& [key, value] : c.params) {
        if (key == "BODY") {
            // RFC 6152 2: BODY=8BITMIME or BODY=7BIT.
            if (iequals(value, "8BITMIME")) {
                body_8bit = true;
            } else if (!iequals(value, "7BIT")) {
                fail({555, "5.5.4", "Unsupported option: BODY=" + value}, out);
                return;
            }
        } else if (key == "SIZE") {
            // RFC 1870 6: size-value = 1*20DIGIT.
            bool digits = !value.empty();
            for (char ch : value) digits = digits && is_digit(ch);
            if (!digits) {
                fail({501, "5.5.4", "Bad message size syntax"}, out);
                return;
            }
            auto const [p, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
            (void)p;
            if (ec != std::errc()) {
                fail({552, "5.3.4", "Message size exceeds file system imposed limit"}, out);
                return;
            }
        } else {
            fail({555, "5.5.4", "Unsupported option: " + key + (value.empty() ? "" : "=" + value)}, out);
            return;
        }
    }
    // RFC 1870 6.1: a declared size over the limit is refused at MAIL.
    if (config_.max_message_size && size > config_.max_message_size) {
        fail({552, "5.3.4", "Message size exceeds fixed limit"}, out);
        return;
    }
    if (apply_rule(phase::mail, "<" + *c.path + ">", out)) return;
    if (auto no = policy_->check_sender(env_, *c.path)) {
        fail(refusal(*no, 550, ".7.1"), out);
        return;
    }
    in_transaction_ = true;
    rcpt_seen_ = false;
    env_.mail_from = *c.path;
    env_.body_8bit = body_8bit;
    env_.declared_size = size;
    phase_ = phase::mail;
    write({250, "2.1.0", "Ok"}, out);
}

void server_session::rcpt(const command& c, actions& out) {
    if (!in_transaction_) {
        fail({503, "5.5.1", "Error: need MAIL command"}, out);
        return;
    }
    rcpt_seen_ = true;
    if (!c.path) {
        bool const syntax = c.error.rfind("Syntax", 0) == 0;
        fail({501, syntax ? "5.5.4" : "5.1.3", c.error}, out);
        return;
    }
    if (!c.error.empty()) {
        fail({555, "5.5.4", c.error}, out);
        return;
    }
    if (!c.params.empty()) {
        // No DSN here (RFC 3461 is not offered), so RCPT takes no parameters.
        auto const& [key, value] = *c.params.begin();
        fail({555, "5.5.4", "Unsupported option: " + key + (value.empty() ? "" : "=" + value)}, out);
        return;
    }
    // RFC 5321 4.5.3.1.8: 452 for recipients over the limit, which the client
    // sends again later. Postfix does not count it as an error.
    if (config_.max_recipients > 0 && env_.rcpt_to.size() >= static_cast<std::size_t>(config_.max_recipients)) {
        write({452, "4.5.3", "Error: too many recipients"}, out);
        return;
    }
    if (apply_rule(phase::rcpt, "<" + *c.path + ">", out)) return;
    if (auto no = policy_->check_recipient(env_, *c.path)) {
        fail(refusal(*no, 550, ".1.1"), out);
        return;
    }
    env_.rcpt_to.push_back(*c.path);
    phase_ = phase::rcpt;
    write({250, "2.1.5", "Ok"}, out);
}

void server_session::data(const command& c, actions& out) {
    if (!in_transaction_ || !rcpt_seen_) {
        fail({503, "5.5.1", "Error: need RCPT command"}, out);
        return;
    }
    // RFC 5321 3.3: with every RCPT refused, DATA gets 554 (or 503).
    if (env_.rcpt_to.empty()) {
        fail({554, "5.5.1", "Error: no valid recipients"}, out);
        return;
    }
    if (!c.argument.empty()) {
        fail({501, "5.5.4", "Syntax: DATA"}, out);
        return;
    }
    if (apply_rule(phase::data, "<DATA>", out)) return;
    write({354, "", "End data with <CR><LF>.<CR><LF>"}, out);
    mode_ = mode::data;
    phase_ = phase::data;
    data_.clear();
    line_.clear();
    line_length_ = 0;
    line_ends_cr_ = false;
    after_crlf_ = true;
    bad_bytes_ = line_too_long_ = too_big_ = false;
}

bool server_session::step_data(actions& out) {
    std::string_view rest(in_);
    rest.remove_prefix(taken_);
    auto const lf = rest.find('\n');
    text_segment(rest.substr(0, lf));
    if (lf == std::string_view::npos) {
        taken_ = in_.size();
        return false;
    }
    taken_ += lf + 1;
    end_of_text_line(out);
    return true;
}

void server_session::text_segment(std::string_view bytes) {
    if (bytes.empty()) return;
    // RFC 5321 2.3.8: CR only as part of CRLF. A CR with more of the line
    // after it is bare, whichever read it came in.
    if (line_ends_cr_) bad_bytes_ = true;
    if (bytes.substr(0, bytes.size() - 1).find('\r') != std::string_view::npos) bad_bytes_ = true;
    if (bytes.find('\0') != std::string_view::npos) bad_bytes_ = true;
    line_ends_cr_ = bytes.back() == '\r';
    if (line_.size() < config_.max_text_line)
        line_.append(bytes.substr(0, config_.max_text_line - line_.size()));
    line_length_ += bytes.size();
}

void server_session::end_of_text_line(actions& out) {
    bool const crlf = line_ends_cr_;
    std::size_t const length = line_length_ - (crlf ? 1 : 0);
    // RFC 5321 4.1.1.4: only <CRLF>.<CRLF> ends the message. A dot line ending
    // in a bare LF, or after a line that did, is content (Postfix's
    // smtpd_forbid_bare_newline = normalize), so no smuggled ending works.
    bool const end = crlf && after_crlf_ && length == 1 && line_[0] == '.';
    if (!end) {
        if (length + 2 > config_.max_text_line) line_too_long_ = true;  // RFC 5321 4.5.3.1.6
        if (!bad_bytes_ && !line_too_long_ && !too_big_) {
            // Fully kept: the line is shorter than max_text_line.
            std::string_view text(line_.data(), length);
            // RFC 5321 4.5.2: drop one leading dot. A lone "." that did not end
            // the message stays ".", and the relay stuffs it again on output.
            if (text.size() > 1 && text[0] == '.') text.remove_prefix(1);
            if (config_.max_message_size && data_.size() + text.size() + 2 > config_.max_message_size) {
                too_big_ = true;
            } else {
                data_ += text;
                data_ += "\r\n";  // bare-LF lines are stored as CRLF
            }
        }
        // A message that will be refused keeps nothing.
        if (bad_bytes_ || line_too_long_ || too_big_) std::string().swap(data_);
    }
    after_crlf_ = crlf;
    line_.clear();
    line_length_ = 0;
    line_ends_cr_ = false;
    if (end) end_of_message(out);
}

void server_session::end_of_message(actions& out) {
    mode_ = mode::command;
    phase_ = phase::dot;
    // Read to its end, then refused as a whole; the worst problem is named.
    if (bad_bytes_) {
        fail({554, "5.6.0", "Error: message content rejected (bare CR or NUL)"}, out);
    } else if (too_big_) {
        fail({552, "5.3.4", "Error: message file too big"}, out);
    } else if (line_too_long_) {
        fail({500, "5.5.6", "Error: message line too long"}, out);
    } else if (apply_rule(phase::dot, "<END-OF-MESSAGE>", out)) {
        if (mode_ != mode::command) return;  // stalled or closed
    } else {
        server_action a;
        a.what = server_action::kind::deliver;
        a.env = env_;
        a.data = std::move(data_);
        out.push_back(std::move(a));
        reset_transaction();
        phase_ = phase::dot;
        mode_ = mode::delivering;
        return;
    }
    // RFC 5321 4.1.1.4: a failed transaction is over too.
    reset_transaction();
    check_error_limit(out);
}

bool server_session::apply_rule(phase p, std::string_view subject, actions& out) {
    auto rule = policy_->rule_at(p);
    if (!rule) return false;
    phase_ = p;
    switch (rule->what) {
    case phase_rule::action::disconnect:
        close(out);
        return true;
    case phase_rule::action::stall:
        mode_ = mode::stalled;
        return true;
    case phase_rule::action::reject:
    case phase_rule::action::tempfail:
        break;
    }
    bool const temporary = rule->what == phase_rule::action::tempfail;
    int const code = (rule->code >= 400 && rule->code <= 599) ? rule->code : (temporary ? 451 : 554);
    auto [enhanced, text] = split_enhanced(code, rule->text);
    // RFC 3463 X.7.1: delivery not authorized, message refused (as Postfix's
    // access restrictions answer).
    if (enhanced.empty()) enhanced = std::string(1, static_cast<char>('0' + code / 100)) + ".7.1";
    if (text.empty()) text = default_reply_text(p, code < 500, subject);
    // RFC 5321 4.2.2: 421 names the host and closes the channel.
    if (code == 421) text = config_.hostname + " " + text;
    fail({code, enhanced, text}, out);
    return true;
}

std::string server_session::default_reply_text(phase p, bool temporary, std::string_view subject) const {
    std::string const why = temporary ? "Try again later" : "Access denied";
    std::string const who(subject);
    switch (p) {
    case phase::ehlo:
        return who + ": Helo command rejected: " + why;
    case phase::mail:
        return who + ": Sender address rejected: " + why;
    case phase::rcpt:
        return who + ": Recipient address rejected: " + why;
    case phase::data:
        return who + ": Data command rejected: " + why;
    case phase::dot:
        return who + ": End-of-data rejected: " + why;
    case phase::banner:
        break;
    }
    return why;
}

void server_session::write(const reply& r, actions& out) {
    if (mode_ == mode::closed) return;
    server_action a;
    a.bytes = r.wire();
    out.push_back(std::move(a));
}

void server_session::fail(const reply& r, actions& out) {
    write(r, out);
    if (r.code >= 400) ++errors_;
    if (r.code == 421) close(out);
}

void server_session::close(actions& out) {
    if (mode_ == mode::closed) return;
    server_action a;
    a.what = server_action::kind::close;
    out.push_back(std::move(a));
    mode_ = mode::closed;
}

void server_session::check_error_limit(actions& out) {
    if (mode_ == mode::closed || mode_ == mode::stalled) return;
    // Postfix's smtpd_hard_error_limit: checked before the next command is read.
    if (config_.max_errors > 0 && errors_ >= config_.max_errors) {
        write({421, "4.7.0", config_.hostname + " Error: too many errors"}, out);
        close(out);
    }
}

void server_session::reset_transaction() {
    in_transaction_ = false;
    rcpt_seen_ = false;
    env_.mail_from.clear();
    env_.rcpt_to.clear();
    env_.body_8bit = false;
    env_.declared_size = 0;
    std::string().swap(data_);
    phase_ = helo_seen_ ? phase::ehlo : phase::banner;
}

}  // namespace fake_smtp
