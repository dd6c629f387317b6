#include "simulator/deep_validate.hpp"
#include "simulator/files.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "simulator/faults.hpp"
#include "simulator/lab.hpp"
#include "simulator/lab_checks.hpp"
#include "simulator/scenario_loader.hpp"
#include "trainer/session.hpp"

namespace sim {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace json = boost::json;
using net::ip::tcp;
using clk = std::chrono::steady_clock;

namespace {

constexpr int exit_ok = 0, exit_findings = 1, exit_usage = 2, exit_runtime = 3;
constexpr int exit_busy = 75;  // a child could not bind its prefix: try another
constexpr auto tok = net::as_tuple(net::use_awaitable);
constexpr auto connect_limit = std::chrono::milliseconds(1500);  // real time, like a person's tool
constexpr auto reply_limit = std::chrono::milliseconds(1500);

std::string seconds_text(double s) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << s << "s";
    return o.str();
}

// --- running probes in a lab (the child process) -----------------------------

/// Addresses of the lab's prefix written back in the scenario's own prefix, so
/// outcomes read like the scenario and compare across labs.
struct unmover {
    int lab_octet, own_octet;
    std::string operator()(std::string s) const {
        if (lab_octet == own_octet) return s;
        auto from = "127." + std::to_string(lab_octet) + ".", to = "127." + std::to_string(own_octet) + ".";
        for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos;) {
            if (at > 0 && (std::isdigit(static_cast<unsigned char>(s[at - 1])) || s[at - 1] == '.')) {
                at += from.size();
                continue;
            }
            s.replace(at, from.size(), to);
            at += to.size();
        }
        return s;
    }
};

struct probe_outcome {
    std::string outcome, detail;
};

struct run_result {
    std::map<std::string, probe_outcome> probes;
    std::vector<std::pair<bool, std::string>> checks;  ///< passed, got
    std::string error;
    bool checks_run = false;
};

net::awaitable<std::string> tcp_connect(tcp::socket& socket, ipv4 from, ipv4 to, int port) {
    using namespace net::experimental::awaitable_operators;
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind({net::ip::address_v4(from), 0}, ec);
    if (ec) co_return "error " + ec.message();
    net::steady_timer limit(socket.get_executor(), connect_limit);
    auto connect = socket.async_connect({net::ip::address_v4(to), static_cast<unsigned short>(port)}, tok);
    auto r = co_await (std::move(connect) || limit.async_wait(tok));
    if (r.index() == 1) co_return "timeout";
    auto [cec] = std::get<0>(r);
    if (!cec) co_return "open";
    co_return cec == net::error::connection_refused ? "refused" : "timeout";
}

/// One SMTP reply: "250 2.1.0" with its text, or "silence" / "closed".
struct smtp_reply {
    int code = 0;
    std::string enhanced, text;
    std::string failure;  ///< "silence" or "closed" when there was no reply
};

net::awaitable<smtp_reply> read_reply(tcp::socket& socket, net::streambuf& buf) {
    using namespace net::experimental::awaitable_operators;
    smtp_reply out;
    for (;;) {
        net::steady_timer limit(socket.get_executor(), reply_limit);
        auto read = net::async_read_until(socket, buf, "\n", tok);
        auto r = co_await (std::move(read) || limit.async_wait(tok));
        if (r.index() == 1) {
            out.failure = "silence";
            co_return out;
        }
        auto [ec, n] = std::get<0>(r);
        if (ec) {
            out.failure = "closed";
            co_return out;
        }
        std::string line(net::buffers_begin(buf.data()), net::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
        buf.consume(n);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        if (line.size() < 3) continue;
        if (out.text.empty()) {
            out.code = std::atoi(line.substr(0, 3).c_str());
            out.text = line;
            auto rest = line.size() > 4 ? line.substr(4) : std::string();
            if (rest.size() >= 5 && std::isdigit(static_cast<unsigned char>(rest[0])) && rest[1] == '.')
                out.enhanced = rest.substr(0, rest.find(' '));
        }
        if (line.size() == 3 || line[3] != '-') co_return out;
    }
}

net::awaitable<probe_outcome> smtp_dialogue(lab& l, ipv4 from, ipv4 to, const deep_probe& p) {
    tcp::socket socket(l.io());
    auto pending_connect = tcp_connect(socket, from, to, l.smtp_port());
    auto connected = co_await std::move(pending_connect);
    if (connected != "open") co_return probe_outcome{"connect " + connected, ""};
    net::streambuf buf(1 << 16);
    std::vector<std::string> steps;
    std::string last;
    auto finish = [&](const std::string& end) {
        std::string o;
        for (auto& s : steps) o += (o.empty() ? "" : "; ") + s;
        if (!end.empty()) o += (o.empty() ? "" : "; ") + end;
        return probe_outcome{o, last};
    };
    // Sends `line` (nothing for the banner) and reads the reply; false when the dialogue is over.
    auto step = [&](std::string phase, std::string line) -> net::awaitable<std::optional<smtp_reply>> {
        if (!line.empty()) {
            auto [ec, n] = co_await net::async_write(socket, net::buffer(line), tok);
            if (ec) co_return std::nullopt;
        }
        auto pending = read_reply(socket, buf);
        auto r = co_await std::move(pending);
        if (!r.failure.empty()) {
            steps.push_back(r.failure + " at " + phase);
            co_return std::nullopt;
        }
        std::string s = phase + " " + std::to_string(r.code);
        if (!r.enhanced.empty()) s += " " + r.enhanced;
        steps.push_back(s);
        last = r.text;
        co_return r;
    };
    auto banner_pending = step("banner", "");
    auto banner = co_await std::move(banner_pending);
    if (!banner || banner->code != 220) co_return finish("");
    auto ehlo_pending = step("ehlo", "EHLO deep-probe.mailsim.invalid\r\n");
    auto ehlo = co_await std::move(ehlo_pending);
    if (!ehlo || ehlo->code != 250) co_return finish("");
    auto mail_line = "MAIL FROM:<" + p.mail_from + ">" + (p.size ? " SIZE=" + std::to_string(p.size) : "") + "\r\n";
    auto mail_pending = step("mail", mail_line);
    auto mail = co_await std::move(mail_pending);
    if (!mail || mail->code != 250) co_return finish("");
    bool any = false;
    for (auto& r : p.rcpts) {
        auto rcpt_pending = step("rcpt", "RCPT TO:<" + r + ">\r\n");
        auto rcpt = co_await std::move(rcpt_pending);
        if (!rcpt) co_return finish("");
        if (rcpt->code == 421) co_return finish("");
        any = any || rcpt->code / 100 == 2;
    }
    if (!any) co_return finish("");
    auto data_pending = step("data", "DATA\r\n");
    auto data = co_await std::move(data_pending);
    if (!data || data->code != 354) co_return finish("");
    std::string message = "From: <" + p.mail_from + ">\r\nTo: <" + p.rcpts.front() +
                          ">\r\nSubject: mailsim validate --deep\r\n\r\nA probe of mailsim validate --deep.\r\n";
    std::string filler(76, 'x');
    filler += "\r\n";
    while (message.size() + filler.size() < p.size) message += filler;
    auto dot_pending = step("dot", message + ".\r\n");
    auto dot = co_await std::move(dot_pending);
    if (!dot) co_return finish("");
    auto quit = "QUIT\r\n";
    co_await net::async_write(socket, net::buffer(quit, 6), tok);
    co_return finish("");
}

net::awaitable<probe_outcome> run_probe(lab& l, const deep_probe& p, int serial) {
    auto* source = l.live().find_host(p.from);
    auto* target = l.answer().find_host(p.to);
    using kind = deep_probe::kind;
    if (p.what == kind::connect) {
        if (!source || !target) co_return probe_outcome{"no such host", ""};
        tcp::socket socket(l.io());
        int port = p.port == 53 ? l.dns_port() : p.port == 25 ? l.smtp_port() : p.port;
        auto pending = tcp_connect(socket, source->address, target->address, port);
        auto got = co_await std::move(pending);
        co_return probe_outcome{got, ""};
    }
    if (p.what == kind::smtp) {
        if (!source || !target) co_return probe_outcome{"no such host", ""};
        auto pending = smtp_dialogue(l, source->address, target->address, p);
        co_return co_await std::move(pending);
    }
    if (p.what == kind::burst) {
        if (!source || !target) co_return probe_outcome{"no such host", ""};
        std::string codes;
        for (int i = 0; i < p.count; ++i) {
            tcp::socket socket(l.io());
            auto pending = tcp_connect(socket, source->address, target->address, l.smtp_port());
            auto c = co_await std::move(pending);
            std::string code = c;
            if (c == "open") {
                net::streambuf buf(1 << 16);
                auto reading = read_reply(socket, buf);
                auto r = co_await std::move(reading);
                code = r.failure.empty() ? std::to_string(r.code) : r.failure;
                co_await net::async_write(socket, net::buffer("QUIT\r\n", 6), tok);
            }
            codes += (codes.empty() ? "" : " ") + code;
            if (code == "421") break;
        }
        co_return probe_outcome{"banners " + codes, ""};
    }
    if (p.what == kind::lookup) {
        if (!source) co_return probe_outcome{"no such host", ""};
        std::vector<ipv4> servers;
        if (!p.server.empty()) {
            auto* server = l.answer().find_host(p.server);
            if (!server) co_return probe_outcome{"no such host", ""};
            servers.push_back(server->address);
        }
        auto timer = std::make_shared<net::steady_timer>(l.io(), net::steady_timer::time_point::max());
        auto result = std::make_shared<std::optional<fake_dns::resolve_result>>();
        auto began = l.now();
        l.lookup(source->name, servers, p.name, p.type, [timer, result](const fake_dns::resolve_result& r) {
            *result = r;
            timer->cancel();
        });
        if (!*result) co_await timer->async_wait(tok);
        auto took = l.now() - began;
        auto& r = result->value();
        using o = fake_dns::resolve_result::outcome;
        std::string out;
        switch (r.what) {
            case o::answer: {
                std::vector<std::string> items;
                for (auto& rec : r.records) {
                    auto t = rec.type == 1 ? support::format_ipv4(std::get<fake_dns::a_data>(rec.data).address)
                                           : fake_dns::rdata_to_text(rec);
                    while (!t.empty() && t.back() == '.') t.pop_back();
                    items.push_back(support::to_lower(t));
                }
                std::sort(items.begin(), items.end());
                out = "answer [";
                for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
                out += "]";
                break;
            }
            case o::nxdomain: out = "nxdomain"; break;
            case o::nodata: out = "nodata"; break;
            case o::servfail: out = "servfail"; break;
            case o::refused: out = "refused"; break;
            case o::timeout: out = "timeout"; break;
            case o::unreachable: out = "unreachable"; break;
            case o::bad_reply: out = "bad reply"; break;
        }
        if (p.late_after && r.what != o::timeout && took >= *p.late_after) out = "late " + out;
        co_return probe_outcome{out, r.describe() + " after " + support::format_duration(took) + " (lab time)"};
    }
    if (p.what == kind::service) {
        auto before = l.event_log(p.to).size();
        auto r = l.control_service(p.to, p.service, true);
        auto events = l.event_log(p.to);
        std::string ids;
        for (std::size_t i = before; i < events.size(); ++i) ids += (ids.empty() ? "" : ",") + std::to_string(events[i].record.id);
        auto first_line = r.output.substr(0, r.output.find('\n'));
        if (r.ok) co_return probe_outcome{"started", first_line};
        co_return probe_outcome{"fails" + (ids.empty() ? std::string() : ", events " + ids), first_line};
    }
    // deliver: the check runner the trainer's verify uses
    auto pending = run_lab_check(l, p.check, serial, [&l](duration d) { return let_lab_time_pass(l, d); });
    auto outcome = co_await std::move(pending);
    co_return probe_outcome{outcome.got, ""};
}

/// Runs `list` side by side; waits for all.
net::awaitable<void> run_together(lab& l, std::vector<const deep_probe*> list, run_result& out, unmover back) {
    if (list.empty()) co_return;
    auto ex = co_await net::this_coro::executor;
    auto done = std::make_shared<net::steady_timer>(ex, net::steady_timer::time_point::max());
    auto left = std::make_shared<std::size_t>(list.size());
    int serial = 1000;
    for (auto* p : list) {
        auto task = [&l, p, &out, back, serial]() -> net::awaitable<void> {
            auto pending = run_probe(l, *p, serial);
            auto r = co_await std::move(pending);
            out.probes[p->key] = {back(r.outcome), back(r.detail)};
        };
        ++serial;
        net::co_spawn(ex, task, [done, left, &out, p](std::exception_ptr e) {
            if (e) try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    out.probes[p->key] = {"error " + std::string(x.what()), ""};
                }
            if (--*left == 0) done->cancel();
        });
    }
    if (*left) co_await done->async_wait(tok);
}

struct job_spec {
    const scenario* s = nullptr;
    std::vector<fault_spec> faults;          ///< none: the answer configuration
    std::vector<const deep_probe*> probes;
    bool always_check = true;  ///< false: checks only when no probe showed the fault
};

net::awaitable<void> execute(lab& l, const job_spec& j, run_result& out, unmover back) {
    // Network probes first and side by side (their time-outs overlap), then the
    // console and mail, which move the lab clock, then the checks.
    std::vector<const deep_probe*> side_by_side, in_turn;
    for (auto* p : j.probes)
        (p->what == deep_probe::kind::deliver || p->what == deep_probe::kind::service ? in_turn : side_by_side).push_back(p);
    auto together = run_together(l, side_by_side, out, back);
    co_await std::move(together);
    int serial = 1;
    for (auto* p : in_turn) {
        auto pending = run_probe(l, *p, serial++);
        auto r = co_await std::move(pending);
        out.probes[p->key] = {back(r.outcome), back(r.detail)};
    }
    bool shown = false;
    for (auto* p : j.probes)
        if (probe_shows(*p, out.probes[p->key].outcome)) shown = true;
    if (!j.always_check && shown) co_return;
    out.checks_run = true;
    // The checks as the lab holds them: moved to its prefix, like the trainer's.
    for (auto& c : trainer::checks_for(l.definition())) {
        auto pending = run_lab_check(l, c, serial++, [&l](duration d) { return let_lab_time_pass(l, d); });
        auto r = co_await std::move(pending);
        out.checks.emplace_back(r.passed, back(r.got));
    }
}

std::string result_json(const run_result& r) {
    json::object probes;
    for (auto& [k, v] : r.probes) probes[k] = {{"outcome", v.outcome}, {"detail", v.detail}};
    json::array checks;
    for (auto& [passed, got] : r.checks) checks.push_back({{"passed", passed}, {"got", got}});
    return json::serialize(json::object{
        {"probes", probes}, {"checks", checks}, {"checks_run", r.checks_run}, {"error", r.error}});
}

std::optional<run_result> parse_result(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    run_result r;
    try {
        auto& o = v.as_object();
        for (auto& [k, p] : o.at("probes").as_object())
            r.probes[std::string(k)] = {json::value_to<std::string>(p.at("outcome")), json::value_to<std::string>(p.at("detail"))};
        for (auto& c : o.at("checks").as_array())
            r.checks.emplace_back(c.at("passed").as_bool(), json::value_to<std::string>(c.at("got")));
        r.checks_run = o.at("checks_run").as_bool();
        r.error = json::value_to<std::string>(o.at("error"));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return r;
}

void write_all(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

/// The child: one lab on `octet`, the job's probes and checks, the result in `path`.
[[noreturn]] void child_main(const job_spec& j, int octet, std::chrono::milliseconds limit, const std::string& path) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    scenario s = *j.s;
    s.faults = j.faults;
    auto own = parse_prefix(s.lab.prefix).value_or(25);
    run_result res;
    {
        net::io_context io(1);
        lab_options o;
        o.prefix = octet;
        o.ports = port_mode::high;
        o.log_queries = false;
        lab l(io, std::move(s), o);
        if (auto err = l.start(); !err.empty()) {
            res.error = "the lab could not start: " + err;
            write_all(path, result_json(res));
            ::_exit(err.find("cannot bind") != std::string::npos ? exit_busy : 0);
        }
        bool finished = false;
        net::co_spawn(io, execute(l, j, res, unmover{octet, own}), [&](std::exception_ptr e) {
            if (e) try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    res.error = std::string("the lab failed: ") + x.what();
                }
            finished = true;
            io.stop();
        });
        io.run_for(limit);
        if (!finished) res.error = "the lab did not finish within " + support::format_duration(limit);
        write_all(path, result_json(res));
        std::cout.flush();
        ::_exit(0);  // no teardown: the process ends with the lab
    }
}

// --- the parent: files, jobs, results, report -------------------------------

std::vector<std::string> files_under(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
                 it.increment(ec))
                if (std::error_code fe; it->is_regular_file(fe) && it->path().extension() == ".toml")
                    found.push_back(it->path().string());
            std::sort(found.begin(), found.end());
            out.insert(out.end(), found.begin(), found.end());
        } else {
            out.push_back(p);
        }
    }
    return out;
}

/// One fault (one combination of its picks) of a scenario, applied alone.
struct alternative {
    std::size_t fault_index = 0;  ///< in the scenario's [[fault]] order
    fault_spec spec;
    fault concrete;
    std::string label;  ///< "fault 1 (dns.bad_a_record exch1.corp.example), address 127.25.10.19"
    source_pos pos;
    std::vector<deep_probe> probes;  ///< what looks for its symptom (each key also among the scenario's)
    std::optional<run_result> result;
};

struct scenario_work {
    std::string path;
    std::optional<scenario> s;
    std::vector<trainer_check> checks;
    bool default_checks = false;
    std::vector<deep_probe> probes;  ///< every alternative's, each key once
    std::vector<alternative> alts;
    std::optional<run_result> answer;
    std::size_t jobs_left = 0;
    clk::time_point began{}, ended{};
    bool printed = false;
};

struct job {
    std::size_t work = 0;
    int alt = -1;  ///< -1: the answer configuration
    job_spec spec;
    int attempts = 0;
    pid_t pid = -1;
    int slot = -1;
    clk::time_point began{};
    std::string result_path, err_path;
};

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + ::strsignal(WTERMSIG(status));
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

std::string read_text(const std::string& path, std::size_t limit = 1 << 20) {
    std::ifstream in(path, std::ios::binary);
    std::string out(limit, '\0');
    in.read(out.data(), static_cast<std::streamsize>(limit));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

std::string tail_of(const std::string& text, std::size_t lines = 4) {
    std::size_t at = text.size(), n = 0;
    while (at > 0 && n <= lines) {
        at = text.rfind('\n', at - 1);
        if (at == std::string::npos) {
            at = 0;
            break;
        }
        ++n;
    }
    auto t = text.substr(at);
    while (!t.empty() && (t.front() == '\n')) t.erase(0, 1);
    while (!t.empty() && (t.back() == '\n')) t.pop_back();
    return t;
}

volatile std::sig_atomic_t interrupted = 0;
void on_interrupt(int) { interrupted = 1; }

std::string fault_label(std::size_t index, const fault& f, const fault_spec& original) {
    std::string out = "fault " + std::to_string(index + 1) + " (" + f.kind + " " + fault_target(f) + ")";
    std::string picks;
    for (auto& [key, p] : original.params)
        if (p.choices.size() > 1) picks += (picks.empty() ? "" : ", ") + key + " " + f.text(key);
    if (!picks.empty()) out += " with " + picks;
    return out;
}

std::string timing_note(const fault_timing& t) {
    std::vector<std::string> keys;
    if (t.after) keys.push_back("after");
    if (t.until) keys.push_back("until");
    if (t.flap) keys.push_back("flap");
    if (t.first) keys.push_back("first");
    if (t.odds) keys.push_back("odds");
    std::string out;
    for (auto& k : keys) out += (out.empty() ? "" : ", ") + k;
    return out;
}

class deep_runner {
public:
    deep_runner(const deep_options& o, std::chrono::milliseconds limit, std::string workdir)
        : o_(o), limit_(limit), workdir_(std::move(workdir)), slots_(static_cast<std::size_t>(o.prefix_count), 0) {}

    /// Runs every job; false when interrupted or when no prefix could be had.
    bool run(std::vector<scenario_work>& works, std::vector<job>& jobs, const std::function<void()>& progress) {
        std::size_t next = 0, done = 0;
        std::vector<std::size_t> active;
        auto parallel = static_cast<std::size_t>(std::max(1, std::min(o_.jobs, o_.prefix_count)));
        while (done < jobs.size()) {
            if (interrupted) {
                for (auto i : active) stop(jobs[i]);
                return false;
            }
            while (active.size() < parallel && next < jobs.size()) {
                if (!start(jobs[next], works)) {
                    for (auto i : active) stop(jobs[i]);
                    return false;
                }
                active.push_back(next++);
            }
            for (auto it = active.begin(); it != active.end();) {
                auto& j = jobs[*it];
                int status = 0;
                auto r = ::waitpid(j.pid, &status, WNOHANG);
                if (r == 0 && clk::now() - j.began > limit_ + std::chrono::seconds(15)) {
                    ::kill(j.pid, SIGKILL);
                    ::waitpid(j.pid, &status, 0);
                    r = j.pid;
                    status = -1;
                }
                if (r != j.pid) {
                    ++it;
                    continue;
                }
                release(j.slot, WIFEXITED(status) && WEXITSTATUS(status) == exit_busy);
                if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == exit_busy && j.attempts < 6) {
                    if (!start(j, works)) {
                        for (auto i : active) stop(jobs[i]);
                        return false;
                    }
                    ++it;
                    continue;
                }
                finish(j, works, status);
                ++done;
                it = active.erase(it);
                progress();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return true;
    }

    std::string failure;  ///< why run() gave up, when it did for want of prefixes

private:
    bool start(job& j, std::vector<scenario_work>& works) {
        j.slot = acquire();
        if (j.slot < 0) {
            failure = "no free lab prefix in 127." + std::to_string(o_.prefix_base) + " .. 127." +
                      std::to_string(o_.prefix_base + o_.prefix_count - 1) + " (other labs hold them; try --prefix-base)";
            return false;
        }
        ++j.attempts;
        auto& w = works[j.work];
        if (w.began == clk::time_point{}) w.began = clk::now();
        auto base = workdir_ + "/" + std::to_string(j.work) + "-" + std::to_string(j.alt + 1);
        j.result_path = base + ".json";
        j.err_path = base + ".stderr";
        std::error_code ec;
        fs::remove(j.result_path, ec);
        std::cout.flush();
        std::cerr.flush();
        j.began = clk::now();
        auto pid = ::fork();
        if (pid < 0) {
            failure = std::string("cannot start a lab process: ") + std::strerror(errno);
            release(j.slot, false);
            return false;
        }
        if (pid == 0) {
            ::setpgid(0, 0);  // Ctrl-C reaches the parent, which stops the labs
            int fd = ::open(j.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 2);
                ::close(fd);
            }
            int null = ::open("/dev/null", O_RDWR);
            if (null >= 0) {
                ::dup2(null, 0);
                ::dup2(null, 1);
                ::close(null);
            }
            child_main(j.spec, o_.prefix_base + j.slot, limit_, j.result_path);
        }
        j.pid = pid;
        return true;
    }

    void stop(job& j) {
        if (j.pid <= 0) return;
        ::kill(j.pid, SIGKILL);
        int status = 0;
        ::waitpid(j.pid, &status, 0);
        j.pid = -1;
    }

    void finish(job& j, std::vector<scenario_work>& works, int status) {
        auto& w = works[j.work];
        run_result r;
        if (status == -1) {
            r.error = "the lab did not finish within " + support::format_duration(limit_) + " and was killed";
        } else if (auto parsed = parse_result(read_text(j.result_path)); parsed && WIFEXITED(status)) {
            r = std::move(*parsed);
        } else {
            auto err = tail_of(read_text(j.err_path));
            r.error = "the lab process " + describe_status(status) + (err.empty() ? "" : ": " + err);
        }
        if (j.alt < 0) w.answer = std::move(r);
        else w.alts[static_cast<std::size_t>(j.alt)].result = std::move(r);
        j.pid = -1;
        if (--w.jobs_left == 0) w.ended = clk::now();
    }

    int acquire() {
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
    void release(int slot, bool busy) {
        if (slot >= 0) slots_[static_cast<std::size_t>(slot)] = busy ? 2 : 0;  // 2: another program holds it
    }

    const deep_options& o_;
    std::chrono::milliseconds limit_;
    std::string workdir_;
    std::vector<int> slots_;
    std::size_t cursor_ = 0;
};

/// Judges one scenario from its labs: errors into `d`, the report lines into `out`.
void judge(scenario_work& w, diagnostics& d, std::ostream& out) {
    auto& s = *w.s;
    std::vector<std::string> lines;
    auto error = [&](const source_pos& at, const std::string& message) {
        if (at.line > 0) d.error(at, "deep: " + message);
        else d.error(s.path, 1, 1, "deep: " + message);
    };
    auto check_name = [&](std::size_t i) {
        return (w.default_checks ? "default check " : "check ") + std::to_string(i + 1) + " (" + trainer::describe(w.checks[i]) + ")";
    };
    bool ok = true;
    auto& a = w.answer;
    if (!a || !a->error.empty()) {
        error(s.meta.pos, "the answer configuration could not be tried: " + (a ? a->error : std::string("no result")));
        ok = false;
    } else {
        for (std::size_t i = 0; i < w.checks.size() && i < a->checks.size(); ++i)
            if (!a->checks[i].first) {
                error(w.default_checks ? s.meta.pos : w.checks[i].pos,
                      check_name(i) + " fails in the answer configuration (no faults): got " + a->checks[i].second);
                ok = false;
            }
    }
    std::size_t passed = a ? static_cast<std::size_t>(std::count_if(a->checks.begin(), a->checks.end(), [](auto& c) { return c.first; })) : 0;
    std::string answer_line = w.checks.empty() ? std::string("the answer has no checks to pass (no mail flows to try)")
                                               : "the answer passes " + std::to_string(passed) + " of " +
                                                     std::to_string(w.checks.size()) +
                                                     (w.default_checks ? " default check" : " check") +
                                                     (w.checks.size() == 1 ? "" : "s");
    std::size_t shown = 0;
    for (auto& alt : w.alts) {
        auto& r = alt.result;
        if (!r || !r->error.empty()) {
            error(alt.pos, alt.label + " could not be tried: " + (r ? r->error : std::string("no result")));
            ok = false;
            continue;
        }
        std::vector<std::string> evidence;
        if (a && a->error.empty())
            for (auto& p : alt.probes) {
                auto with = r->probes.count(p.key) ? r->probes.at(p.key).outcome : std::string();
                auto without = a->probes.count(p.key) ? a->probes.at(p.key).outcome : std::string();
                if (probe_shows(p, with) && !probe_shows(p, without))
                    evidence.push_back(p.text + ": " + with + " (healthy: " + without + ")");
            }
        for (std::size_t i = 0; i < r->checks.size() && i < w.checks.size(); ++i)
            if (!r->checks[i].first && a && i < a->checks.size() && a->checks[i].first)
                evidence.push_back(check_name(i) + " fails: got " + r->checks[i].second);
        auto note = timing_note(s.faults[alt.fault_index].timing);
        if (evidence.empty()) {
            error(alt.pos, alt.label + " changes nothing a client or check can see" +
                               (note.empty() ? std::string() : " (its timing, " + note + ", set aside)"));
            ok = false;
            lines.push_back("    " + alt.label + ": NOTHING SHOWS");
            continue;
        }
        ++shown;
        std::string line = "    " + alt.label + (note.empty() ? "" : " [" + note + " set aside]") + ": " + evidence.front();
        if (evidence.size() > 1) line += "; and " + std::to_string(evidence.size() - 1) + " more";
        lines.push_back(line);
    }
    double secs = std::chrono::duration<double>(w.ended - w.began).count();
    out << "deep: " << w.path << ": " << (ok ? "solvable" : "NOT PROVED") << " — " << answer_line;
    if (w.alts.empty()) out << "; no faults";
    else if (w.alts.size() == 1) out << "; " << shown << " of 1 fault lab shows its fault";
    else out << "; " << shown << " of " << w.alts.size() << " fault labs show their fault";
    out << " (" << w.alts.size() + 1 << " lab" << (w.alts.empty() ? "" : "s") << ", " << seconds_text(secs) << ")\n";
    for (auto& l : lines) out << l << "\n";
    out.flush();
}

}  // namespace

int validate_deep_main(const deep_options& options) {
    auto o = options;
    auto limit = support::parse_duration(o.timeout);
    if (!limit || limit->count() <= 0) {
        std::cerr << "mailsim validate: --timeout must be a duration such as 120s, not `" << o.timeout << "`\n";
        return exit_usage;
    }
    if (o.prefix_base >= 1 && o.prefix_base <= 255) o.prefix_count = std::min(o.prefix_count, 256 - o.prefix_base);
    if (o.jobs < 1 || o.prefix_base < 1 || o.prefix_base > 255 || o.prefix_count < 1) {
        std::cerr << "mailsim validate: --jobs must be at least 1 and --prefix-base from 1 to 255\n";
        return exit_usage;
    }
    auto files = files_under(o.paths.empty() ? std::vector<std::string>{"scenarios"} : o.paths);
    if (files.empty()) {
        std::cerr << "mailsim: no scenario files found\n";
        return exit_findings;
    }
    auto started = clk::now();
    diagnostics all;
    std::size_t bad_static = 0;
    std::vector<scenario_work> works;
    std::vector<job> jobs;
    for (auto& f : files) {
        diagnostics d;
        load_options lo;
        lo.fragment = is_fragment_path(f);
        auto s = load_scenario(f, d, lo);
        if (!d.empty()) ++bad_static;
        all.append(d);
        if (!s || lo.fragment) continue;
        scenario_work w;
        w.path = f;
        w.s = std::move(s);
        auto& sc = *w.s;
        w.checks = trainer::checks_for(sc);
        w.default_checks = !(sc.trainer && !sc.trainer->checks.empty());
        std::map<std::string, std::size_t> by_key;
        for (std::size_t fi = 0; fi < sc.faults.size(); ++fi) {
            for (auto& spec : deep_alternatives(sc.faults[fi])) {
                alternative alt;
                alt.fault_index = fi;
                alt.spec = spec;
                alt.concrete = resolve_faults({spec}, sc.lab.seed).front();
                alt.label = fault_label(fi, alt.concrete, sc.faults[fi]);
                alt.pos = sc.faults[fi].pos;
                for (auto& [key, p] : sc.faults[fi].params)
                    if (p.choices.size() > 1 && p.pos.line > 0) alt.pos = p.pos;
                // The answer lab runs every probe once; each fault lab its own.
                alt.probes = symptom_probes(sc, alt.concrete);
                for (auto& p : alt.probes)
                    if (by_key.emplace(p.key, w.probes.size()).second) w.probes.push_back(p);
                w.alts.push_back(std::move(alt));
            }
        }
        works.push_back(std::move(w));
    }
    // Jobs point into `works`, which no longer grows.
    for (std::size_t wi = 0; wi < works.size(); ++wi) {
        auto& w = works[wi];
        job a;
        a.work = wi;
        a.spec.s = &*w.s;
        for (auto& p : w.probes) a.spec.probes.push_back(&p);
        jobs.push_back(std::move(a));
        for (std::size_t ai = 0; ai < w.alts.size(); ++ai) {
            job j;
            j.work = wi;
            j.alt = static_cast<int>(ai);
            j.spec.s = &*w.s;
            j.spec.faults = {w.alts[ai].spec};
            for (auto& p : w.alts[ai].probes) j.spec.probes.push_back(&p);
            j.spec.always_check = false;  // a symptom a client sees is proof enough; checks when there is none
            jobs.push_back(std::move(j));
        }
        w.jobs_left = 1 + w.alts.size();
    }

    std::string why;
    auto work = make_work_directory("mailsim-deep", why);
    if (work.empty()) {
        std::cerr << "mailsim validate: cannot create a work directory: " << why << "\n";
        return exit_runtime;
    }
    const char* workdir = work.c_str();
    struct sigaction sa {}, old_int{}, old_term{};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;

    diagnostics deep;
    std::size_t printed = 0;
    auto progress = [&] {
        // Report scenarios in file order as soon as they and those before them are done.
        while (printed < works.size() && works[printed].jobs_left == 0) {
            judge(works[printed], deep, std::cout);
            ++printed;
        }
    };
    deep_runner runner(o, *limit, workdir);
    bool completed = runner.run(works, jobs, progress);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    std::error_code ec;
    fs::remove_all(workdir, ec);

    all.append(deep);
    for (auto& e : all.sorted()) std::cerr << e.to_string() << "\n";
    double total = std::chrono::duration<double>(clk::now() - started).count();
    if (!completed) {
        std::cerr << "mailsim validate: " << (interrupted ? "interrupted; every lab was stopped" : runner.failure) << "\n";
        return exit_runtime;
    }
    std::size_t labs = jobs.size();
    if (!all.empty()) {
        // A file counts once, whether its errors are static, from its labs, or both.
        std::set<std::string> bad;
        for (auto& e : all.items()) bad.insert(e.file);
        std::size_t deep_bad = 0;
        for (auto& w : works)
            deep_bad += std::any_of(deep.items().begin(), deep.items().end(), [&](auto& e) { return e.file == w.s->path; });
        std::cerr << std::max(bad.size(), bad_static) << " of " << files.size() << " file(s) have errors ("
                  << all.sorted().size() << " in all";
        if (deep_bad) std::cerr << "; " << deep_bad << " scenario(s) not proved solvable";
        std::cerr << "; " << labs << " labs in " << seconds_text(total) << ")\n";
        return exit_findings;
    }
    std::cout << "ok: " << files.size() << " file(s) valid; " << works.size() << " scenario(s) proved solvable with "
              << labs << " labs, " << std::min<std::size_t>(static_cast<std::size_t>(o.jobs), labs) << " at once, in "
              << seconds_text(total) << "\n";
    return exit_ok;
}

}  // namespace sim
