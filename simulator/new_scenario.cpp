#include "simulator/new_scenario.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "simulator/catalogue.hpp"
#include "simulator/net.hpp"
#include "simulator/scenario_loader.hpp"
#include "support/text.hpp"

namespace sim {

namespace fs = std::filesystem;

namespace {

constexpr int exit_ok = 0, exit_findings = 1, exit_usage = 2, exit_runtime = 3;

/// The example fault a skeleton suggests: one that fits the base's hosts.
struct example {
    std::string kind, key, value;  ///< kind and its target parameter
    int step = 0;
    std::string hint;
    std::string finding_target;
};

const host_config* with_role(const configuration& c, role r) {
    for (auto& h : c.hosts)
        if (h.has_role(r)) return &h;
    return nullptr;
}

/// A host that reaches `target`, clients first, for the hint's telnet.
const host_config* neighbour_of(const configuration& c, const host_config& target) {
    network model(c);
    for (int pass = 0; pass < 2; ++pass)
        for (auto& h : c.hosts)
            if (&h != &target && (pass == 1 || h.has_role(role::client)) && model.reachable(h.address, target.address))
                return &h;
    return nullptr;
}

example example_for(const configuration& c) {
    example e;
    if (auto* x = with_role(c, role::exchange)) {
        auto* n = neighbour_of(c, *x);
        e = {"imc.stopped", "host", x->name, 2,
             "Telnet from " + std::string(n ? n->name : "another host") + " to port 25 of " + x->name +
                 ". Refused means the machine answers but nothing listens for SMTP.",
             x->name};
    } else if (auto* r = with_role(c, role::relay) ? with_role(c, role::relay) : with_role(c, role::mailstore)) {
        auto* n = neighbour_of(c, *r);
        e = {"smtp.port_closed", "host", r->name, 6,
             "Telnet from " + std::string(n ? n->name : "another host") + " to port 25 of " + r->name + ".", r->name};
    } else if (auto* d = with_role(c, role::dns)) {
        e = {"dns.server_down", "server", d->name, 5, "Ask " + d->name + " for a name it serves with nslookup or dig.",
             d->name};
    } else {
        e = {"net.wrong_gateway", "host", c.hosts.empty() ? "HOST" : c.hosts.front().name, 5,
             "Compare the host's default gateway with the routers on its segment (ipconfig /all).",
             c.hosts.empty() ? "HOST" : c.hosts.front().name};
    }
    return e;
}

std::string hosts_line(const configuration& c) {
    std::string out;
    for (auto& h : c.hosts) {
        std::string roles;
        for (auto r : h.roles) roles += (roles.empty() ? "" : ",") + std::string(to_string(r));
        out += (out.empty() ? "" : ", ") + h.name + (roles.empty() ? "" : " (" + roles + ")");
    }
    return out;
}

}  // namespace

std::vector<std::string> base_names(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(fs::path(dir) / "base", ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->path().extension() == ".toml") out.push_back(it->path().stem().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string scenario_skeleton(const std::string& id, const std::string& include, const std::string& base_path,
                              const std::string& file) {
    diagnostics ignored;
    load_options lo;
    lo.fragment = true;
    auto base = load_scenario(base_path, ignored, lo);
    configuration c = base ? base->answer : configuration{};
    auto e = example_for(c);
    auto* kind = find_fault_kind(e.kind);
    std::string t;
    t += "# " + id + ": a new scenario on " + include + ", whose network has\n";
    t += "# " + (c.hosts.empty() ? std::string("no hosts yet") : hosts_line(c)) + ".\n";
    t += "# Next (docs/authoring.md walks through each step):\n";
    auto next = [&](const std::string& command, const std::string& why) {
        auto line = "#   " + command + " " + file;
        line.resize(std::max<std::size_t>(line.size() + 2, 60), ' ');
        t += line + why + "\n";
    };
    next("mailsim validate", "its errors, as file:line:column");
    next("mailsim validate --deep", "proves it solvable in throw-away labs");
    next("mailsim explain", "its answer key");
    next("mailsim run", "try it, with mailsim console");
    t += "schema = 1\n";
    t += "include = [\"" + include + "\"]\n\n";
    t += "[scenario]\n";
    t += "id = \"" + id + "\"\n";
    t += "title = \"" + id + ": say in one line what the trainee notices\"\n";
    auto commented = [](std::string line, const std::string& comment) {
        line.resize(std::max<std::size_t>(line.size() + 1, 32), ' ');
        return line + "# " + comment + "\n";
    };
    t += commented("guide_step = " + std::to_string(e.step), "the step of the guide (1..6) it exercises");
    t += commented("difficulty = \"intro\"", "intro | intermediate | advanced");
    t += "tags = []\n";
    t += commented("# vantage = \"HOST\"", "the host outside clients act as (default: the first client host)");
    t += "briefing = \"\"\"\n";
    t += "What the trainee is told at the start: what users noticed, since when, and\n";
    t += "what still works. Describe symptoms, not the cause.\"\"\"\n\n";
    t += "# The fault: what is broken. Uncomment it, or write another from `mailsim faults`.\n";
    t += "# Any value may be { pick = [...] } so each trainee's seed gets a variant.\n";
    t += "# [[fault]]\n";
    t += "# kind = \"" + e.kind + "\"" + (kind ? "      # " + std::string(kind->summary) : std::string()) + "\n";
    t += "# " + e.key + " = \"" + e.value + "\"\n\n";
    t += "[trainer]\n";
    t += "time_limit = \"30m\"\n";
    t += "[[trainer.hint]]\n";
    t += "text = \"" + e.hint + "\"\n";
    t += "# Without [[trainer.check]], verify sends mail along every flow of the lab.\n";
    t += "# [[trainer.check]]\n";
    t += "# kind = \"connect\"\n";
    t += "# host = \"" + e.value + "\"\n";
    t += "# port = 25\n";
    t += "# expect = \"open\"\n\n";
    t += "# What a diagnostic tool must report; without [expect], the scenario's faults.\n";
    t += "# An [expect] with no findings means a tool must report nothing.\n";
    t += "# [expect]\n";
    t += "# findings = [{ kind = \"" + e.kind + "\", target = \"" + e.finding_target + "\" }]\n";
    return t;
}

int new_scenario_main(const new_scenario_options& o, std::ostream& out, std::ostream& err) {
    bool id_ok = !o.id.empty() && std::all_of(o.id.begin(), o.id.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    });
    if (!id_ok) {
        err << "mailsim new: the id must be lower-case letters, digits and `-` (it names the file), not `" << o.id << "`\n";
        return exit_usage;
    }
    std::error_code ec;
    if (!fs::is_directory(o.dir, ec)) {
        err << "mailsim new: `" << o.dir << "` is not a directory (the scenario library to write into; see --dir)\n";
        return exit_usage;
    }
    // BASE is a fragment's name in DIR/base, or a path to any file.
    fs::path base;
    auto names = base_names(o.dir);
    if (std::find(names.begin(), names.end(), o.base) != names.end()) base = fs::path(o.dir) / "base" / (o.base + ".toml");
    else if (fs::is_regular_file(o.base, ec)) base = o.base;
    else if (fs::is_regular_file(fs::path(o.dir) / o.base, ec)) base = fs::path(o.dir) / o.base;
    if (base.empty()) {
        err << "mailsim new: no base called `" << o.base << "`";
        std::vector<std::string_view> candidates(names.begin(), names.end());
        auto stem = fs::path(o.base).stem().string();
        if (auto s = support::did_you_mean(stem, candidates)) err << " — did you mean `" << *s << "`?";
        err << "\n";
        if (names.empty()) err << "There are no bases in " << (fs::path(o.dir) / "base").string() << ".\n";
        else {
            err << "Bases in " << (fs::path(o.dir) / "base").string() << ":\n";
            for (auto& n : names) {
                diagnostics ignored;
                load_options lo;
                lo.fragment = true;
                auto b = load_scenario((fs::path(o.dir) / "base" / (n + ".toml")).string(), ignored, lo);
                auto name = n;
                name.resize(std::max<std::size_t>(name.size() + 2, 12), ' ');
                err << "  " << name << (b ? hosts_line(b->answer) : std::string()) << "\n";
            }
        }
        return exit_usage;
    }
    auto target = fs::path(o.dir) / (o.id + ".toml");
    if (fs::exists(target, ec)) {
        err << "mailsim new: " << target.string() << " already exists; choose another id or remove it first\n";
        return exit_findings;
    }
    auto include = fs::relative(fs::weakly_canonical(base, ec), fs::weakly_canonical(o.dir, ec), ec).generic_string();
    if (include.empty()) include = base.generic_string();
    auto text = scenario_skeleton(o.id, include, base.string(), target.generic_string());
    // The result must validate before it is written (an include outside the library would not).
    diagnostics d;
    if (!load_scenario_text(text, target.string(), d)) {
        for (auto& e : d.sorted()) err << e.to_string() << "\n";
        err << "mailsim new: the new scenario would not validate; nothing was written\n";
        return exit_findings;
    }
    {
        std::ofstream f(target, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f) {
            err << "mailsim new: cannot write " << target.string() << "\n";
            return exit_runtime;
        }
    }
    out << "wrote " << target.string() << " (includes " << include << ")\n"
        << "next: edit its [scenario] and [[fault]], then `mailsim validate " << target.string()
        << "` and `mailsim validate --deep " << target.string() << "`\n";
    return exit_ok;
}

}  // namespace sim
