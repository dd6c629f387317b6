#include "simulator/check_tool.hpp"
#include "simulator/files.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "fake_dns/record.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/faults.hpp"
#include "simulator/relocate.hpp"
#include "simulator/scenario_loader.hpp"
#include "simulator/toml_guard.hpp"
#include "support/text.hpp"

extern char** environ;

namespace sim {

namespace fs = std::filesystem;
namespace json = boost::json;
using clk = std::chrono::steady_clock;

namespace {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_runtime = 3;
constexpr std::size_t max_output = 8 << 20;    // tool output read back per stream
constexpr std::size_t max_report = 64 << 10;   // tool output kept in JUnit and JSON
constexpr std::size_t max_line = 8 << 10;      // adapter rules skip longer lines
constexpr auto lab_start_limit = std::chrono::seconds(60);
constexpr auto lab_stop_grace = std::chrono::seconds(10);

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto at = s.find(sep, start);
        out.push_back(trim(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start)));
        if (at == std::string_view::npos) return out;
        start = at + 1;
    }
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

std::string rpad(std::string s, std::size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}

std::string seconds_text(double s) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(s < 10 ? 2 : 1) << s << "s";
    return o.str();
}

std::string read_file(const std::string& path, std::size_t limit, bool* truncated = nullptr) {
    std::ifstream in(path, std::ios::binary);
    std::string out(limit + 1, '\0');
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    out.resize(static_cast<std::size_t>(in.gcount()));
    if (truncated) *truncated = out.size() > limit;
    if (out.size() > limit) out.resize(limit);
    return out;
}

// The last lines of a text, for error messages.
std::string tail(std::string_view text, std::size_t lines = 6) {
    auto t = trim(text);
    std::size_t count = 0, at = t.size();
    while (at > 0) {
        auto nl = t.rfind('\n', at - 1);
        if (++count == lines || nl == std::string::npos) {
            at = nl == std::string::npos ? 0 : nl + 1;
            break;
        }
        at = nl;
    }
    return t.substr(at);
}

std::string finding_text(const finding& f) { return f.kind + " " + (f.target.empty() ? "(no target)" : f.target); }

// Text with invalid UTF-8 (overlongs, surrogates, code points past U+10FFFF)
// replaced by '?', and control characters other than tab, LF and CR too
// unless `keep_controls` (JSON escapes them; XML 1.0 cannot carry them).
std::string clean_text(std::string_view s, bool keep_controls = false) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            bool control = (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
            out += control && !keep_controls ? '?' : static_cast<char>(c);
            ++i;
            continue;
        }
        std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        bool ok = n > 0 && c <= 0xf4 && i + n <= s.size();
        std::uint32_t cp = ok ? (c & (0x7f >> n)) : 0;
        for (std::size_t k = 1; ok && k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        ok = ok && !(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10ffff)) &&
             !(cp >= 0xd800 && cp <= 0xdfff) && cp != 0xfffe && cp != 0xffff;
        if (ok) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

// Text made safe for XML 1.0 character data and attribute values.
std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : clean_text(s)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            case '\n': out += "&#10;"; break;
            case '\r': out += "&#13;"; break;
            case '\t': out += "&#9;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::ifstream in("/dev/urandom", std::ios::binary);
    std::string raw(bytes, '\0');
    in.read(raw.data(), static_cast<std::streamsize>(bytes));
    std::ostringstream o;
    for (unsigned char b : raw) o << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(b);
    return o.str();
}

}  // namespace

// --- findings --------------------------------------------------------------

std::optional<std::vector<finding>> parse_findings(std::string_view text, std::string& error) {
    auto first_line = [&] {
        auto t = trim(text);
        auto line = t.substr(0, std::min(t.find('\n'), std::size_t{80}));
        return clean_text(line);
    };
    if (trim(text).empty()) {
        error = "the tool printed nothing on stdout; expected {\"findings\": [...]}";
        return std::nullopt;
    }
    boost::system::error_code ec;
    auto v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) {
        error = "stdout is not JSON (" + ec.message() + "); expected {\"findings\": [...]}, got `" + first_line() + "`";
        return std::nullopt;
    }
    auto* o = v.if_object();
    auto* list = o ? o->if_contains("findings") : nullptr;
    if (!list || !list->is_array()) {
        error = "stdout is JSON but not {\"findings\": [...]}: got `" + first_line() + "`";
        return std::nullopt;
    }
    std::vector<finding> out;
    std::size_t n = 0;
    for (auto& item : list->get_array()) {
        ++n;
        auto* f = item.if_object();
        auto* kind = f ? f->if_contains("kind") : nullptr;
        auto* target = f ? f->if_contains("target") : nullptr;
        if (!kind || !kind->is_string() || (target && !target->is_string() && !target->is_null())) {
            error = "finding " + std::to_string(n) + " must be {\"kind\": \"...\", \"target\": \"...\"}, got " +
                    clean_text(json::serialize(item).substr(0, 120));
            return std::nullopt;
        }
        out.push_back({std::string(kind->get_string()),
                       target && target->is_string() ? std::string(target->get_string()) : std::string()});
    }
    return out;
}

// --- adapters --------------------------------------------------------------

std::optional<adapter> load_adapter(const std::string& path, diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.error(path, 0, 0, "cannot read the adapter file");
        return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    auto parsed = guarded_parse(text, path);
    if (parsed.refusal) {
        diags.error(path, parsed.refusal->line, parsed.refusal->column, parsed.refusal->message);
        return std::nullopt;
    }
    auto at = [&](const toml::node& n, std::string message) {
        diags.error(path, static_cast<int>(n.source().begin.line), static_cast<int>(n.source().begin.column),
                    std::move(message));
    };
    auto unknown = [&](const toml::key& k, std::span<const std::string_view> known, std::string_view where) {
        auto hint = support::did_you_mean(k.str(), known);
        diags.error(path, static_cast<int>(k.source().begin.line), static_cast<int>(k.source().begin.column),
                    "unknown key `" + std::string(k.str()) + "` in " + std::string(where) +
                        (hint ? " — did you mean `" + *hint + "`?" : ""));
    };
    adapter a;
    static constexpr std::string_view top_keys[] = {"rule", "input"};
    static constexpr std::string_view rule_keys[] = {"regex", "kind", "target", "ignore_case"};
    for (auto&& [key, node] : *parsed.table) {
        if (key.str() == "input") {
            auto v = node.value<std::string>();
            if (!v || (*v != "stdout" && *v != "stderr" && *v != "both")) at(node, "`input` must be \"stdout\", \"stderr\" or \"both\"");
            else a.input = *v;
        } else if (key.str() == "rule") {
            auto* rules = node.as_array();
            if (!rules) {
                at(node, "`rule` must be an array of tables: write each rule as [[rule]]");
                continue;
            }
            for (auto& item : *rules) {
                auto* t = item.as_table();
                if (!t) {
                    at(item, "each rule must be a table with regex, kind and target");
                    continue;
                }
                adapter_rule r;
                r.pos.line = static_cast<int>(item.source().begin.line);
                r.pos.column = static_cast<int>(item.source().begin.column);
                bool ok = true;
                for (auto&& [rk, rv] : *t) {
                    auto name = rk.str();
                    if (name == "ignore_case") {
                        if (auto b = rv.value<bool>()) {
                            r.ignore_case = *b;
                        } else {
                            at(rv, "`ignore_case` must be true or false");
                            ok = false;
                        }
                        continue;
                    }
                    if (name != "regex" && name != "kind" && name != "target") {
                        unknown(rk, rule_keys, "[[rule]]");
                        ok = false;
                        continue;
                    }
                    auto s = rv.value<std::string>();
                    if (!s) {
                        at(rv, "`" + std::string(name) + "` must be a string");
                        ok = false;
                        continue;
                    }
                    (name == "regex" ? r.regex : name == "kind" ? r.kind : r.target) = *s;
                }
                for (auto required : {"regex", "kind"})
                    if (!t->contains(required)) {
                        at(item, std::string("this rule has no `") + required + "`");
                        ok = false;
                    }
                if (ok) {
                    try {
                        std::regex test(r.regex, std::regex::ECMAScript);
                    } catch (const std::regex_error& e) {
                        at(*t->get("regex"), "bad regular expression: " + std::string(e.what()));
                        ok = false;
                    }
                }
                if (ok) a.rules.push_back(std::move(r));
            }
        } else {
            unknown(key, top_keys, "the adapter file");
        }
    }
    if (diags.empty() && a.rules.empty()) diags.error(path, 1, 1, "the adapter has no [[rule]]");
    if (!diags.empty()) return std::nullopt;
    return a;
}

std::vector<finding> apply_adapter(const adapter& a, std::string_view text) {
    std::vector<std::pair<std::regex, const adapter_rule*>> compiled;
    for (auto& r : a.rules) {
        auto flags = std::regex::ECMAScript | (r.ignore_case ? std::regex::icase : std::regex::flag_type{});
        compiled.emplace_back(std::regex(r.regex, flags), &r);
    }
    std::vector<finding> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto nl = text.find('\n', start);
        auto line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() <= max_line) {
            std::string l(line);
            for (auto& [re, rule] : compiled)
                for (auto it = std::sregex_iterator(l.begin(), l.end(), re); it != std::sregex_iterator(); ++it) {
                    finding f{trim(it->format(rule->kind)), trim(it->format(rule->target))};
                    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(std::move(f));
                    if (it->length() == 0) break;  // an empty match would repeat forever
                }
        }
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    return out;
}

// --- placeholders ----------------------------------------------------------

std::optional<std::string> fill_placeholders(std::string_view command, const placeholder_values& v, std::string& error) {
    std::string out;
    std::size_t i = 0;
    while (i < command.size()) {
        auto open = command.find('{', i);
        if (open == std::string_view::npos) break;
        auto close = command.find('}', open + 1);
        if (close == std::string_view::npos) break;
        auto inner = command.substr(open + 1, close - open - 1);
        out.append(command.substr(i, open - i));
        i = close + 1;
        if (auto it = v.plain.find(std::string(inner)); it != v.plain.end()) {
            out += it->second;
            continue;
        }
        auto colon = inner.find(':');
        auto what = inner.substr(0, colon == std::string_view::npos ? 0 : colon);
        if (colon != std::string_view::npos && (what == "smtp" || what == "addr" || what == "fqdn")) {
            auto name = inner.substr(colon + 1);
            auto* h = v.hosts ? v.hosts->find_host(name) : nullptr;
            if (!h) {
                error = "the tool command uses {" + std::string(inner) + "}, but this scenario has no host `" +
                        std::string(name) + "`";
                return std::nullopt;
            }
            auto addr = support::format_ipv4(h->address);
            if (what == "smtp") out += addr + ":" + std::to_string(v.smtp_port);
            else if (what == "addr") out += addr;
            else if (h->fqdn.empty()) {
                error = "the tool command uses {" + std::string(inner) + "}, but host " + h->name + " has no FQDN";
                return std::nullopt;
            } else out += h->fqdn;
            continue;
        }
        // Not a placeholder (a shell `${VAR}`, an awk block...): keep it and look inside.
        out += '{';
        i = open + 1;
    }
    out.append(command.substr(std::min(i, command.size())));
    return out;
}

// --- expectations ----------------------------------------------------------

std::vector<expected_finding_item> expected_findings(const scenario& s) {
    std::vector<expected_finding_item> out;
    if (s.expect) {
        for (auto& e : *s.expect) out.push_back({{e.kind, e.target}, std::nullopt});
        return out;
    }
    for (auto& f : resolve_faults(s.faults, s.lab.seed)) {
        bool from_start = !f.timing.after || f.timing.after->count() == 0;
        out.push_back({{f.kind, fault_target(f)}, f, from_start});
    }
    return out;
}

bool finding_matches(const expected_finding_item& e, const finding& got, const configuration& answer) {
    if (!support::iequals(e.f.kind, trim(got.kind))) return false;
    auto target = trim(got.target);
    auto same_name = [&](std::string_view a, std::string_view b) {
        if (support::iequals(fake_dns::canonical_name(a), fake_dns::canonical_name(b))) return true;
        auto* ha = answer.find_host(fake_dns::canonical_name(a));
        return ha && ha == answer.find_host(fake_dns::canonical_name(b));
    };
    if (same_name(e.f.target, target)) return true;
    // A list target (net.link_down's two routers, a loop's hosts) may be named
    // by any entry, or whole in any order.
    auto wanted = e.source ? std::vector<std::string>{} : split(e.f.target, ',');
    if (e.source) {
        auto* k = find_fault_kind(e.source->kind);
        if (k && !k->params.empty()) wanted = e.source->list(k->params.front().name);
    }
    auto in_wanted = [&](std::string_view part) {
        return std::any_of(wanted.begin(), wanted.end(), [&](auto& w) { return same_name(w, part); });
    };
    if (wanted.size() > 1 && in_wanted(target)) return true;
    if (target.find(',') != std::string::npos) {
        auto parts = split(target, ',');
        return wanted.size() > 1 && std::all_of(parts.begin(), parts.end(), in_wanted);
    }
    return false;
}

comparison compare_findings(const std::vector<expected_finding_item>& expected, const std::vector<finding>& reported,
                            const configuration& answer) {
    comparison c;
    std::vector<bool> matched(expected.size(), false);
    std::vector<finding> seen_extra;
    for (auto& got : reported) {
        bool hit = false, repeat = false;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            if (!finding_matches(expected[i], got, answer)) continue;
            if (matched[i]) {
                repeat = true;  // said twice: counts once
                continue;
            }
            matched[i] = true;
            hit = true;
            (expected[i].required ? c.found : c.late).push_back(got);
            break;
        }
        if (hit || repeat) continue;
        finding norm{trim(got.kind), trim(got.target)};
        bool dup = std::any_of(seen_extra.begin(), seen_extra.end(), [&](const finding& x) {
            return support::iequals(x.kind, norm.kind) && support::iequals(fake_dns::canonical_name(x.target),
                                                                            fake_dns::canonical_name(norm.target));
        });
        if (!dup) {
            seen_extra.push_back(norm);
            c.extra.push_back(got);
        }
    }
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (!matched[i] && expected[i].required) c.missed.push_back(expected[i].f);
    return c;
}

// --- the harness -----------------------------------------------------------

namespace {

std::atomic<int> interrupted{0};

extern "C" void on_interrupt(int sig) { interrupted = sig; }

struct scenario_result {
    std::string path, id;
    std::string status = "error";  // pass | fail | error
    std::string error;
    std::vector<finding> expected;
    bool expect_written = false;
    comparison cmp;
    double seconds = 0, tool_seconds = 0;
    std::string prefix;
    std::optional<int> tool_exit;
    bool timed_out = false;
    std::string tool_stdout, tool_stderr;
};

struct work_item {
    std::string path;
    std::optional<scenario> s;
    std::string load_error;
};

// One scenario on its way through lab start, tool run and lab stop.
struct job {
    std::size_t index = 0;
    enum class phase { lab_starting, tool_running, lab_stopping } at = phase::lab_starting;
    pid_t lab = -1, tool = -1;
    int slot = -1;
    int attempts = 0;
    clk::time_point began, phase_began;
    std::string dir, ready_file, lab_err, tool_out, tool_err;
    bool lab_exited = false, kill_sent = false;
    int lab_status = 0;
    std::string error;
    std::optional<std::vector<finding>> reported;
};

struct child_spec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // added to this process's environment
    std::string out_file, err_file;
    bool own_group = false;
    int death_signal = SIGTERM;
};

// fork + exec with stdin from /dev/null and stdout/stderr into files. The
// child dies with `death_signal` if the harness goes away.
pid_t spawn(const child_spec& c, std::string& error) {
    std::vector<std::string> env_store;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        auto name = kv.substr(0, kv.find('='));
        bool replaced = std::any_of(c.env.begin(), c.env.end(), [&](const std::string& x) {
            return std::string_view(x).substr(0, x.find('=')) == name;
        });
        if (!replaced) env_store.emplace_back(kv);
    }
    env_store.insert(env_store.end(), c.env.begin(), c.env.end());
    std::vector<char*> argv, envp;
    for (auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env_store) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = ::open(c.out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = ::open(c.err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0 || err < 0) {
        error = std::string("cannot open the output files: ") + std::strerror(errno);
        for (int fd : {in, out, err})
            if (fd >= 0) ::close(fd);
        return -1;
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
        if (c.own_group) ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, c.death_signal);
        if (::getppid() != parent) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execve(argv[0], argv.data(), envp.data());
        static const char msg[] = "mailsim check-tool: exec failed\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    int saved = errno;
    ::close(in);
    ::close(out);
    ::close(err);
    if (pid < 0) {
        error = std::string("fork failed: ") + std::strerror(saved);
        return -1;
    }
    if (c.own_group) ::setpgid(pid, pid);  // also here: no race with the first kill
    return pid;
}

// The child's status once it has ended.
std::optional<int> reap(pid_t pid) {
    int status = 0;
    auto r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno == ECHILD) return 0;
    return std::nullopt;
}

int reap_blocking(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
    return "ended";
}

std::vector<std::string> scenario_paths(const std::vector<std::string>& args, std::ostream& err) {
    std::vector<std::string> out;
    for (auto& p : args) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
                 it.increment(ec))
                if (std::error_code fe; it->is_regular_file(fe) && it->path().extension() == ".toml" &&
                                        !is_fragment_path(it->path().string()))
                    found.push_back(it->path().string());
            std::sort(found.begin(), found.end());
            out.insert(out.end(), found.begin(), found.end());
        } else if (is_fragment_path(p)) {
            err << "mailsim check-tool: skipping " << p << ": a fragment (meant to be included), not a scenario\n";
        } else {
            out.push_back(p);
        }
    }
    return out;
}

class harness {
public:
    harness(const check_tool_options& o, std::optional<adapter> a, std::chrono::milliseconds timeout, std::string exe,
            std::string workdir)
        : o_(o), adapter_(std::move(a)), timeout_(timeout), exe_(std::move(exe)), workdir_(std::move(workdir)),
          slots_(static_cast<std::size_t>(o.prefix_count), 0) {}

    // Runs every item; false when interrupted.
    bool run(std::vector<work_item>& items, std::vector<scenario_result>& results) {
        items_ = &items;
        results_ = &results;
        results.resize(items.size());
        std::size_t next = 0, done = 0;
        auto jobs = static_cast<std::size_t>(std::max(1, std::min(o_.jobs, o_.prefix_count)));
        bool progress = ::isatty(2);
        while (done < items.size()) {
            if (interrupted) {
                for (auto& j : active_) abort(j, "interrupted");
                for (; next < items.size(); ++next) {
                    auto& r = init_result(next);
                    r.error = "interrupted before it started";
                    finish(r);
                }
                return false;
            }
            while (active_.size() < jobs && next < items.size()) {
                auto& r = init_result(next);
                auto& item = items[next];
                if (!item.s) {
                    r.error = item.load_error;
                    finish(r);
                    ++done;
                    ++next;
                    continue;
                }
                job j;
                j.index = next++;
                j.began = clk::now();
                j.dir = workdir_ + "/" + std::to_string(j.index);
                fs::create_directories(j.dir);
                j.ready_file = j.dir + "/ready.json";
                j.lab_err = j.dir + "/lab.stderr";
                j.tool_out = j.dir + "/tool.stdout";
                j.tool_err = j.dir + "/tool.stderr";
                start_lab(j);
                active_.push_back(std::move(j));
            }
            for (auto it = active_.begin(); it != active_.end();) {
                if (step(*it)) {
                    auto& r = (*results_)[it->index];
                    ++done;
                    if (progress)
                        std::cerr << "[" << done << "/" << items.size() << "] " << r.id << " " << r.status << " "
                                  << seconds_text(r.seconds) << "\n";
                    it = active_.erase(it);
                } else {
                    ++it;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
        }
        return true;
    }

private:
    scenario_result& init_result(std::size_t index) {
        auto& r = (*results_)[index];
        auto& item = (*items_)[index];
        r.path = item.path;
        r.id = item.s ? item.s->meta.id : fs::path(item.path).stem().string();
        if (item.s) {
            for (auto& e : expected_findings(*item.s))
                if (e.required) r.expected.push_back(e.f);
            r.expect_written = item.s->expect.has_value();
        }
        return r;
    }

    int acquire_slot() {
        for (std::size_t k = 0; k < slots_.size(); ++k) {
            auto i = (cursor_ + k) % slots_.size();
            if (slots_[i] == 0) {
                slots_[i] = 1;
                cursor_ = i + 1;
                return static_cast<int>(i);
            }
        }
        return -1;
    }
    void release_slot(int slot, bool busy = false) {
        if (slot >= 0) slots_[static_cast<std::size_t>(slot)] = busy ? 2 : 0;  // 2: someone else holds it
    }
    int octet(int slot) const { return o_.prefix_base + slot; }

    void start_lab(job& j) {
        j.at = job::phase::lab_starting;
        j.phase_began = clk::now();
        j.lab = -1;
        j.lab_exited = false;
        j.slot = acquire_slot();
        if (j.slot < 0) {
            j.error = "no free lab prefix left in 127." + std::to_string(o_.prefix_base) + " .. 127." +
                      std::to_string(o_.prefix_base + o_.prefix_count - 1) + " (others are in use)";
            return;
        }
        ++j.attempts;
        std::error_code ec;
        fs::remove(j.ready_file, ec);
        child_spec c;
        c.argv = {exe_,       "run",         (*items_)[j.index].path, "--prefix", "127." + std::to_string(octet(j.slot)),
                  "--api",    "127.0.0.1:0", "--token",               random_hex(16), "--ready-file", j.ready_file,
                  "--ports",  o_.ports,      "--log-level",           "warn"};
        c.out_file = "/dev/null";
        c.err_file = j.lab_err;
        c.own_group = true;  // Ctrl-C reaches the harness, which stops labs in order
        c.death_signal = SIGTERM;
        std::string error;
        j.lab = spawn(c, error);
        if (j.lab < 0) j.error = "cannot start the lab: " + error;
    }

    // Advances one job; true when it is finished.
    bool step(job& j) {
        auto now = clk::now();
        if (j.at == job::phase::lab_starting) {
            if (!j.error.empty()) return stop_lab(j), false;
            if (auto st = reap(j.lab)) {
                j.lab_exited = true;
                j.lab_status = *st;
                auto err = read_file(j.lab_err, 64 << 10);
                bool busy = WIFEXITED(*st) && WEXITSTATUS(*st) == 3 && err.find("cannot bind") != std::string::npos;
                if (busy && j.attempts < 5) {
                    release_slot(j.slot, true);
                    start_lab(j);
                    return false;
                }
                j.error = "the lab " + describe_status(*st) + " before it was ready: " + tail(err);
                return stop_lab(j), false;
            }
            std::error_code ec;
            if (fs::exists(j.ready_file, ec)) return start_tool(j), false;
            if (now - j.phase_began > lab_start_limit) {
                j.error = "the lab was not ready within " + std::to_string(lab_start_limit.count()) + "s";
                return stop_lab(j), false;
            }
            return false;
        }
        if (j.at == job::phase::tool_running) {
            auto& r = (*results_)[j.index];
            if (auto st = reap(j.tool)) {
                r.tool_seconds = std::chrono::duration<double>(now - j.phase_began).count();
                ::kill(-j.tool, SIGKILL);  // whatever the tool left running in its group
                j.tool = -1;
                collect(j, *st);
                return stop_lab(j), false;
            }
            if (!j.lab_exited)
                if (auto st = reap(j.lab)) {
                    j.lab_exited = true;
                    j.lab_status = *st;
                    j.error = "the lab " + describe_status(*st) + " while the tool ran: " +
                              tail(read_file(j.lab_err, 64 << 10));
                }
            if (now - j.phase_began > timeout_) {
                ::kill(-j.tool, SIGKILL);
                ::kill(j.tool, SIGKILL);
                reap_blocking(j.tool);
                j.tool = -1;
                r.timed_out = true;
                r.tool_seconds = std::chrono::duration<double>(now - j.phase_began).count();
                r.tool_stdout = read_file(j.tool_out, max_report);
                r.tool_stderr = read_file(j.tool_err, max_report);
                j.error = "the tool timed out after " + support::format_duration(timeout_) +
                          "; its process group was killed";
                return stop_lab(j), false;
            }
            return false;
        }
        // Stopping the lab: SIGTERM was sent; SIGKILL after the grace time.
        if (!j.lab_exited) {
            if (auto st = reap(j.lab)) {
                j.lab_exited = true;
                j.lab_status = *st;
            } else if (now - j.phase_began > lab_stop_grace && !j.kill_sent) {
                ::kill(-j.lab, SIGKILL);
                ::kill(j.lab, SIGKILL);
                j.kill_sent = true;
                j.lab_status = reap_blocking(j.lab);
                j.lab_exited = true;
            } else {
                return false;
            }
        }
        finish_job(j);
        return true;
    }

    void start_tool(job& j) {
        auto& r = (*results_)[j.index];
        auto& item = (*items_)[j.index];
        std::error_code ec;
        boost::system::error_code jec;
        auto ready = json::parse(read_file(j.ready_file, 1 << 20), jec);
        auto* o = ready.if_object();
        if (jec || !o) {
            j.error = "the lab's ready file is not JSON";
            return stop_lab(j);
        }
        auto str = [&](std::string_view key) {
            auto* v = o->if_contains(key);
            return v && v->is_string() ? std::string(v->get_string()) : std::string();
        };
        auto num = [&](std::string_view group, std::string_view key) -> std::int64_t {
            auto* g = o->if_contains(group);
            auto* v = g && g->is_object() ? g->get_object().if_contains(key) : nullptr;
            return v && v->is_int64() ? v->get_int64() : 0;
        };
        // Placeholders come from the design (the answer configuration, moved to
        // this lab's prefix), never from the faulty live configuration.
        relocated_ = *item.s;
        relocate(relocated_, octet(j.slot));
        auto& answer = relocated_.answer;
        r.prefix = relocated_.lab.prefix;
        auto vantage_name = str("vantage");
        auto* vantage = answer.find_host(vantage_name);
        int dns_port = static_cast<int>(num("ports", "dns"));
        int smtp_port = static_cast<int>(num("ports", "smtp"));
        std::string dns_addr;
        if (vantage && !vantage->dns_servers.empty()) dns_addr = support::format_ipv4(vantage->dns_servers.front());
        for (auto& h : answer.hosts)
            if (dns_addr.empty() && h.has_role(role::dns)) dns_addr = support::format_ipv4(h.address);
        placeholder_values v;
        v.hosts = &answer;
        v.smtp_port = smtp_port;
        v.plain = {{"dns", dns_addr.empty() ? "" : dns_addr + ":" + std::to_string(dns_port)},
                   {"dns_addr", dns_addr},
                   {"dns_port", std::to_string(dns_port)},
                   {"smtp_port", std::to_string(smtp_port)},
                   {"api", str("api")},
                   {"token", str("token")},
                   {"scenario", item.path},
                   {"id", relocated_.meta.id},
                   {"prefix", relocated_.lab.prefix},
                   {"vantage", vantage ? vantage->name : vantage_name},
                   {"vantage_addr", vantage ? support::format_ipv4(vantage->address) : "127.0.0.1"}};
        std::string error;
        auto command = fill_placeholders(o_.tool, v, error);
        if (!command) {
            j.error = error;
            return stop_lab(j);
        }
        child_spec c;
        c.argv = {"/bin/sh", "-c", *command};
        for (auto& [key, value] : v.plain) {
            std::string name = "MAILSIM_" + key;
            for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            c.env.push_back(name + "=" + value);
        }
        c.out_file = j.tool_out;
        c.err_file = j.tool_err;
        c.own_group = true;
        c.death_signal = SIGKILL;
        j.at = job::phase::tool_running;
        j.phase_began = clk::now();
        j.tool = spawn(c, error);
        if (j.tool < 0) {
            j.error = "cannot run the tool: " + error;
            stop_lab(j);
        }
    }

    // Reads what the tool said once it has ended.
    void collect(job& j, int status) {
        auto& r = (*results_)[j.index];
        if (WIFEXITED(status)) r.tool_exit = WEXITSTATUS(status);
        bool out_cut = false, err_cut = false;
        auto out = read_file(j.tool_out, max_output, &out_cut);
        auto err = read_file(j.tool_err, max_output, &err_cut);
        r.tool_stdout = out.substr(0, max_report);
        r.tool_stderr = err.substr(0, max_report);
        if (WIFSIGNALED(status)) {
            j.error = "the tool " + describe_status(status) + (err.empty() ? "" : ": " + tail(err));
            return;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && trim(out).empty()) {
            j.error = "the tool could not be run (exit 127): " + tail(err);
            return;
        }
        if (adapter_) {
            std::string text = adapter_->input == "stderr" ? err : adapter_->input == "both" ? out + "\n" + err : out;
            j.reported = apply_adapter(*adapter_, text);
            return;
        }
        if (out_cut) {
            j.error = "the tool printed more than " + std::to_string(max_output >> 20) + " MB on stdout";
            return;
        }
        std::string error;
        j.reported = parse_findings(out, error);
        if (!j.reported)
            j.error = error + (r.tool_exit && *r.tool_exit != 0 ? " (the tool exited with code " +
                                                                      std::to_string(*r.tool_exit) + ")"
                                                                : std::string()) +
                      (trim(err).empty() ? "" : "; its stderr ends: " + tail(err, 3));
    }

    void stop_lab(job& j) {
        j.at = job::phase::lab_stopping;
        j.phase_began = clk::now();
        if (j.lab <= 0) j.lab_exited = true;  // never started: nothing to stop
        if (!j.lab_exited) ::kill(j.lab, SIGTERM);
    }

    void abort(job& j, const std::string& why) {
        if (j.tool > 0) {
            ::kill(-j.tool, SIGKILL);
            ::kill(j.tool, SIGKILL);
            reap_blocking(j.tool);
            j.tool = -1;
        }
        if (j.lab > 0 && !j.lab_exited) {
            ::kill(j.lab, SIGTERM);
            auto until = clk::now() + lab_stop_grace;
            while (!j.lab_exited && clk::now() < until) {
                if (auto st = reap(j.lab)) j.lab_exited = true, j.lab_status = *st;
                else std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (!j.lab_exited) {
                ::kill(-j.lab, SIGKILL);
                ::kill(j.lab, SIGKILL);
                reap_blocking(j.lab);
                j.lab_exited = true;
            }
        }
        if (j.error.empty()) j.error = why;
        finish_job(j);
    }

    void finish_job(job& j) {
        auto& r = (*results_)[j.index];
        r.error = j.error;
        r.seconds = std::chrono::duration<double>(clk::now() - j.began).count();
        // A lab that stops badly is mailsim's problem, not the tool's: a warning.
        if (j.kill_sent)
            std::cerr << "mailsim check-tool: warning: the lab of " << r.id << " did not stop on SIGTERM within "
                      << lab_stop_grace.count() << "s and was killed\n";
        else if (j.lab > 0 && j.error.empty() && !(WIFEXITED(j.lab_status) && WEXITSTATUS(j.lab_status) == 0))
            std::cerr << "mailsim check-tool: warning: the lab of " << r.id << " " << describe_status(j.lab_status)
                      << " when stopped: " << tail(read_file(j.lab_err, 64 << 10), 3) << "\n";
        if (r.error.empty() && j.reported) {
            auto& item = (*items_)[j.index];
            r.cmp = compare_findings(expected_findings(*item.s), *j.reported, item.s->answer);
        }
        release_slot(j.slot);
        if (!o_.keep && r.error.empty()) {
            std::error_code ec;
            fs::remove_all(j.dir, ec);
        }
        finish(r);
    }

    void finish(scenario_result& r) {
        if (!r.error.empty()) {
            r.status = "error";
            r.cmp = {};
            r.cmp.missed = r.expected;  // nothing was found
        } else {
            r.status = r.cmp.passed() ? "pass" : "fail";
        }
    }

    const check_tool_options& o_;
    std::optional<adapter> adapter_;
    std::chrono::milliseconds timeout_;
    std::string exe_, workdir_;
    std::vector<int> slots_;  // 0 free, 1 ours, 2 held by another process
    std::size_t cursor_ = 0;
    std::vector<job> active_;
    std::vector<work_item>* items_ = nullptr;
    std::vector<scenario_result>* results_ = nullptr;
    scenario relocated_;
};

// --- reports ---------------------------------------------------------------

struct kind_stats {
    std::size_t expected = 0, found = 0, missed = 0, extra = 0;
};

std::vector<std::pair<std::string, kind_stats>> per_kind(const std::vector<scenario_result>& results) {
    std::map<std::string, kind_stats> m;
    for (auto& r : results) {
        for (auto& f : r.expected) ++m[support::to_lower(f.kind)].expected;
        for (auto& f : r.cmp.found) ++m[support::to_lower(trim(f.kind))].found;
        for (auto& f : r.cmp.missed) ++m[support::to_lower(f.kind)].missed;
        for (auto& f : r.cmp.extra) ++m[support::to_lower(trim(f.kind))].extra;
    }
    std::vector<std::pair<std::string, kind_stats>> out;
    for (auto& k : catalogue())
        if (auto it = m.find(std::string(k.kind)); it != m.end()) {
            out.emplace_back(it->first, it->second);
            m.erase(it);
        }
    for (auto& [k, s] : m) out.emplace_back(k, s);  // kinds outside the catalogue (false alarms)
    return out;
}

std::optional<double> precision(const kind_stats& s) {
    if (s.found + s.extra == 0) return std::nullopt;
    return static_cast<double>(s.found) / static_cast<double>(s.found + s.extra);
}
std::optional<double> recall(const kind_stats& s) {
    if (s.expected == 0) return std::nullopt;
    return static_cast<double>(s.found) / static_cast<double>(s.expected);
}
std::string ratio_text(std::optional<double> v) {
    if (!v) return "-";
    std::ostringstream o;
    o << std::fixed << std::setprecision(0) << *v * 100 << "%";
    return o.str();
}

void print_report(const std::vector<scenario_result>& results, double total_seconds, int jobs, std::ostream& out) {
    std::size_t width = 10;
    for (auto& r : results) width = std::max(width, r.id.size() + 2);
    out << pad("SCENARIO", width) << pad("RESULT", 8) << rpad("EXPECTED", 8) << rpad("FOUND", 7) << rpad("MISSED", 8)
        << rpad("EXTRA", 7) << rpad("TIME", 9) << "\n";
    for (auto& r : results) {
        std::string result = r.status == "pass" ? "pass" : r.status == "fail" ? "FAIL" : "ERROR";
        out << pad(r.id, width) << pad(result, 8) << rpad(std::to_string(r.expected.size()), 8)
            << rpad(std::to_string(r.cmp.found.size()), 7) << rpad(std::to_string(r.cmp.missed.size()), 8)
            << rpad(std::to_string(r.cmp.extra.size()), 7) << rpad(seconds_text(r.seconds), 9) << "\n";
        if (!r.error.empty()) out << "    error:  " << r.error << "\n";
        for (auto& f : r.cmp.missed) out << "    missed: " << finding_text(f) << "\n";
        for (auto& f : r.cmp.extra) out << "    extra:  " << finding_text(f) << "\n";
        for (auto& f : r.cmp.late) out << "    late:   " << finding_text(f) << " (a fault that starts later; not required)\n";
    }
    auto kinds = per_kind(results);
    if (!kinds.empty()) {
        out << "\n" << pad("KIND", 28) << rpad("EXPECTED", 8) << rpad("FOUND", 7) << rpad("MISSED", 8) << rpad("EXTRA", 7)
            << rpad("PRECISION", 11) << rpad("RECALL", 8) << "\n";
        kind_stats all;
        for (auto& [k, s] : kinds) {
            out << pad(k, 28) << rpad(std::to_string(s.expected), 8) << rpad(std::to_string(s.found), 7)
                << rpad(std::to_string(s.missed), 8) << rpad(std::to_string(s.extra), 7)
                << rpad(ratio_text(precision(s)), 11) << rpad(ratio_text(recall(s)), 8) << "\n";
            all.expected += s.expected;
            all.found += s.found;
            all.missed += s.missed;
            all.extra += s.extra;
        }
        out << pad("all kinds", 28) << rpad(std::to_string(all.expected), 8) << rpad(std::to_string(all.found), 7)
            << rpad(std::to_string(all.missed), 8) << rpad(std::to_string(all.extra), 7)
            << rpad(ratio_text(precision(all)), 11) << rpad(ratio_text(recall(all)), 8) << "\n";
    }
    std::size_t pass = 0, fail = 0, error = 0;
    for (auto& r : results) (r.status == "pass" ? pass : r.status == "fail" ? fail : error)++;
    out << "\n" << pass << " of " << results.size() << " scenario(s) passed";
    if (fail || error) out << " (" << fail << " failed, " << error << " error" << (error == 1 ? "" : "s") << ")";
    out << " in " << seconds_text(total_seconds) << " with " << jobs << (jobs == 1 ? " job" : " jobs") << "\n";
}

json::array findings_json(const std::vector<finding>& v) {
    json::array a;
    for (auto& f : v) a.push_back({{"kind", clean_text(f.kind)}, {"target", clean_text(f.target)}});
    return a;
}

std::string report_json(const check_tool_options& o, const std::vector<scenario_result>& results, double total) {
    json::array scenarios;
    std::size_t pass = 0, fail = 0, error = 0;
    for (auto& r : results) {
        (r.status == "pass" ? pass : r.status == "fail" ? fail : error)++;
        json::object s{{"id", r.id},
                       {"path", r.path},
                       {"result", r.status},
                       {"passed", r.status == "pass"},
                       {"error", r.error.empty() ? json::value(nullptr) : json::value(clean_text(r.error))},
                       {"expect_source", r.expect_written ? "expect" : "faults"},
                       {"expected", findings_json(r.expected)},
                       {"found", findings_json(r.cmp.found)},
                       {"missed", findings_json(r.cmp.missed)},
                       {"extra", findings_json(r.cmp.extra)},
                       {"late", findings_json(r.cmp.late)},
                       {"seconds", r.seconds},
                       {"tool_seconds", r.tool_seconds},
                       {"timed_out", r.timed_out},
                       {"tool_exit", r.tool_exit ? json::value(*r.tool_exit) : json::value(nullptr)},
                       {"prefix", r.prefix},
                       {"stdout", clean_text(r.tool_stdout, true)},
                       {"stderr", clean_text(r.tool_stderr, true)}};
        scenarios.push_back(std::move(s));
    }
    json::array kinds;
    for (auto& [k, s] : per_kind(results)) {
        auto p = precision(s), rc = recall(s);
        kinds.push_back({{"kind", k},
                         {"expected", s.expected},
                         {"found", s.found},
                         {"missed", s.missed},
                         {"extra", s.extra},
                         {"precision", p ? json::value(*p) : json::value(nullptr)},
                         {"recall", rc ? json::value(*rc) : json::value(nullptr)}});
    }
    json::object doc{{"tool", o.tool},
                     {"adapter", o.adapter_file.empty() ? json::value(nullptr) : json::value(o.adapter_file)},
                     {"passed", fail == 0 && error == 0},
                     {"summary",
                      {{"scenarios", results.size()}, {"passed", pass}, {"failed", fail}, {"errors", error}, {"seconds", total}, {"jobs", o.jobs}}},
                     {"scenarios", std::move(scenarios)},
                     {"kinds", std::move(kinds)}};
    return json::serialize(doc);
}

std::string report_junit(const check_tool_options& o, const std::vector<scenario_result>& results, double total) {
    std::size_t fail = 0, error = 0;
    for (auto& r : results) {
        if (r.status == "fail") ++fail;
        if (r.status == "error") ++error;
    }
    char stamp[32] = {};
    auto t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::ostringstream x;
    auto secs = [](double s) {
        std::ostringstream o2;
        o2 << std::fixed << std::setprecision(3) << s;
        return o2.str();
    };
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    x << "<testsuites name=\"mailsim check-tool\" tests=\"" << results.size() << "\" failures=\"" << fail
      << "\" errors=\"" << error << "\" time=\"" << secs(total) << "\">\n";
    x << "  <testsuite name=\"mailsim check-tool\" tests=\"" << results.size() << "\" failures=\"" << fail
      << "\" errors=\"" << error << "\" skipped=\"0\" time=\"" << secs(total) << "\" timestamp=\"" << stamp << "\">\n";
    x << "    <properties>\n      <property name=\"tool\" value=\"" << xml_escape(o.tool) << "\"/>\n";
    if (!o.adapter_file.empty()) x << "      <property name=\"adapter\" value=\"" << xml_escape(o.adapter_file) << "\"/>\n";
    x << "    </properties>\n";
    for (auto& r : results) {
        x << "    <testcase name=\"" << xml_escape(r.id) << "\" classname=\"mailsim.scenarios\" file=\""
          << xml_escape(r.path) << "\" time=\"" << secs(r.seconds) << "\"";
        if (r.status == "pass" && r.tool_stdout.empty() && r.tool_stderr.empty()) {
            x << "/>\n";
            continue;
        }
        x << ">\n";
        std::string detail;
        for (auto& f : r.cmp.missed) detail += "missed: " + finding_text(f) + "\n";
        for (auto& f : r.cmp.extra) detail += "extra: " + finding_text(f) + "\n";
        for (auto& f : r.cmp.found) detail += "found: " + finding_text(f) + "\n";
        if (r.status == "fail") {
            std::string message = "missed " + std::to_string(r.cmp.missed.size()) + ", extra " +
                                  std::to_string(r.cmp.extra.size());
            for (auto& f : r.cmp.missed) message += "; missed " + finding_text(f);
            for (auto& f : r.cmp.extra) message += "; extra " + finding_text(f);
            x << "      <failure type=\"findings\" message=\"" << xml_escape(message) << "\">" << xml_escape(detail)
              << "</failure>\n";
        } else if (r.status == "error") {
            x << "      <error type=\"" << (r.timed_out ? "timeout" : "harness") << "\" message=\"" << xml_escape(r.error)
              << "\">" << xml_escape(r.error + "\n" + detail) << "</error>\n";
        }
        if (!r.tool_stdout.empty()) x << "      <system-out>" << xml_escape(r.tool_stdout) << "</system-out>\n";
        if (!r.tool_stderr.empty()) x << "      <system-err>" << xml_escape(r.tool_stderr) << "</system-err>\n";
        x << "    </testcase>\n";
    }
    x << "  </testsuite>\n</testsuites>\n";
    return x.str();
}

bool write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

std::string self_exe() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : p.string();
}

}  // namespace

int check_tool_main(const check_tool_options& options) {
    auto o = options;
    if (o.prefix_base >= 1 && o.prefix_base <= 255) o.prefix_count = std::min(o.prefix_count, 256 - o.prefix_base);
    if (trim(o.tool).empty()) {
        std::cerr << "mailsim check-tool: --tool must name a command\n";
        return exit_usage;
    }
    auto timeout = support::parse_duration(o.timeout);
    if (!timeout || timeout->count() <= 0) {
        std::cerr << "mailsim check-tool: --timeout must be a duration such as 30s or 2m, not `" << o.timeout << "`\n";
        return exit_usage;
    }
    if (o.jobs < 1 || o.prefix_base < 1 || o.prefix_count < 1 || o.prefix_base + o.prefix_count - 1 > 255) {
        std::cerr << "mailsim check-tool: --jobs must be at least 1 and the prefixes 127.N must lie in 127.1 .. 127.255\n";
        return exit_usage;
    }
    std::optional<adapter> ad;
    if (!o.adapter_file.empty()) {
        diagnostics d;
        ad = load_adapter(o.adapter_file, d);
        if (!ad) {
            for (auto& e : d.sorted()) std::cerr << e.to_string() << "\n";
            return exit_usage;
        }
    }
    auto exe = o.mailsim.empty() ? self_exe() : o.mailsim;
    if (exe.empty() || ::access(exe.c_str(), X_OK) != 0) {
        std::cerr << "mailsim check-tool: cannot find the mailsim executable to start labs (`" << exe << "`)\n";
        return exit_runtime;
    }
    auto paths = scenario_paths(o.paths.empty() ? std::vector<std::string>{"scenarios"} : o.paths, std::cerr);
    if (paths.empty()) {
        std::cerr << "mailsim check-tool: no scenario files found\n";
        return exit_usage;
    }
    std::vector<work_item> items;
    for (auto& p : paths) {
        work_item w;
        w.path = p;
        diagnostics d;
        w.s = load_scenario(p, d);
        if (!w.s) {
            for (auto& e : d.sorted()) w.load_error += (w.load_error.empty() ? "" : "; ") + e.to_string();
            if (w.load_error.empty()) w.load_error = "cannot load the scenario";
            w.load_error = "invalid scenario: " + w.load_error;
        }
        items.push_back(std::move(w));
    }

    std::string why;
    auto workdir = make_work_directory("mailsim-check", why);
    if (workdir.empty()) {
        std::cerr << "mailsim check-tool: cannot create a work directory: " << why << "\n";
        return exit_runtime;
    }

    struct sigaction sa {}, old_int{}, old_term{};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;

    auto started = clk::now();
    std::vector<scenario_result> results;
    harness h(o, std::move(ad), *timeout, exe, workdir);
    bool completed = h.run(items, results);
    double total = std::chrono::duration<double>(clk::now() - started).count();

    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    if (o.keep) std::cerr << "mailsim check-tool: lab logs and tool output kept in " << workdir << "\n";
    else {
        std::error_code ec;
        fs::remove_all(workdir, ec);
    }

    print_report(results, total, std::min(o.jobs, o.prefix_count), std::cout);
    std::cout << std::flush;
    int code = exit_ok;
    if (!o.json_file.empty() && !write_text(o.json_file, report_json(o, results, total) + "\n")) {
        std::cerr << "mailsim check-tool: cannot write " << o.json_file << "\n";
        code = exit_runtime;
    }
    if (!o.junit_file.empty() && !write_text(o.junit_file, report_junit(o, results, total))) {
        std::cerr << "mailsim check-tool: cannot write " << o.junit_file << "\n";
        code = exit_runtime;
    }
    if (!completed) {
        std::cerr << "mailsim check-tool: interrupted; every lab was stopped\n";
        return exit_runtime;
    }
    if (code != exit_ok) return code;
    bool all_pass = std::all_of(results.begin(), results.end(), [](auto& r) { return r.status == "pass"; });
    return all_pass ? exit_ok : exit_failed;
}

}  // namespace sim
