#include "simulator/serve.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "simulator/files.hpp"
#include "simulator/class_config.hpp"
#include "simulator/class_room.hpp"
#include "simulator/cli.hpp"
#include "simulator/scenario_loader.hpp"

namespace sim {

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr int exit_ok = 0, exit_findings = 1, exit_usage = 2, exit_runtime = 3;

// A scenario of the class, loaded once however many trainees get it. Errors
// name the class file's line that asked for it, then the scenario's own.
std::optional<scenario> scenario_for(const std::string& name, const source_pos& asked_at, const fs::path& class_dir,
                                     std::map<std::string, std::optional<scenario>>& cache, diagnostics& diags) {
    // A path relative to the class file first, then a file or id as `run` finds it.
    std::error_code ec;
    auto beside = class_dir / name;
    auto path = fs::path(name).is_relative() && fs::is_regular_file(beside, ec) ? beside.string() : find_scenario_file(name);
    if (auto it = cache.find(path); it != cache.end()) return it->second;
    diagnostics own;
    std::optional<scenario> s;
    if (!fs::exists(path, ec)) {
        diags.error(asked_at, "there is no scenario `" + name + "` (neither a file nor an id in ./scenarios)");
    } else {
        s = load_scenario(path, own);
        if (!s) diags.error(asked_at, "scenario `" + name + "` has errors (below)");
        diags.append(own);
    }
    cache[path] = s;
    return s;
}

}  // namespace

int serve_main(const serve_args& a) {
    if (a.class_file.empty()) {
        std::cerr << "mailsim serve: give the class with --class FILE (see docs/training.md; a minimal one:\n"
                     "  [class]\n  scenario = \"bad-a-record\"\n  trainees = [\"ana\", \"ben\"]\n)\n";
        return exit_usage;
    }
    diagnostics diags;
    auto c = load_class(a.class_file, diags);
    std::vector<class_seat> seats;
    if (c) {
        std::map<std::string, std::optional<scenario>> cache;
        for (std::size_t i = 0; i < c->trainees.size(); ++i) {
            auto& t = c->trainees[i];
            auto s = scenario_for(scenario_of(*c, i), t.scenario.empty() ? c->scenarios_pos : t.pos,
                                  fs::path(a.class_file).parent_path(), cache, diags);
            if (!s) continue;
            seats.push_back({t.name, t.token, seed_of(*c, i), c->prefix + static_cast<int>(i), std::move(*s)});
        }
    }
    if (!diags.empty()) {
        for (auto& e : diags.sorted()) std::cerr << e.to_string() << "\n";
        return exit_findings;
    }

    class_options opts;
    opts.title = c->title;
    opts.ports = c->ports == "standard" ? port_mode::standard : c->ports == "high" ? port_mode::high : port_mode::automatic;
    opts.speed = c->speed;
    opts.time_limit = c->time_limit;
    opts.instructor_token = c->instructor_token;
    opts.state_dir = a.state_dir;

    net::io_context io(1);
    net::signal_set signals(io, SIGINT, SIGTERM);
    std::function<void(int)> on_signal = [&io](int) { io.stop(); };
    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (!ec) on_signal(sig);
    });
    class_room room(io, opts, std::move(seats));
    if (auto err = room.start(); !err.empty()) {
        std::cerr << "mailsim: " << err << "\n";
        return exit_runtime;
    }
    api_server api(io, room.pages(), [&room](std::string_view token) { return room.routes_for(token); });
    if (auto err = api.listen(a.api); !err.empty()) {
        std::cerr << "mailsim: " << err << "\n";
        return exit_runtime;
    }
    room.set_url(api.url());
    auto ready = room.ready_json();
    if (!a.ready_file.empty() && !write_file_atomically(a.ready_file, ready + "\n").empty()) {
        std::cerr << "mailsim: cannot write the ready file `" << a.ready_file << "`\n";
        return exit_runtime;
    }
    if (a.json) std::cout << ready << "\n" << std::flush;
    else room.print_table(std::cout);

    on_signal = [&](int) {
        api.stop();
        room.stop();
        io.stop();
    };
    io.run();
    if (!a.ready_file.empty()) {
        std::error_code ec;
        fs::remove(a.ready_file, ec);
    }
    return exit_ok;
}

}  // namespace sim
