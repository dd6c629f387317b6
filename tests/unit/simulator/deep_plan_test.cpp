#include "simulator/deep_plan.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "simulator/catalogue.hpp"
#include "simulator/faults.hpp"
#include "simulator/scenario_loader.hpp"

namespace {

namespace fs = std::filesystem;

sim::scenario load(const std::string& name) {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/" + name, d);
    EXPECT_TRUE(s) << name;
    return s.value_or(sim::scenario{});
}

sim::fault make(std::string kind, std::map<std::string, sim::param_value> params) {
    return {"f1", std::move(kind), std::move(params), {}};
}

// Every kind of the catalogue, in the scenario of the library that has it,
// gets probes a client could run: --deep never has to rely on checks alone.
TEST(deep_plan, every_kind_of_the_library_gets_a_probe) {
    std::set<std::string> seen;
    for (auto& e : fs::directory_iterator(fs::path(MAILSIM_SOURCE_DIR) / "scenarios")) {
        if (e.path().extension() != ".toml") continue;
        auto s = load(e.path().filename().string());
        for (auto& spec : s.faults)
            for (auto& one : sim::deep_alternatives(spec)) {
                auto f = sim::resolve_faults({one}, s.lab.seed).front();
                seen.insert(f.kind);
                EXPECT_FALSE(sim::symptom_probes(s, f).empty()) << e.path().filename() << ": " << f.kind;
            }
    }
    for (auto& k : sim::catalogue()) EXPECT_TRUE(seen.count(std::string(k.kind))) << k.kind << " has no scenario";
}

TEST(deep_plan, a_pick_becomes_one_alternative_per_combination_without_timing) {
    sim::fault_spec spec;
    spec.kind = "smtp.reject";
    spec.params["host"] = {{std::string("MAILHOST")}, false, {}, {}};
    spec.params["phase"] = {{std::string("mail"), std::string("rcpt"), std::string("data")}, true, {}, {}};
    spec.params["code"] = {{std::int64_t{550}, std::int64_t{554}}, true, {}, {}};
    spec.timing.odds = 0.5;
    spec.timing.after = std::chrono::minutes(5);
    auto alts = sim::deep_alternatives(spec);
    ASSERT_EQ(alts.size(), 6u);
    std::set<std::string> combos;
    for (auto& a : alts) {
        EXPECT_EQ(a.timing, sim::fault_timing{});
        for (auto& [key, p] : a.params) EXPECT_EQ(p.choices.size(), 1u) << key;
        combos.insert(sim::to_string(a.params["phase"].choices[0]) + "/" + sim::to_string(a.params["code"].choices[0]));
    }
    EXPECT_EQ(combos.size(), 6u);
    // Past the limit, each value of each picked parameter still comes up.
    auto few = sim::deep_alternatives(spec, 4);
    EXPECT_EQ(few.size(), 5u);
}

TEST(deep_plan, probes_look_where_the_catalogue_says) {
    auto guide = load("default.toml");  // vantage MAILHOST
    auto probes = sim::symptom_probes(guide, make("imc.stopped", {{"host", std::string("EXCH1")}}));
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].what, sim::deep_probe::kind::connect);
    EXPECT_EQ(probes[0].from, "MAILHOST");
    EXPECT_EQ(probes[0].to, "EXCH1");
    EXPECT_TRUE(sim::probe_shows(probes[0], "refused"));
    EXPECT_FALSE(sim::probe_shows(probes[0], "open"));

    probes = sim::symptom_probes(guide, make("dns.bad_a_record", {{"name", std::string("exch1.corp.example")},
                                                                  {"address", std::string("127.25.10.19")}}));
    ASSERT_FALSE(probes.empty());
    EXPECT_EQ(probes[0].what, sim::deep_probe::kind::lookup);
    EXPECT_TRUE(sim::probe_shows(probes[0], "answer [127.25.10.19]"));
    EXPECT_FALSE(sim::probe_shows(probes[0], "answer [127.25.10.190]"));  // a prefix of the right address is not it

    probes = sim::symptom_probes(guide, make("smtp.recipient_limit", {{"host", std::string("MAILHOST")}, {"max", std::int64_t{3}}}));
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].rcpts.size(), 4u);
    EXPECT_TRUE(sim::probe_shows(probes[0], "banner 220; ehlo 250; mail 250; rcpt 250; rcpt 250; rcpt 250; rcpt 452 4.5.3"));

    probes = sim::symptom_probes(guide, make("mta.stopped", {{"host", std::string("EXCH1")}}));
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].check.from, "alice@corp.example");
    EXPECT_EQ(probes[0].check.to, "bob@example.net");
    EXPECT_TRUE(sim::probe_shows(probes[0], "queued"));

    // `!` patterns: anything but an answer.
    sim::deep_probe p;
    p.shows = {"!answer"};
    EXPECT_TRUE(sim::probe_shows(p, "timeout"));
    EXPECT_FALSE(sim::probe_shows(p, "answer [127.25.10.53]"));
}

}  // namespace
