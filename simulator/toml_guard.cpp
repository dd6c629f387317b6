#include "simulator/toml_guard.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MAILSIM_TOML_GUARD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAILSIM_TOML_GUARD_ASAN 1
#endif
#endif

namespace sim {

namespace {

// ---------------------------------------------------------------------------
// precheck

std::string hex_byte(unsigned char b) {
    static constexpr char digits[] = "0123456789ABCDEF";
    return {'0', 'x', digits[b >> 4], digits[b & 0xF]};
}

std::string code_point_name(char32_t c) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string hex;
    for (auto v = static_cast<std::uint32_t>(c); v != 0 || hex.size() < 4; v >>= 4) hex.insert(hex.begin(), digits[v & 0xF]);
    return "U+" + hex;
}

int clamp_to_int(std::size_t v) { return v > INT_MAX ? INT_MAX : static_cast<int>(v); }

struct utf8_char {
    char32_t code_point = 0;
    std::size_t length = 0;  ///< 0 when the bytes at the position are not UTF-8
    const char* problem = nullptr;
};

utf8_char decode_utf8(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {b0, 1, nullptr};
    if (b0 < 0xC0) return {0, 0, "a continuation byte without a lead byte"};
    if (b0 < 0xC2) return {0, 0, "an overlong encoding"};
    if (b0 > 0xF4) return {0, 0, "never used in UTF-8"};

    // The bounds of the second byte are what rules out overlongs, surrogates
    // and code points past U+10FFFF (RFC 3629, section 4).
    std::size_t need = 1;
    char32_t cp = b0 & 0x1F;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xF0) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else if (b0 >= 0xE0) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    }
    for (std::size_t k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return {0, 0, "a sequence cut short by the end of the file"};
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (b < 0x80 || b > 0xBF) return {0, 0, "an incomplete sequence"};
        if (k == 1 && (b < lo || b > hi)) {
            if (b0 == 0xED) return {0, 0, "an encoded surrogate"};
            if (b0 == 0xF4) return {0, 0, "a code point past U+10FFFF"};
            return {0, 0, "an overlong encoding"};
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, need + 1, nullptr};
}

bool is_bare_key_char(char32_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/// One pass over the text that knows just enough TOML to tell code from
/// strings and comments: bracket depth, dotted-key length, and the few
/// constructs on which toml++ 3.3.0 reaches undefined behaviour.
class prescanner {
public:
    prescanner(std::string_view text, const toml_limits& limits)
        : text_(text),
          max_nesting_(static_cast<std::size_t>(std::max(0, limits.max_nesting))),
          max_key_parts_(static_cast<std::size_t>(std::max(0, limits.max_key_parts))) {}

    std::optional<toml_refusal> run() {
        if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // toml++ skips a BOM and does not count it as a column
        while (pos_ < text_.size()) {
            const auto ch = decode_utf8(text_, pos_);
            if (ch.length == 0)
                return refuse_here("invalid UTF-8 byte " + hex_byte(static_cast<unsigned char>(text_[pos_])) + " (" +
                                   ch.problem + ")");
            if (auto r = check_control(ch.code_point)) return r;
            extra_ = 0;
            if (auto r = step(ch.code_point)) return r;
            pos_ += ch.length + extra_;
            if (ch.code_point == '\n') {
                ++line_;
                column_ = 1;
            } else {
                column_ += 1 + extra_;
            }
        }
        if (header_wants_key_) return refuse_here("a table header must start with a key, saw the end of the file");
        return end_run();
    }

private:
    enum class mode { code, comment, basic, literal, ml_basic, ml_literal };
    // After a line-ending backslash in a multi-line basic string: the rest of
    // its line must be blank, then whitespace and line breaks are trimmed.
    enum class trim { none, rest_of_line, following_lines };
    enum class run_state { none, after_part, after_dot };

    toml_refusal refuse_here(std::string message) const {
        return {clamp_to_int(line_), clamp_to_int(column_), std::move(message)};
    }

    std::optional<toml_refusal> check_control(char32_t c) const {
        if (c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7F)) return std::nullopt;
        if (c == '\r') {
            if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') return std::nullopt;
            return refuse_here("control character U+000D is not allowed (a carriage return must be followed by a line feed)");
        }
        return refuse_here("control character " + code_point_name(c) + " is not allowed");
    }

    char peek(std::size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

    std::size_t quote_run(char quote) const {
        std::size_t n = 0;
        while (pos_ + n < text_.size() && text_[pos_ + n] == quote) ++n;
        return n;
    }

    std::optional<toml_refusal> step(char32_t c) {
        switch (mode_) {
            case mode::code: return step_code(c);
            case mode::comment:
                if (c != '\n') return std::nullopt;
                mode_ = mode::code;
                return step_code(c);
            case mode::basic: return step_basic(c);
            case mode::literal:
                if (c == '\'' || c == '\n') mode_ = mode::code;
                return c == '\n' ? step_code(c) : std::nullopt;
            case mode::ml_basic: return step_ml_basic(c);
            case mode::ml_literal:
                if (c == '\'') close_multi_line('\'');
                return std::nullopt;
        }
        return std::nullopt;
    }

    std::optional<toml_refusal> step_code(char32_t c) {
        // Outside strings and comments TOML 1.0 is pure ASCII; toml++ tests such
        // characters with a whitespace table that is undefined behaviour for
        // many of them (is_non_ascii_horizontal_whitespace), so stop here.
        if (c >= 0x80) return refuse_here("non-ASCII character " + code_point_name(c) + " outside a string or comment");
        if (header_wants_key_) {
            if (c == ' ' || c == '\t') return std::nullopt;
            // toml++ asserts on this in its debug builds and reads on blindly in release ones.
            if (!is_bare_key_char(c) && c != '"' && c != '\'')
                return refuse_here("a table header must start with a key, saw " + describe(c));
            header_wants_key_ = false;
        }
        if (is_bare_key_char(c)) {
            line_start_ = false;
            if (in_bare_) return std::nullopt;
            in_bare_ = true;
            return start_part();
        }
        in_bare_ = false;
        switch (c) {
            case ' ':
            case '\t':
            case '\r':  // only ever right before a line feed (check_control)
                return std::nullopt;
            case '\n':
                line_start_ = true;
                in_header_ = false;
                if (open_.empty()) expect_key_ = true;
                return end_run();
            case '.':
                line_start_ = false;
                if (run_ == run_state::after_part) {
                    run_ = run_state::after_dot;
                    return std::nullopt;
                }
                return end_run();
            case '"':
            case '\'': {
                line_start_ = false;
                const bool multi_line = peek(1) == static_cast<char>(c) && peek(2) == static_cast<char>(c);
                if (multi_line) extra_ = 2;
                mode_ = c == '"' ? (multi_line ? mode::ml_basic : mode::basic)
                                 : (multi_line ? mode::ml_literal : mode::literal);
                return start_part();
            }
            case '#':
                mode_ = mode::comment;
                return end_run();
            case '[':
                if (line_start_ && open_.empty()) {
                    line_start_ = false;
                    in_header_ = true;
                    header_wants_key_ = true;
                    expect_key_ = true;
                    if (peek(1) == '[') extra_ = 1;
                    return end_run();
                }
                return open('[');
            case '{': return open('{');
            case ']':
            case '}':
                line_start_ = false;
                expect_key_ = false;
                if (c == ']' && in_header_)
                    in_header_ = false;
                else if (!open_.empty())
                    open_.pop_back();
                return end_run();
            case ',':
                line_start_ = false;
                expect_key_ = !open_.empty() && open_.back() == '{';
                return end_run();
            default:
                line_start_ = false;
                expect_key_ = false;
                return end_run();
        }
    }

    std::optional<toml_refusal> step_basic(char32_t c) {
        if (escape_) {
            escape_ = false;
            if (c >= 0x80) return refuse_invalid_escape(c);
            if (c != '\n') return std::nullopt;
        } else if (c == '\\') {
            escape_ = true;
            return std::nullopt;
        } else if (c == '"') {
            mode_ = mode::code;
            return std::nullopt;
        }
        if (c != '\n') return std::nullopt;
        // An unterminated string: toml++ reports it; keep scanning as code.
        mode_ = mode::code;
        return step_code(c);
    }

    std::optional<toml_refusal> step_ml_basic(char32_t c) {
        const bool blank = c == ' ' || c == '\t' || c == '\r';
        if (trim_ == trim::rest_of_line) {
            if (blank) return std::nullopt;
            if (c != '\n') return refuse_here("a backslash followed by whitespace must end its line");
            trim_ = trim::following_lines;
            return std::nullopt;
        }
        if (trim_ == trim::following_lines) {
            if (blank || c == '\n') return std::nullopt;
            // The first character after the trimmed run reaches the same
            // undefined whitespace test as code does, but refusing non-ASCII
            // here would refuse valid TOML (toml-test string/start-mb.toml); the
            // shipped binary was checked to answer correctly for every code
            // point in the affected ranges, and the pre-flight child shields us
            // if it ever does not.
            trim_ = trim::none;
        }
        if (escape_) {
            escape_ = false;
            if (blank) trim_ = trim::rest_of_line;
            else if (c == '\n') trim_ = trim::following_lines;
            else if (c >= 0x80) return refuse_invalid_escape(c);
            return std::nullopt;
        }
        if (c == '\\') escape_ = true;
        else if (c == '"') close_multi_line('"');
        return std::nullopt;
    }

    toml_refusal refuse_invalid_escape(char32_t c) const {
        return refuse_here("invalid escape sequence: a backslash followed by " + code_point_name(c));
    }

    // Up to two quotes may end the content right before the closing three.
    void close_multi_line(char quote) {
        const auto n = quote_run(quote);
        extra_ = n - 1;
        if (n >= 3) mode_ = mode::code;
    }

    std::optional<toml_refusal> open(char bracket) {
        line_start_ = false;
        expect_key_ = bracket == '{';
        if (auto r = end_run()) return r;
        open_.push_back(bracket);
        if (open_.size() > max_nesting_)
            return refuse_here("arrays and inline tables nest more than " + std::to_string(max_nesting_) +
                               " deep (the limit is " + std::to_string(max_nesting_) + ")");
        return std::nullopt;
    }

    // Dotted runs are limited wherever they occur, not only where a key is
    // expected, in case toml++ reads a key where this scanner saw none; valid
    // values have at most two parts (1.5, 00.999), so those may have two.
    std::optional<toml_refusal> start_part() {
        if (run_ == run_state::after_dot) {
            ++run_parts_;
        } else {
            if (auto r = end_run()) return r;
            run_parts_ = 1;
            run_line_ = line_;
            run_column_ = column_;
            run_in_header_ = in_header_;
            run_is_key_ = expect_key_;
        }
        run_ = run_state::after_part;
        return std::nullopt;
    }

    std::optional<toml_refusal> end_run() {
        const auto parts = run_parts_;
        run_parts_ = 0;
        run_ = run_state::none;
        const auto limit = run_is_key_ ? max_key_parts_ : std::max<std::size_t>(max_key_parts_, 2);
        if (parts <= limit) return std::nullopt;
        return toml_refusal{clamp_to_int(run_line_), clamp_to_int(run_column_),
                            std::string(run_in_header_ ? "table header" : "dotted key") + " nests " +
                                std::to_string(parts) + " keys (the limit is " + std::to_string(limit) + ")"};
    }

    static std::string describe(char32_t c) {
        if (c == '\n' || c == '\r') return "a line break";
        return std::string("'") + static_cast<char>(c) + "'";
    }

    std::string_view text_;
    std::size_t max_nesting_;
    std::size_t max_key_parts_;

    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    std::size_t column_ = 1;
    std::size_t extra_ = 0;  ///< ASCII bytes the current step consumed past its character

    mode mode_ = mode::code;
    bool escape_ = false;
    trim trim_ = trim::none;

    std::vector<char> open_;  ///< never longer than max_nesting_ + 1
    bool line_start_ = true;
    bool in_header_ = false;
    bool header_wants_key_ = false;
    bool expect_key_ = true;  ///< where a valid file has a key (or header) next

    bool in_bare_ = false;
    run_state run_ = run_state::none;
    std::size_t run_parts_ = 0;
    std::size_t run_line_ = 0;
    std::size_t run_column_ = 0;
    bool run_in_header_ = false;
    bool run_is_key_ = false;
};

// ---------------------------------------------------------------------------
// preflight

constexpr rlim_t child_cpu_seconds = 2;
constexpr rlim_t child_address_space_headroom = rlim_t{1} << 30;
// Smaller than the 8 MiB main thread a scenario is normally parsed on, so
// what fits in the child fits in the caller; a document at the default
// precheck limits was measured to need less than 64 KiB.
constexpr std::size_t child_parse_stack = std::size_t{4} << 20;
constexpr std::size_t max_child_message = 2048;

std::atomic<preflight_fault> injected_fault{preflight_fault::parse};
std::atomic<std::int64_t> time_limit_ms{5000};

enum class child_outcome : std::int32_t { parsed, parse_error, out_of_memory, other_error };

struct child_record {
    child_outcome outcome = child_outcome::other_error;
    std::int32_t line = 0;
    std::int32_t column = 0;
    std::uint32_t message_size = 0;
};

struct child_job {
    std::string_view text;
    std::string_view source_name;
    preflight_fault fault = preflight_fault::parse;
    child_record record;
    char message[max_child_message] = {};
};

// Cuts at a character boundary so the parent never sees half a UTF-8 sequence.
void set_message(child_job& job, std::string_view message) {
    auto n = std::min(message.size(), max_child_message);
    while (n > 0 && n < message.size() && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
    std::memcpy(job.message, message.data(), n);
    job.record.message_size = static_cast<std::uint32_t>(n);
}

void run_fault(preflight_fault fault) {
    switch (fault) {
        case preflight_fault::parse: return;
        case preflight_fault::crash: raise(SIGSEGV); return;
        case preflight_fault::hang:
            for (;;) pause();
        case preflight_fault::spin: {
            volatile std::uint64_t n = 0;
            for (;;) n = n + 1;
        }
        case preflight_fault::exit_without_result: _exit(0);
    }
}

void parse_in_child(child_job& job) {
    run_fault(job.fault);
    try {
        auto table = toml::parse(job.text, job.source_name);
        job.record.outcome = child_outcome::parsed;
    } catch (const toml::parse_error& e) {
        job.record.outcome = child_outcome::parse_error;
        job.record.line = static_cast<std::int32_t>(std::min<std::uint64_t>(e.source().begin.line, INT_MAX));
        job.record.column = static_cast<std::int32_t>(std::min<std::uint64_t>(e.source().begin.column, INT_MAX));
        set_message(job, e.description());
    } catch (const std::bad_alloc&) {
        job.record.outcome = child_outcome::out_of_memory;
    } catch (const std::exception& e) {
        job.record.outcome = child_outcome::other_error;
        set_message(job, e.what());
    }
}

void* parse_thread_main(void* arg) {
    parse_in_child(*static_cast<child_job*>(arg));
    return nullptr;
}

#ifndef MAILSIM_TOML_GUARD_ASAN
rlim_t current_address_space() {
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[64] = {};
    const auto n = read(fd, buf, sizeof buf - 1);
    close(fd);
    rlim_t pages = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pages = pages * 10 + static_cast<rlim_t>(buf[i] - '0');
    return pages * static_cast<rlim_t>(sysconf(_SC_PAGESIZE));
}
#endif

void limit_child() {
    // Crashes must reach the parent as signals, not as a sanitizer's or the
    // caller's own handler running in a half-broken process.
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGXCPU, SIGPIPE}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    const rlimit cpu{child_cpu_seconds, child_cpu_seconds + 1};
    setrlimit(RLIMIT_CPU, &cpu);
#ifndef MAILSIM_TOML_GUARD_ASAN
    // Relative to what the process already maps, so a caller with many threads
    // or large buffers is not refused for no reason. AddressSanitizer reserves
    // terabytes of shadow memory, so it would fail at once.
    if (const auto used = current_address_space(); used > 0) {
        const rlimit as{used + child_address_space_headroom, used + child_address_space_headroom};
        setrlimit(RLIMIT_AS, &as);
    }
#endif
}

void write_all(int fd, const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const auto n = write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

[[noreturn]] void run_child(int fd, std::string_view text, std::string_view source_name) {
    limit_child();
    auto job = std::make_unique<child_job>();
    job->text = text;
    job->source_name = source_name;
    job->fault = injected_fault.load();

    // A thread of our own gives toml++ a known stack whatever the caller's
    // RLIMIT_STACK is (the running main thread's stack cannot be shrunk).
    pthread_attr_t attr;
    pthread_t thread;
    bool threaded = pthread_attr_init(&attr) == 0;
    threaded = threaded && pthread_attr_setstacksize(&attr, child_parse_stack) == 0 &&
               pthread_create(&thread, &attr, parse_thread_main, job.get()) == 0;
    if (threaded)
        pthread_join(thread, nullptr);
    else
        parse_in_child(*job);

    write_all(fd, &job->record, sizeof job->record);
    write_all(fd, job->message, job->record.message_size);
    // _exit: no atexit handlers, static destructors, stdio flushes of the
    // parent's buffers or LeakSanitizer report in the copy of the process.
    _exit(0);
}

toml_refusal failure(std::string what) { return {0, 0, "the TOML parser " + std::move(what)}; }

toml_refusal system_failure(const char* call, int error) {
    return {0, 0, std::string("could not check the file in a separate process: ") + call + ": " +
                      std::error_code(error, std::generic_category()).message()};
}

void close_fd(int fd) {
    // Linux releases the descriptor even when close() is interrupted; retrying could close someone else's.
    close(fd);
}

pid_t wait_for(pid_t pid, int& status) {
    for (;;) {
        const auto r = waitpid(pid, &status, 0);
        if (r >= 0 || errno != EINTR) return r;
    }
}

std::optional<toml_refusal> interpret(const std::string& received, bool got_status, int status, bool timed_out) {
    if (timed_out) {
        const auto ms = time_limit_ms.load();
        const auto limit = ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
        return failure("took too long on this file (more than " + limit + ")");
    }
    if (got_status && WIFSIGNALED(status)) {
        if (WTERMSIG(status) == SIGXCPU) return failure("took too long on this file (CPU time limit)");
        return failure("failed on this file (killed by signal " + std::to_string(WTERMSIG(status)) + ")");
    }
    if (got_status && WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return failure("failed on this file (exit status " + std::to_string(WEXITSTATUS(status)) + ")");

    child_record record;
    if (received.size() < sizeof record) return failure("failed on this file (it gave no result)");
    std::memcpy(&record, received.data(), sizeof record);
    if (record.message_size > max_child_message || received.size() - sizeof record < record.message_size)
        return failure("failed on this file (it gave no result)");
    std::string message = received.substr(sizeof record, record.message_size);

    switch (record.outcome) {
        case child_outcome::parsed: return std::nullopt;
        case child_outcome::parse_error: return toml_refusal{record.line, record.column, std::move(message)};
        case child_outcome::out_of_memory: return failure("ran out of memory on this file");
        case child_outcome::other_error: return failure("failed on this file: " + message);
    }
    return failure("failed on this file (it gave no result)");
}

}  // namespace

std::optional<toml_refusal> precheck_toml(std::string_view text, const toml_limits& limits) {
    if (text.size() > limits.max_bytes)
        return toml_refusal{0, 0,
                            "the file is " + std::to_string(text.size()) + " bytes (the limit is " +
                                std::to_string(limits.max_bytes) + ")"};
    return prescanner(text, limits).run();
}

// Assumes the process is single-threaded while scenarios are loaded: the child
// of fork() runs toml++, which allocates, and a lock held by another thread at
// the moment of the fork would never be released in the child.
std::optional<toml_refusal> preflight_parse(std::string_view text, std::string_view source_name) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return system_failure("pipe", errno);

    const pid_t pid = fork();
    if (pid < 0) {
        const int error = errno;
        close_fd(fds[0]);
        close_fd(fds[1]);
        return system_failure("fork", error);
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(fds[1], text, source_name);
    }
    close_fd(fds[1]);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(time_limit_ms.load());
    std::string received;
    bool timed_out = false;
    int read_error = 0;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int ready = poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            read_error = errno;
            break;
        }
        if (ready == 0) continue;  // the deadline is checked at the top
        char buf[4096];
        const auto n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            read_error = errno;
            break;
        }
        if (n == 0) break;  // every copy of the write end is closed: the child is exiting
        if (received.size() < sizeof(child_record) + max_child_message) received.append(buf, static_cast<std::size_t>(n));
    }
    close_fd(fds[0]);
    if (timed_out || read_error != 0) kill(pid, SIGKILL);

    int status = 0;
    // ECHILD (SIGCHLD ignored by the caller) leaves only the record to go on.
    const bool got_status = wait_for(pid, status) == pid;
    if (read_error != 0) return system_failure("reading the result", read_error);
    return interpret(received, got_status, status, timed_out);
}

void set_preflight_fault_for_testing(preflight_fault fault, std::chrono::milliseconds time_limit) {
    injected_fault.store(fault);
    time_limit_ms.store(time_limit.count());
}

guarded_table guarded_parse(std::string_view text, std::string_view source_name, const toml_limits& limits) {
    guarded_table out;
    if ((out.refusal = precheck_toml(text, limits))) return out;
    if ((out.refusal = preflight_parse(text, source_name))) return out;
    try {
        out.table = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        out.refusal = toml_refusal{clamp_to_int(e.source().begin.line), clamp_to_int(e.source().begin.column),
                                   std::string(e.description())};
    }
    return out;
}

}  // namespace sim
