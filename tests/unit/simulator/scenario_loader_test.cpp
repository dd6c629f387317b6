#include "simulator/scenario_loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "simulator/faults.hpp"

namespace {

namespace fs = std::filesystem;
using sim::diagnostics;

const fs::path source_dir = MAILSIM_SOURCE_DIR;

std::vector<std::string> lines_of(const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

// Runs `fn` with the working directory set to `dir`, so paths in messages are relative.
template <typename F>
void in_directory(const fs::path& dir, F&& fn) {
    auto old = fs::current_path();
    fs::current_path(dir);
    fn();
    fs::current_path(old);
}

TEST(scenario_loader, every_library_scenario_is_valid) {
    std::size_t count = 0;
    for (auto& e : fs::recursive_directory_iterator(source_dir / "scenarios")) {
        if (e.path().extension() != ".toml") continue;
        diagnostics d;
        sim::load_options o;
        o.fragment = sim::is_fragment_path(e.path().string());
        auto s = sim::load_scenario(e.path().string(), d, o);
        std::string all;
        for (auto& x : d.sorted()) all += x.to_string() + "\n";
        EXPECT_TRUE(s.has_value()) << all;
        ++count;
    }
    EXPECT_GE(count, 2u);
}

// Each tests/data/bad_scenarios/X.toml pins its diagnostics in X.expected.
TEST(scenario_loader, bad_scenarios_give_exactly_the_pinned_errors) {
    auto dir = source_dir / "tests" / "data" / "bad_scenarios";
    std::size_t count = 0;
    in_directory(dir, [&] {
        for (auto& e : fs::recursive_directory_iterator(".")) {
            if (e.path().extension() != ".expected") continue;
            auto toml = fs::path(e.path()).replace_extension(".toml").lexically_normal();
            diagnostics d;
            auto s = sim::load_scenario(toml.string(), d);
            EXPECT_FALSE(s.has_value()) << toml;
            std::vector<std::string> got;
            for (auto& x : d.sorted()) got.push_back(x.to_string());
            EXPECT_EQ(got, lines_of(e.path())) << "for " << toml;
            ++count;
        }
    });
    EXPECT_GE(count, 10u);
}

TEST(scenario_loader, hostile_toml_files_are_errors_not_crashes) {
    fs::path dir = fs::path(MAILSIM_CORPORA_DIR) / "hostile-toml";
    if (!fs::exists(dir)) GTEST_SKIP() << "no corpus at " << dir;
    for (auto& e : fs::directory_iterator(dir)) {
        diagnostics d;
        auto s = sim::load_scenario(e.path().string(), d);
        EXPECT_FALSE(s.has_value()) << e.path();
        EXPECT_FALSE(d.empty()) << e.path();
    }
}

constexpr std::string_view minimal = R"(schema = 1
[scenario]
id = "mini"
title = "minimal"
vantage = "WS"
[lab]
seed = 42
[[segment]]
name = "lan"
cidr = "127.25.1.0/24"
[[host]]
name = "NS"
fqdn = "ns.corp.example"
address = "127.25.1.53"
roles = ["dns"]
[[host]]
name = "WS"
address = "127.25.1.20"
dns_servers = ["127.25.1.53"]
roles = ["client"]
[[zone]]
origin = "corp.example"
server = "NS"
records = """
@  IN SOA ns hostmaster 1 3600 600 86400 300
ns IN A 127.25.1.53
ws IN A 127.25.1.20
"""
[[fault]]
kind = "dns.bad_a_record"
name = "ws.corp.example"
address = { pick = ["127.25.1.21", "127.25.1.22", "127.25.1.23", "127.25.1.24"] }
until = "20m"
[[fault]]
id = "slow"
kind = "dns.slow"
server = "ns"
delay = "3s"
first = 2
[trainer]
time_limit = "30m"
[[trainer.check]]
kind = "resolve"
name = "ws.corp.example"
expect = "127.25.1.20"
[expect]
findings = [{ kind = "dns.bad_a_record", target = "ws.corp.example" }]
)";

TEST(scenario_loader, reads_every_table_into_plain_structs) {
    diagnostics d;
    auto s = sim::load_scenario_text(minimal, "mini.toml", d);
    ASSERT_TRUE(s) << (d.empty() ? "" : d.sorted().front().to_string());
    EXPECT_EQ(s->meta.id, "mini");
    EXPECT_EQ(s->lab.seed, 42u);
    ASSERT_EQ(s->answer.hosts.size(), 2u);
    EXPECT_EQ(s->answer.hosts[0].fqdn, "ns.corp.example");
    ASSERT_EQ(s->answer.zones.size(), 1u);
    EXPECT_EQ(s->answer.zones[0].records.size(), 3u);
    ASSERT_EQ(s->answer.zones[0].record_pos.size(), 3u);
    EXPECT_EQ(s->answer.zones[0].record_pos[1].line, 26);  // "ns IN A" in the text above
    ASSERT_EQ(s->faults.size(), 2u);
    EXPECT_TRUE(s->faults[0].params.at("address").picked);
    EXPECT_EQ(s->faults[0].params.at("address").choices.size(), 4u);
    EXPECT_EQ(s->faults[0].timing.until, std::chrono::minutes(20));
    EXPECT_EQ(s->faults[1].timing.first, 2);
    ASSERT_TRUE(s->trainer);
    EXPECT_EQ(s->trainer->time_limit, std::chrono::minutes(30));
    ASSERT_EQ(s->trainer->checks.size(), 1u);
    ASSERT_TRUE(s->expect);
    EXPECT_EQ(s->expect->front().target, "ws.corp.example");
}

TEST(scenario_loader, picks_are_reproducible_from_the_seed) {
    diagnostics d;
    auto s = sim::load_scenario_text(minimal, "mini.toml", d);
    ASSERT_TRUE(s);
    auto a = sim::resolve_faults(s->faults, 42);
    auto b = sim::resolve_faults(s->faults, 42);
    EXPECT_EQ(a[0].text("address"), b[0].text("address"));
    EXPECT_EQ(a[0].id, "f1");
    EXPECT_EQ(a[1].id, "slow");
    // Different seeds reach different choices.
    std::set<std::string> seen;
    for (std::uint64_t seed = 0; seed < 40; ++seed) seen.insert(sim::resolve_faults(s->faults, seed)[0].text("address"));
    EXPECT_GT(seen.size(), 1u);
}

TEST(scenario_loader, includes_merge_tables_append_arrays_and_later_scalars_win) {
    auto dir = fs::temp_directory_path() / "mailsim-include-test";
    fs::create_directories(dir / "base");
    {
        std::ofstream(dir / "base" / "net.toml") << "[lab]\nspeed = 5\nseed = 1\n[[segment]]\nname = \"lan\"\ncidr = \"127.25.1.0/24\"\n"
                                                    "[[host]]\nname = \"NS\"\naddress = \"127.25.1.53\"\nroles = [\"dns\"]\n";
        std::ofstream(dir / "top.toml") << "schema = 1\ninclude = [\"base/net.toml\"]\n[scenario]\nid = \"top\"\ntitle = \"t\"\n"
                                           "[lab]\nseed = 9\n[[host]]\nname = \"WS\"\naddress = \"127.25.1.20\"\n";
    }
    diagnostics d;
    sim::load_options o;
    o.library_root = dir.string();
    auto s = sim::load_scenario((dir / "top.toml").string(), d, o);
    ASSERT_TRUE(s) << (d.empty() ? "" : d.sorted().front().to_string());
    EXPECT_EQ(s->lab.speed, 5.0);  // from the include
    EXPECT_EQ(s->lab.seed, 9u);    // the including file wins
    ASSERT_EQ(s->answer.hosts.size(), 2u);
    EXPECT_EQ(s->answer.hosts[0].name, "NS");
    EXPECT_EQ(s->answer.hosts[1].name, "WS");
    ASSERT_EQ(s->included.size(), 1u);
    fs::remove_all(dir);
}

TEST(scenario_loader, collects_every_error_not_just_the_first) {
    std::string text = "schema = 1\n[scenario]\nid = \"x\"\ntitle = \"x\"\n[[host]]\nname = \"A\"\naddres = \"1\"\ncolor = 3\n";
    diagnostics d;
    EXPECT_FALSE(sim::load_scenario_text(text, "x.toml", d));
    auto all = d.sorted();
    ASSERT_GE(all.size(), 3u);  // missing address, two unknown keys
    EXPECT_EQ(all[0].to_string(), "x.toml:5:1: error: [[host]] is missing `address`");
}

}  // namespace
