#include "simulator/config_json.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <boost/json.hpp>

#include "simulator/faults.hpp"
#include "simulator/scenario_loader.hpp"

namespace {

namespace fs = std::filesystem;

// Every scenario of the library: its configuration survives JSON and back,
// also with every fault applied (the live configuration a restart takes up).
TEST(config_json, every_library_configuration_round_trips) {
    int seen = 0;
    for (auto& e : fs::recursive_directory_iterator(fs::path(MAILSIM_SOURCE_DIR) / "scenarios")) {
        if (e.path().extension() != ".toml" || sim::is_fragment_path(e.path().string())) continue;
        sim::diagnostics d;
        auto s = sim::load_scenario(e.path().string(), d);
        ASSERT_TRUE(s) << e.path();
        auto live = s->answer;
        for (auto& f : sim::resolve_faults(s->faults, s->lab.seed)) sim::apply_fault(live, f);
        for (auto* c : {&s->answer, &live}) {
            auto text = boost::json::serialize(sim::config_to_json(*c));
            auto back = sim::config_from_json(boost::json::parse(text));
            EXPECT_TRUE(back.hosts == c->hosts) << e.path();
            EXPECT_TRUE(back.zones == c->zones) << e.path();
            EXPECT_TRUE(back.routers == c->routers) << e.path();
            EXPECT_TRUE(back.links == c->links) << e.path();
            EXPECT_TRUE(back.segments == c->segments) << e.path();
            // And the same JSON again: nothing is lost or added on the way.
            EXPECT_EQ(boost::json::serialize(sim::config_to_json(back)), text) << e.path();
        }
        for (auto& f : sim::resolve_faults(s->faults, s->lab.seed)) {
            auto back = sim::fault_from_json(sim::fault_to_json(f));
            EXPECT_EQ(back.id, f.id);
            EXPECT_EQ(back.kind, f.kind);
            EXPECT_EQ(back.params, f.params);
            EXPECT_TRUE(back.timing == f.timing);
        }
        ++seen;
    }
    EXPECT_GT(seen, 40);
}

TEST(config_json, a_bad_document_names_where) {
    auto v = boost::json::parse(R"({"hosts": [{"name": "A", "roles": ["wizard"]}]})");
    try {
        sim::config_from_json(v);
        FAIL() << "accepted an unknown role";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()), "hosts[0].roles: unknown role `wizard`");
    }
    EXPECT_THROW(sim::config_from_json(boost::json::parse(R"({"segments": [{"name": "x", "cidr": "nonsense"}]})")),
                 std::invalid_argument);
    EXPECT_THROW(sim::config_from_json(boost::json::parse("[]")), std::invalid_argument);
}

}  // namespace
