#include "simulator/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "simulator/api.hpp"
#include "simulator/files.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/check_tool.hpp"
#include "simulator/console_client.hpp"
#include "simulator/deep_validate.hpp"
#include "simulator/new_scenario.hpp"
#include "simulator/explain.hpp"
#include "simulator/lab.hpp"
#include "simulator/lab_api.hpp"
#include "simulator/trainer_service.hpp"
#include "simulator/scenario_loader.hpp"
#include "simulator/serve.hpp"

namespace sim {

namespace fs = std::filesystem;
namespace net = boost::asio;

namespace {

constexpr int exit_ok = 0, exit_findings = 1, exit_usage = 2, exit_runtime = 3;

std::string pad(std::string s, std::size_t width) {
    // Count UTF-8 characters, not bytes, so tables line up with "—".
    std::size_t chars = 0;
    for (unsigned char c : s)
        if ((c & 0xc0) != 0x80) ++chars;
    if (chars < width) s.append(width - chars, ' ');
    return s;
}

void print_diagnostics(const diagnostics& d) {
    for (auto& e : d.sorted()) std::cerr << e.to_string() << "\n";
}

/// Every .toml under the paths given (directories recursively, sorted).
std::vector<std::string> scenario_files(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (auto& e : fs::recursive_directory_iterator(p, ec))
                if (e.is_regular_file() && e.path().extension() == ".toml") found.push_back(e.path().string());
            std::sort(found.begin(), found.end());
            out.insert(out.end(), found.begin(), found.end());
        } else {
            out.push_back(p);
        }
    }
    return out;
}

// `run ID` finds scenarios/ID.toml or the file whose [scenario] id is ID.
std::string find_scenario(const std::string& arg) {
    std::error_code ec;
    if (fs::exists(arg, ec)) return arg;
    for (auto candidate : {"scenarios/" + arg + ".toml", "scenarios/" + arg})
        if (fs::exists(candidate, ec)) return candidate;
    for (auto& f : scenario_files({"scenarios"})) {
        if (is_fragment_path(f)) continue;
        diagnostics ignored;
        auto s = load_scenario(f, ignored);
        if (s && s->meta.id == arg) return f;
    }
    return arg;
}

std::string roles_text(const host_config& h) {
    std::string out;
    for (auto r : h.roles) out += (out.empty() ? "" : ",") + std::string(to_string(r));
    return out.empty() ? "-" : out;
}

void print_table(const lab& l, const api_identity& id) {
    auto& d = l.definition();
    std::cout << "mailsim lab `" << d.meta.id << "`" << (d.meta.title.empty() ? "" : ": " + d.meta.title) << "\n";
    std::cout << "prefix " << l.prefix() << "   DNS port " << l.dns_port() << "   SMTP port " << l.smtp_port()
              << "   clock x" << l.speed() << "\n\n";
    std::cout << pad("HOST", 12) << pad("ADDRESS", 17) << pad("ROLES", 16) << "LISTENING\n";
    auto services = l.services();
    for (auto& h : l.live().hosts) {
        std::string listening;
        for (auto& s : services)
            if (s.host == h.name) {
                listening += (listening.empty() ? "" : "  ") + s.service + " " + support::format_ipv4(s.address) + ":" +
                             std::to_string(s.port) + (s.udp && s.tcp ? " udp+tcp" : s.udp ? " udp" : " tcp");
            }
        std::cout << pad(h.name, 12) << pad(support::format_ipv4(h.address), 17) << pad(roles_text(h), 16)
                  << (listening.empty() ? "-" : listening) << "\n";
    }
    auto* v = l.live().find_host(l.vantage());
    std::cout << "\nYou are " << l.vantage() << (v ? " (" + support::format_ipv4(v->address) + ")" : std::string{})
              << " when you connect from 127.0.0.1; to act as another host, bind its address\n"
              << "(dig -b ADDRESS, swaks --local-interface ADDRESS, nc -s ADDRESS).\n";
    for (auto& s : services)
        if (s.service == "dns" && v) {
            const host_config* named = nullptr;
            for (auto& h : l.live().hosts)
                if (!h.fqdn.empty()) named = &h;
            std::cout << "Try:  dig @" << support::format_ipv4(s.address) << " -p " << s.port << " "
                      << (named ? named->fqdn : std::string("example")) << "\n";
            break;
        }
    std::cout << "API:  " << id.url << "/api/v1/lab   (Authorization: Bearer " << id.token << ")\n";
    std::cout << "Stop with Ctrl-C.\n" << std::flush;
}

int log_rank(const std::string& level) {
    if (level == "error") return 0;
    if (level == "warn") return 1;
    if (level == "info") return 2;
    return 3;  // debug
}

// Lab log entries a level shows on stderr: DNS queries only at debug.
bool shown(const log_entry& e, int rank) {
    if (e.kind == "dns" || e.kind == "smtp") return rank >= 3;  // protocol lines: debug only
    if (e.kind == "net") return rank >= 1;
    return rank >= 2;
}

struct run_args {
    std::string scenario = "scenarios/default.toml";
    std::string prefix;
    std::string ports = "auto";
    double speed = 0;
    std::string api = "127.0.0.1:8025";
    std::string token;
    std::string ready_file;
    bool json = false;
    std::string log_level = "info";
    std::string state_dir;
};

int run_lab(const run_args& a) {
    lab_options opts;
    if (!a.prefix.empty()) {
        auto octet = parse_prefix(a.prefix);
        if (!octet) {
            std::cerr << "mailsim: --prefix must be 127.N with N from 1 to 255 (127.0 is never used), not `" << a.prefix
                      << "`\n";
            return exit_usage;
        }
        opts.prefix = *octet;
    }
    if (a.ports == "standard") opts.ports = port_mode::standard;
    else if (a.ports == "high") opts.ports = port_mode::high;
    if (a.speed > 0) opts.speed = a.speed;
    opts.state_dir = a.state_dir;

    auto path = find_scenario(a.scenario);
    diagnostics diags;
    auto s = load_scenario(path, diags);
    if (!s) {
        print_diagnostics(diags);
        return exit_findings;
    }

    net::io_context io(1);
    // Catch SIGINT/SIGTERM before anything listens: a client may signal as
    // soon as it reads the ready line.
    net::signal_set signals(io, SIGINT, SIGTERM);
    std::function<void(int)> on_signal = [&io](int) { io.stop(); };
    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (!ec) on_signal(sig);
    });
    lab l(io, std::move(*s), opts);
    int rank = log_rank(a.log_level);
    l.log().subscribe([rank](const log_entry& e) {
        if (!shown(e, rank)) return;
        std::cerr << "[" << support::format_duration(e.sim) << "] " << e.kind << (e.host.empty() ? "" : " " + e.host)
                  << ": " << e.describe() << "\n";
    });
    if (auto err = l.start(); !err.empty()) {
        std::cerr << "mailsim: " << err << "\n";
        return exit_runtime;
    }
    api_identity id{"", a.token.empty() ? random_token() : a.token};
    auto router = std::make_shared<api_router>();
    trainer_service trainer(l);
    // With a state directory, training sessions survive a restart like mail does.
    if (!a.state_dir.empty()) trainer.persist_to((std::filesystem::path(a.state_dir) / "trainer.json").string());
    add_lab_routes(*router, l, [&id] { return id; }, &trainer);
    add_trainer_routes(*router, l, trainer);
    api_server api(io, router, id.token);
    if (auto err = api.listen(a.api); !err.empty()) {
        std::cerr << "mailsim: " << err << "\n";
        return exit_runtime;
    }
    id.url = api.url();

    auto ready = ready_json(l, id);
    if (!a.ready_file.empty() && !write_file_atomically(a.ready_file, ready + "\n").empty()) {
        std::cerr << "mailsim: cannot write the ready file `" << a.ready_file << "`\n";
        return exit_runtime;
    }
    if (a.json) std::cout << ready << "\n" << std::flush;
    else print_table(l, id);

    on_signal = [&](int sig) {
        l.note("lab", "", std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
        api.stop();
        l.stop();
        io.stop();
    };
    io.run();
    if (!a.ready_file.empty()) {
        std::error_code ec;
        fs::remove(a.ready_file, ec);
    }
    return exit_ok;
}

int validate_files(const std::vector<std::string>& paths) {
    auto files = scenario_files(paths.empty() ? std::vector<std::string>{"scenarios"} : paths);
    if (files.empty()) {
        std::cerr << "mailsim: no scenario files found\n";
        return exit_findings;
    }
    std::size_t bad = 0;
    diagnostics all;
    for (auto& f : files) {
        diagnostics d;
        load_options o;
        o.fragment = is_fragment_path(f);
        load_scenario(f, d, o);
        if (!d.empty()) ++bad;
        all.append(d);
    }
    print_diagnostics(all);
    if (bad) {
        std::cerr << bad << " of " << files.size() << " file(s) have errors (" << all.sorted().size() << " in all)\n";
        return exit_findings;
    }
    std::cout << "ok: " << files.size() << " file(s) valid\n";
    return exit_ok;
}

int list_library(const std::string& dir) {
    std::cout << pad("ID", 28) << pad("STEP", 6) << pad("LEVEL", 14) << pad("FAULTS", 44) << "TITLE\n";
    for (auto& f : scenario_files({dir})) {
        if (is_fragment_path(f)) continue;
        diagnostics d;
        auto s = load_scenario(f, d);
        if (!s) {
            std::cout << pad(fs::path(f).stem().string(), 28) << "(invalid: " << d.sorted().size()
                      << " error(s); run mailsim validate " << f << ")\n";
            continue;
        }
        std::string kinds;
        for (auto& ft : s->faults) kinds += (kinds.empty() ? "" : ",") + ft.kind;
        std::cout << pad(s->meta.id, 28) << pad(s->meta.guide_step ? std::to_string(*s->meta.guide_step) : "-", 6)
                  << pad(s->meta.difficulty, 14) << pad(kinds.empty() ? "(none)" : kinds, 44) << s->meta.title << "\n";
    }
    return exit_ok;
}

int print_catalogue() {
    for (auto& k : catalogue()) {
        std::string params;
        for (auto& p : k.params) params += (params.empty() ? "" : ", ") + std::string(p.name) + (p.required ? "" : "?");
        std::cout << k.kind << "  (" << params << ")  step " << k.step << (k.gateable ? "  [first/odds]" : "") << "\n"
                  << "    " << k.summary << "\n"
                  << "    clients see: " << k.symptom << "\n"
                  << "    cleared by:  " << k.cleared_by << "\n";
        for (auto& t : k.tools) std::cout << "    " << pad(std::string(t.tool) + ":", 9) << " " << t.shows << "\n";
        std::cout << "\n";
    }
    std::cout << "The target of a fault is its first parameter. Every fault also takes after, until and flap;\n"
                 "SMTP and DNS faults take first and odds.\n";
    return exit_ok;
}

}  // namespace

std::string find_scenario_file(const std::string& arg) { return find_scenario(arg); }

int cli_main(int argc, char** argv) {
    CLI::App app{"mailsim: a simulated mail environment for training and testing"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "mailsim 0.1.0");

    run_args ra;
    auto* run = app.add_subcommand("run", "start a lab from a scenario and serve it until Ctrl-C");
    run->add_option("scenario", ra.scenario, "scenario file or id (default scenarios/default.toml)");
    run->add_option("--prefix", ra.prefix, "move the lab to 127.N (default: the scenario's, usually 127.25)");
    run->add_option("--ports", ra.ports, "SMTP/DNS ports: auto (25/53 when possible, else 2525/5353), standard, high")
        ->check(CLI::IsMember({"auto", "standard", "high"}));
    run->add_option("--speed", ra.speed, "simulated seconds per real second (overrides [lab] speed)")
        ->check(CLI::Range(0.001, 100000.0));
    run->add_option("--api", ra.api, "address:port of the control API (loopback only)");
    run->add_option("--token", ra.token, "API token (default: random, shown in the ready JSON)");
    run->add_option("--ready-file", ra.ready_file, "write the ready JSON here once every endpoint listens");
    run->add_flag("--json", ra.json, "print the ready JSON (one line) instead of the endpoint table");
    run->add_option("--state-dir", ra.state_dir, "keep mailboxes and queues here; a restart with the same directory finds them again");
    run->add_option("--log-level", ra.log_level, "error, warn, info or debug (debug shows every DNS query and SMTP line)")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));

    std::vector<std::string> validate_paths;
    auto* validate = app.add_subcommand("validate", "check scenario files; errors as file:line:col");
    validate->add_option("paths", validate_paths, "files or directories (default: scenarios)");
    bool deep = false;
    deep_options dopt;
    validate->add_flag("--deep", deep, "also prove each scenario solvable in throw-away labs: the answer passes its checks, each fault shows");
    validate->add_option("--jobs", dopt.jobs, "with --deep: labs at once (default 8)")->check(CLI::Range(1, 64));
    validate->add_option("--prefix-base", dopt.prefix_base, "with --deep: labs use 127.N .. 127.N+49 (default 100)")
        ->check(CLI::Range(1, 255));
    validate->add_option("--timeout", dopt.timeout, "with --deep: real time one lab may take (default 120s)");

    std::string list_dir = "scenarios";
    auto* list = app.add_subcommand("list", "the scenario library as a table");
    list->add_option("dir", list_dir, "library directory (default: scenarios)");

    auto* faults = app.add_subcommand("faults", "the fault catalogue");

    new_scenario_options nso;
    auto* make = app.add_subcommand("new", "write a new scenario (DIR/ID.toml) that includes a base of the library");
    make->add_option("id", nso.id, "the new scenario's id: its file name and [scenario] id")->required();
    make->add_option("--from", nso.base, "the base: a name in DIR/base (guide, lan...) or a path")->required();
    make->add_option("--dir", nso.dir, "the scenario library to write into (default: scenarios)");

    std::string explain_path, explain_prefix;
    std::uint64_t explain_seed = 0;
    explain_options eo;
    auto* explain = app.add_subcommand("explain", "the answer key of a scenario: each fault, its symptoms per tool, the fix");
    explain->add_option("scenario", explain_path, "scenario file or id")->required();
    auto* explain_seed_opt =
        explain->add_option("--seed", explain_seed, "decide the faults' picks with this seed (default: the [lab] seed)");
    explain->add_option("--prefix", explain_prefix, "the answer key of the lab moved to 127.N (its addresses and fixes)");
    explain->add_flag("--json", eo.json, "print one JSON document instead of text");

    check_tool_options ct;
    auto* check = app.add_subcommand("check-tool", "run a diagnostic tool against scenarios and score its findings");
    check->add_option("--tool", ct.tool, "the tool's command line, run through /bin/sh, with {dns}, {smtp:HOST}... filled")
        ->required();
    check->add_option("scenarios", ct.paths, "scenario files or directories (default: scenarios)");
    check->add_option("--adapter", ct.adapter_file, "TOML rules (regex -> kind/target) for a tool that prints text");
    check->add_option("--json", ct.json_file, "write the results as JSON to this file");
    check->add_option("--junit", ct.junit_file, "write the results as JUnit XML to this file");
    check->add_option("--timeout", ct.timeout, "time limit of each tool run (default 30s)");
    check->add_option("--jobs", ct.jobs, "labs at once (default 1)")->check(CLI::Range(1, 64));
    check->add_option("--prefix-base", ct.prefix_base, "labs use 127.N .. 127.N+49 (default 150)")->check(CLI::Range(1, 255));
    check->add_option("--ports", ct.ports, "SMTP/DNS ports of the labs: auto, standard or high")
        ->check(CLI::IsMember({"auto", "standard", "high"}));
    check->add_flag("--keep", ct.keep, "keep lab logs and tool output in the work directory");

    serve_args sa;
    auto* serve = app.add_subcommand("serve", "class mode: a lab per trainee, the instructor page, until Ctrl-C");
    serve->add_option("--class", sa.class_file, "the class file (TOML: scenarios, trainees, seeds, time limit)");
    serve->add_option("--api", sa.api, "address:port of the API and the pages (loopback only)");
    serve->add_option("--ready-file", sa.ready_file, "write the ready JSON here once every lab listens");
    serve->add_flag("--json", sa.json, "print the ready JSON (one line) instead of the table");
    serve->add_option("--state-dir", sa.state_dir, "keep every lab, session and token here; a restart takes them up again");

    console_client_options co;
    if (auto* t = std::getenv("MAILSIM_TOKEN")) co.token = t;
    auto* console = app.add_subcommand("console", "the lab console in this terminal, against a running lab");
    console->add_option("--api", co.api, "the lab's API (default http://127.0.0.1:8025)");
    console->add_option("--host", co.host, "the host to log on to (default: the lab's vantage host)");
    console->add_option("--token", co.token, "the API token (default: $MAILSIM_TOKEN)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        auto code = app.exit(e);
        return code == 0 ? exit_ok : exit_usage;
    }
    if (run->parsed()) return run_lab(ra);
    if (validate->parsed()) {
        if (!deep) return validate_files(validate_paths);
        dopt.paths = validate_paths;
        return validate_deep_main(dopt);
    }
    if (make->parsed()) return new_scenario_main(nso, std::cout, std::cerr);
    if (list->parsed()) return list_library(list_dir);
    if (faults->parsed()) return print_catalogue();
    if (explain->parsed()) {
        if (explain_seed_opt->count()) eo.seed = explain_seed;
        if (!explain_prefix.empty()) {
            eo.prefix = parse_prefix(explain_prefix);
            if (!eo.prefix) {
                std::cerr << "mailsim: --prefix must be 127.N with N from 1 to 255, not `" << explain_prefix << "`\n";
                return exit_usage;
            }
        }
        return explain_scenario(find_scenario(explain_path), eo, std::cout, std::cerr);
    }
    if (check->parsed()) return check_tool_main(ct);
    if (console->parsed()) return run_console_client(co);
    if (serve->parsed()) return serve_main(sa);
    return exit_usage;
}

}  // namespace sim
