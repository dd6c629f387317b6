#include "simulator/explain.hpp"

#include <algorithm>
#include <sstream>

#include <boost/json.hpp>

#include "simulator/catalogue.hpp"
#include "simulator/faults.hpp"
#include "simulator/relocate.hpp"
#include "simulator/scenario_loader.hpp"
#include "support/text.hpp"
#include "trainer/fixes.hpp"

namespace sim {

namespace json = boost::json;

namespace {

std::string percent(double odds) {
    auto p = odds * 100;
    std::ostringstream s;
    s << (p == static_cast<long long>(p) ? static_cast<long long>(p) : p) << "%";
    return s.str();
}

std::vector<std::string> describe_timing(const fault_timing& t) {
    using support::format_duration;
    std::vector<std::string> out;
    if (t.after) out.push_back("starts " + format_duration(*t.after) + " (lab time) after the lab starts");
    if (t.until) out.push_back("clears itself at " + format_duration(*t.until) + " (lab time)");
    if (t.flap)
        out.push_back("comes and goes: " + format_duration(t.flap->first) + " on, " + format_duration(t.flap->second) +
                      " off");
    if (t.first) out.push_back("acts on the first " + std::to_string(*t.first) + " matching connections or queries only");
    if (t.odds) out.push_back("acts on " + percent(*t.odds) + " of matching connections or queries (seeded)");
    return out;
}

// Kinds whose symptom is a time-out across the network: the loopback
// back-end's known limit applies to them (SPEC 2).
bool network_kind(std::string_view kind) {
    return kind == "net.wrong_gateway" || kind == "net.ip_routing_disabled" || kind == "net.link_down" ||
           kind == "net.wrong_address";
}

json::value param_json(const param_value& v) {
    struct visitor {
        json::value operator()(const std::string& s) const { return json::string(s); }
        json::value operator()(std::int64_t i) const { return i; }
        json::value operator()(double d) const { return d; }
        json::value operator()(bool b) const { return b; }
        json::value operator()(const std::vector<std::string>& l) const {
            json::array a;
            for (auto& s : l) a.push_back(json::string(s));
            return a;
        }
    };
    return std::visit(visitor{}, v);
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
    return out;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

}  // namespace

answer_key make_answer_key(const scenario& s, std::uint64_t seed) {
    answer_key k;
    k.path = s.path;
    k.id = s.meta.id;
    k.title = s.meta.title;
    k.difficulty = s.meta.difficulty;
    k.vantage = s.meta.vantage;
    k.briefing = s.meta.briefing;
    k.guide_step = s.meta.guide_step;
    k.prefix = s.lab.prefix;
    k.seed = seed;
    auto faults = resolve_faults(s.faults, seed);
    for (std::size_t i = 0; i < faults.size(); ++i) {
        auto& f = faults[i];
        auto& spec = s.faults[i];
        explained_fault e;
        e.id = f.id;
        e.kind = f.kind;
        e.target = fault_target(f);
        auto* kind = find_fault_kind(f.kind);
        std::vector<std::string> order;
        if (kind) {
            e.step = kind->step;
            e.summary = kind->summary;
            e.symptom = kind->symptom;
            e.cleared_by = kind->cleared_by;
            for (auto& t : kind->tools) e.tools.emplace_back(t.tool, t.shows);
            for (auto& p : kind->params) order.emplace_back(p.name);
        }
        for (auto& [key, value] : f.params)
            if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
        for (auto& key : order) {
            auto it = f.params.find(key);
            if (it == f.params.end()) continue;
            e.params.emplace_back(key, it->second);
            if (auto p = spec.params.find(key); p != spec.params.end() && p->second.picked)
                e.picked.emplace_back(key, p->second.choices);
        }
        e.timing = describe_timing(f.timing);
        for (auto& step : trainer::fixes_for(f, s.answer)) e.fixes.emplace_back(step.host, step.command);
        if (network_kind(f.kind))
            e.notes.push_back(
                "On the loopback back-end a closed port of a host the client cannot reach answers "
                "`connection refused` instead of timing out; open ports time out as on a real network.");
        if (f.timing.gated() || f.timing.flap || f.timing.after)
            e.notes.push_back("Intermittent or delayed: one test proves little; repeat it, and advance the lab clock.");
        // A fault that starts later is not active when a tool runs (SPEC 3: by
        // default a tool must report the active faults).
        if (f.timing.after && f.timing.after->count() > 0) k.later.emplace_back(e.kind, e.target);
        else k.expect.emplace_back(e.kind, e.target);
        k.faults.push_back(std::move(e));
    }
    if (s.expect) {
        k.expect.clear();
        k.later.clear();
        k.expect_written = true;
        for (auto& x : *s.expect) k.expect.emplace_back(x.kind, x.target);
    }
    return k;
}

void print_answer_key(const answer_key& k, std::ostream& out) {
    out << "Answer key: " << k.id << (k.title.empty() ? "" : " - " + k.title) << "\n";
    out << "file " << k.path << "   guide step " << (k.guide_step ? std::to_string(*k.guide_step) : "-") << "   "
        << k.difficulty << "   vantage " << (k.vantage.empty() ? "-" : k.vantage) << "   prefix " << k.prefix
        << "   seed " << k.seed << "\n";
    if (k.faults.empty()) {
        out << "\nThis scenario has no fault: every check passes as it is. Trainees should find nothing to fix,\n"
               "and a diagnostic tool should report nothing (a clean scenario catches false alarms).\n";
    } else {
        out << "\n" << k.faults.size() << (k.faults.size() == 1 ? " fault" : " faults") << " (picks decided by seed "
            << k.seed << "; `--seed N` shows another lab's):\n";
    }
    for (auto& f : k.faults) {
        out << "\n[" << f.id << "] " << f.kind << "   target " << (f.target.empty() ? "-" : f.target)
            << "   guide step " << (f.step.empty() ? "-" : f.step) << "\n";
        bool first = true;
        for (auto& [key, value] : f.params) {
            out << (first ? "  parameters:    " : "                 ") << key << " = " << to_string(value);
            first = false;
            for (auto& [pk, choices] : f.picked)
                if (pk == key) {
                    std::vector<std::string> texts;
                    for (auto& c : choices) texts.push_back(to_string(c));
                    out << "   (picked from " << join(texts, " | ") << ")";
                }
            out << "\n";
        }
        if (f.timing.empty()) out << "  timing:        active from the start until fixed\n";
        for (std::size_t i = 0; i < f.timing.size(); ++i)
            out << (i == 0 ? "  timing:        " : "                 ") << f.timing[i] << "\n";
        if (!f.summary.empty()) out << "  what is wrong: " << f.summary << "\n";
        if (!f.symptom.empty()) out << "  symptom:       " << f.symptom << "\n";
        if (!f.tools.empty()) {
            out << "  what tools show:\n";
            for (auto& [tool, shows] : f.tools) out << "    " << pad(tool, 9) << " " << shows << "\n";
        }
        if (!f.cleared_by.empty()) out << "  cleared by:    " << f.cleared_by << "\n";
        out << "  fix (lab console):\n";
        if (f.fixes.empty()) out << "    (no console command known; " << f.cleared_by << ")\n";
        for (auto& [host, command] : f.fixes) out << "    on " << host << ": " << command << "\n";
        out << "  diagnosis:     diagnose " << f.kind << " " << f.target << "\n";
        for (auto& n : f.notes) out << "  note:          " << n << "\n";
    }
    out << "\nA diagnostic tool must report (mailsim check-tool, "
        << (k.expect_written ? "from [expect]" : "the scenario's faults") << "):\n";
    if (k.expect.empty()) out << "  nothing\n";
    for (auto& [kind, target] : k.expect) out << "  " << pad(kind, 26) << " " << target << "\n";
    for (auto& [kind, target] : k.later)
        out << "  " << pad(kind, 26) << " " << target << "   (optional: starts later, so a tool may not see it)\n";
}

std::string answer_key_json(const answer_key& k) {
    json::array faults;
    for (auto& f : k.faults) {
        json::object params, picked;
        for (auto& [key, value] : f.params) params[key] = param_json(value);
        for (auto& [key, choices] : f.picked) {
            json::array a;
            for (auto& c : choices) a.push_back(param_json(c));
            picked[key] = std::move(a);
        }
        json::array timing, tools, fixes, notes;
        for (auto& t : f.timing) timing.push_back(json::string(t));
        for (auto& [tool, shows] : f.tools) tools.push_back({{"tool", tool}, {"shows", shows}});
        for (auto& [host, command] : f.fixes) fixes.push_back({{"host", host}, {"command", command}});
        for (auto& n : f.notes) notes.push_back(json::string(n));
        faults.push_back({{"id", f.id},
                          {"kind", f.kind},
                          {"target", f.target},
                          {"step", f.step},
                          {"params", std::move(params)},
                          {"picked", std::move(picked)},
                          {"timing", std::move(timing)},
                          {"summary", f.summary},
                          {"symptom", f.symptom},
                          {"cleared_by", f.cleared_by},
                          {"tools", std::move(tools)},
                          {"fix", std::move(fixes)},
                          {"notes", std::move(notes)}});
    }
    json::array expect;
    json::array later;
    for (auto& [kind, target] : k.expect) expect.push_back({{"kind", kind}, {"target", target}});
    for (auto& [kind, target] : k.later) later.push_back({{"kind", kind}, {"target", target}});
    json::object o{{"scenario", k.id},
                   {"title", k.title},
                   {"path", k.path},
                   {"guide_step", k.guide_step ? json::value(*k.guide_step) : json::value(nullptr)},
                   {"difficulty", k.difficulty},
                   {"vantage", k.vantage},
                   {"briefing", k.briefing},
                   {"prefix", k.prefix},
                   {"seed", k.seed},
                   {"clean", k.faults.empty()},
                   {"faults", std::move(faults)},
                   {"expect", std::move(expect)},
                   {"expect_later", std::move(later)},
                   {"expect_source", k.expect_written ? "expect" : "faults"}};
    return json::serialize(o);
}

int explain_scenario(const std::string& path, const explain_options& o, std::ostream& out, std::ostream& err) {
    if (is_fragment_path(path)) {
        err << "mailsim: " << path << " is a fragment (a file under base/ meant to be included); explain a scenario "
            << "that includes it\n";
        return 1;
    }
    diagnostics diags;
    auto s = load_scenario(path, diags);
    if (!s) {
        for (auto& e : diags.sorted()) err << e.to_string() << "\n";
        if (diags.empty()) err << "mailsim: cannot load `" << path << "`\n";
        return 1;
    }
    if (o.prefix) relocate(*s, *o.prefix);
    auto key = make_answer_key(*s, o.seed.value_or(s->lab.seed));
    if (o.json) out << answer_key_json(key) << "\n";
    else print_answer_key(key, out);
    return 0;
}

}  // namespace sim
