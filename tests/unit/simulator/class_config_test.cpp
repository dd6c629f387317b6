#include "simulator/class_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using sim::diagnostics;

// Every diagnostic as "line:col: message", joined by newlines.
std::string errors_of(const diagnostics& d) {
    std::string out;
    for (auto& e : d.sorted()) out += std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message + "\n";
    return out;
}

TEST(class_config, reads_the_short_form) {
    diagnostics d;
    auto c = sim::parse_class(R"(
[class]
title = "Tuesday"
scenario = "bad-a-record"
trainees = ["ana", "ben", "cy"]
time_limit = "45m"
)", "class.toml", d);
    ASSERT_TRUE(c) << errors_of(d);
    EXPECT_EQ(c->title, "Tuesday");
    ASSERT_EQ(c->trainees.size(), 3u);
    EXPECT_EQ(c->trainees[1].name, "ben");
    EXPECT_EQ(c->prefix, 60);
    EXPECT_EQ(c->speed, 1.0);
    EXPECT_EQ(c->ports, "auto");
    ASSERT_TRUE(c->time_limit);
    EXPECT_EQ(c->time_limit->count(), 45 * 60 * 1000);
    // Seeds differ per trainee, so picks differ; everyone gets the one scenario.
    EXPECT_EQ(sim::seed_of(*c, 0), 1u);
    EXPECT_EQ(sim::seed_of(*c, 2), 3u);
    EXPECT_EQ(sim::scenario_of(*c, 2), "bad-a-record");
}

TEST(class_config, reads_trainee_tables_and_hands_out_scenarios_in_turn) {
    diagnostics d;
    auto c = sim::parse_class(R"(
[class]
scenarios = ["a", "b"]
prefix = 100
seed = 50
speed = 2.5
ports = "high"
instructor_token = "teacher-secret"

[[trainee]]
name = "ana"
token = "ana-secret"
seed = 7

[[trainee]]
name = "ben"

[[trainee]]
name = "cy"
scenario = "own"
)", "class.toml", d);
    ASSERT_TRUE(c) << errors_of(d);
    EXPECT_EQ(c->instructor_token, "teacher-secret");
    EXPECT_EQ(c->trainees[0].token, "ana-secret");
    EXPECT_EQ(sim::seed_of(*c, 0), 7u);
    EXPECT_EQ(sim::seed_of(*c, 1), 51u);
    EXPECT_EQ(sim::scenario_of(*c, 0), "a");
    EXPECT_EQ(sim::scenario_of(*c, 1), "b");
    EXPECT_EQ(sim::scenario_of(*c, 2), "own");
    EXPECT_EQ(c->speed, 2.5);
    EXPECT_EQ(c->ports, "high");
    EXPECT_EQ(c->prefix, 100);
}

TEST(class_config, every_mistake_has_its_position) {
    diagnostics d;
    auto c = sim::parse_class(R"([class]
scenaro = "x"
prefix = 0
speed = "fast"
ports = "low"
time_limit = "soon"
instructor_token = "short"

[[trainee]]
name = "ana"
token = "same-token-1"

[[trainee]]
name = "ANA"
token = "same-token-1"

[[trainee]]
name = "bad name!"

[[trainee]]
nick = "x"
)", "class.toml", d);
    EXPECT_FALSE(c);
    EXPECT_EQ(errors_of(d),
              "1:1: no scenario: add [class] scenario = \"ID\" (or scenarios = [...]), or give every trainee one\n"
              "2:1: unknown key `scenaro` in [class] — did you mean `scenario`?\n"
              "3:10: `prefix` must be a whole number from 1 to 255\n"
              "4:9: `speed` must be a number from 0.001 to 100000\n"
              "5:9: `ports` must be \"auto\", \"standard\" or \"high\"\n"
              "6:14: `time_limit` must be a duration such as \"45m\" or \"1h30m\"\n"
              "7:20: `instructor_token` must be 8 to 128 letters, digits, `-`, `_` or `.`\n"
              "13:1: two trainees are called `ANA`\n"
              "13:1: the token of `ANA` is used twice (each trainee and the instructor need their own)\n"
              "17:1: trainee name `bad name!` must be 1 to 40 letters, digits, `-`, `_` or `.`\n"
              "20:1: this [[trainee]] has no `name`\n"
              "21:1: unknown key `nick` in [[trainee]]\n");
}

TEST(class_config, refuses_a_class_without_trainees_or_past_127_255) {
    diagnostics d;
    EXPECT_FALSE(sim::parse_class("[class]\nscenario = \"x\"\n", "c.toml", d));
    EXPECT_NE(errors_of(d).find("the class has no trainees"), std::string::npos);

    std::string many = "[class]\nscenario = \"x\"\nprefix = 250\ntrainees = [";
    for (int i = 0; i < 10; ++i) many += (i ? ", " : "") + std::string("\"t") + std::to_string(i) + "\"";
    many += "]\n";
    diagnostics d2;
    EXPECT_FALSE(sim::parse_class(many, "c.toml", d2));
    EXPECT_NE(errors_of(d2).find("would go past 127.255"), std::string::npos);
}

TEST(class_config, hostile_text_is_an_error_not_a_crash) {
    diagnostics d;
    EXPECT_FALSE(sim::parse_class("[[[1]]]\n", "c.toml", d));
    EXPECT_FALSE(d.empty());
    diagnostics d2;
    EXPECT_FALSE(sim::parse_class(std::string("a = \"\xff\"\n"), "c.toml", d2));
    EXPECT_FALSE(d2.empty());
}

}  // namespace
