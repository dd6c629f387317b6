// Arbitrary client bytes into a server session, split into reads at random
// points, with the shell's other calls (on_delivered, on_idle_timeout) at
// random moments. The session must never crash, never act after it closed,
// never deliver twice for one DATA, and never deliver data that a relay
// would send as more than one message. Without the random calls, any split
// of the input must give the same actions as the whole.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fake_smtp/command.hpp"
#include "fake_smtp/server_session.hpp"

namespace {

using namespace fake_smtp;

[[noreturn]] void fail() { __builtin_trap(); }

// splitmix64, seeded from the input: each input replays the same way.
struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// Accepts everything; in some runs a rule now and then, drawn from its own generator.
struct fuzz_policy : server_policy {
    rng r;
    bool rules;
    fuzz_policy(std::uint64_t seed, bool with_rules) : r{seed}, rules(with_rules) {}
    std::optional<phase_rule> rule_at(phase) override {
        if (!rules || r.below(6) != 0) return std::nullopt;
        static constexpr int codes[] = {0, 250, 421, 450, 451, 550, 554};
        static const char* const texts[] = {"", "5.1.1 no", "4.7.1 later", "x\ny", "text"};
        return phase_rule{static_cast<phase_rule::action>(r.below(4)), codes[r.below(7)], texts[r.below(5)]};
    }
    std::optional<reply> check_sender(const envelope&, const std::string&) override {
        if (rules && r.below(8) == 0) return reply{550, "", "no"};
        return std::nullopt;
    }
    std::optional<reply> check_recipient(const envelope&, const std::string&) override {
        if (rules && r.below(8) == 0) return reply{450, "4.2.0", "busy"};
        return std::nullopt;
    }
};

server_config config_from(rng& r) {
    server_config c;
    c.hostname = "mx.example";
    static constexpr std::size_t command_lines[] = {512, 40, 6};
    static constexpr std::size_t text_lines[] = {1000, 24, 3};
    static constexpr std::uint64_t sizes[] = {0, 10485760, 120};
    static constexpr int recipients[] = {100, 2, 0};
    static constexpr int errors[] = {20, 3, 0};
    c.max_command_line = command_lines[r.below(3)];
    c.max_text_line = text_lines[r.below(3)];
    c.max_message_size = sizes[r.below(3)];
    c.max_recipients = recipients[r.below(3)];
    c.max_errors = errors[r.below(3)];
    c.pipelining = r.below(2) == 0;
    return c;
}

// Dot-stuffing as a relay writes the data (RFC 5321 4.5.2), after DATA's CRLF.
std::string relayed(std::string_view data) {
    std::string out = "\r\n";
    bool line_start = true;
    for (char c : data) {
        if (line_start && c == '.') out += '.';
        out += c;
        line_start = c == '\n';
    }
    return out + ".\r\n";
}

void check_delivery(const server_action& a, const server_config& c) {
    auto const& d = a.data;
    if (!d.empty() && !d.ends_with("\r\n")) fail();
    std::size_t line = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (d[i] == '\0') fail();
        if (d[i] == '\r' && (i + 1 >= d.size() || d[i + 1] != '\n')) fail();
        if (d[i] == '\n') {
            if (i == 0 || d[i - 1] != '\r') fail();
            if (line + 1 > c.max_text_line) fail();  // the line with its CRLF, unstuffed
            line = 0;
        } else {
            ++line;
        }
    }
    if (c.max_message_size && d.size() > c.max_message_size) fail();
    auto const wire = relayed(d);
    if (wire.find("\r\n.\r\n") != wire.size() - 5) fail();  // one message, ending once
    if (a.env.rcpt_to.empty()) fail();
    if (c.max_recipients > 0 && a.env.rcpt_to.size() > static_cast<std::size_t>(c.max_recipients)) fail();
    if (!valid_mailbox(a.env.mail_from, true)) fail();
    if (a.env.client_address != "127.25.200.25") fail();
}

// Follows the actions of one session and checks them.
struct checker {
    const server_config& config;
    bool closed = false;
    bool data_open = false;  // 354 sent, the message not yet ended
    bool awaiting = false;   // a deliver is out
    int deliveries = 0;

    void take(const std::vector<server_action>& acts) {
        for (std::size_t i = 0; i < acts.size(); ++i) {
            auto const& a = acts[i];
            if (closed) fail();
            switch (a.what) {
            case server_action::kind::write: {
                reply r;
                if (!parse_reply(a.bytes, r)) fail();  // one whole reply per write
                if (r.code == 354) {
                    if (data_open || awaiting) fail();
                    data_open = true;
                } else {
                    data_open = false;
                }
                break;
            }
            case server_action::kind::deliver:
                if (!data_open || awaiting) fail();  // one deliver per DATA
                data_open = false;
                awaiting = true;
                ++deliveries;
                check_delivery(a, config);
                if (i + 1 != acts.size()) fail();  // nothing more until on_delivered
                break;
            case server_action::kind::close:
                closed = true;
                break;
            }
        }
    }
};

std::string render(const std::vector<server_action>& acts) {
    std::string out;
    for (auto const& a : acts) {
        out += static_cast<char>('0' + static_cast<int>(a.what));
        out += a.bytes;
        out += a.data;
        out += a.env.mail_from;
        for (auto const& r : a.env.rcpt_to) out += "," + r;
        out += '|';
    }
    return out;
}

// Feeds `input` in reads cut by `cuts` (or whole), answering each deliver at once.
std::string replay(std::string_view input, const server_config& config, std::uint64_t policy_seed, bool rules,
                   rng* cuts) {
    fuzz_policy policy(policy_seed, rules);
    server_session s(config, policy, "127.25.200.25");
    checker check{config};
    std::string out;
    int id = 0;
    auto take = [&](std::vector<server_action> acts) {
        for (;;) {
            check.take(acts);
            out += render(acts);
            if (acts.empty() || acts.back().what != server_action::kind::deliver) break;
            check.awaiting = false;
            acts = s.on_delivered("Q" + std::to_string(++id));
        }
    };
    take(s.on_connect());
    while (!input.empty()) {
        std::size_t n = cuts ? 1 + cuts->below(static_cast<std::uint32_t>(input.size() < 64 ? input.size() : 64))
                             : input.size();
        take(s.feed(input.substr(0, n)));
        input.remove_prefix(n);
    }
    take(s.on_idle_timeout());
    if (!s.closed()) fail();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(bytes), size);
    rng r{fnv1a(input)};
    auto const config = config_from(r);
    bool const rules = r.below(2) == 0;
    std::uint64_t const policy_seed = r.next();

    // Any split gives what the whole input gives.
    auto const whole = replay(input, config, policy_seed, rules, nullptr);
    rng cuts{r.next()};
    if (replay(input, config, policy_seed, rules, &cuts) != whole) fail();

    // The shell's calls at random moments, including ones it never makes
    // (on_delivered with nothing out, a time-out while a message is stored).
    fuzz_policy policy(policy_seed, rules);
    server_session s(config, policy, "127.25.200.25");
    checker check{config};
    check.take(s.on_connect());
    std::string_view rest = input;
    while (!rest.empty() && !check.closed) {
        auto const n = 1 + r.below(static_cast<std::uint32_t>(rest.size() < 128 ? rest.size() : 128));
        bool const silent = check.awaiting || s.stalled();
        auto acts = s.feed(rest.substr(0, n));
        rest.remove_prefix(n);
        if (silent && !acts.empty()) fail();  // input waits, or is dropped
        check.take(acts);
        switch (r.below(16)) {
        case 0: {
            bool const was = check.awaiting;
            check.awaiting = false;
            std::optional<reply> failure;
            if (r.below(2)) failure = reply{static_cast<int>(r.below(700)), r.below(2) ? "4.3.0" : "", "failed"};
            auto more = s.on_delivered("id", failure);
            if (!was && !more.empty()) fail();
            check.take(more);
            break;
        }
        case 1: {
            bool const stalled = s.stalled();
            auto more = s.on_idle_timeout();
            if (!check.closed && more.empty()) fail();
            if (stalled && (more.size() != 1 || more[0].what != server_action::kind::close)) fail();
            check.awaiting = false;
            check.take(more);
            break;
        }
        default:
            if (check.awaiting) {
                check.awaiting = false;
                check.take(s.on_delivered("Q"));
            }
            break;
        }
    }
    check.take(s.on_idle_timeout());
    if (!s.closed()) fail();
    if (!s.feed("QUIT\r\n").empty() || !s.on_idle_timeout().empty() || !s.on_delivered("x").empty()) fail();
    return 0;
}
