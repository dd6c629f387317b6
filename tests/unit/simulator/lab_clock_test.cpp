#include "simulator/lab_clock.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using sim::duration;
using steady = std::chrono::steady_clock;

TEST(lab_clock, runs_at_its_speed_and_jumps_forward) {
    auto t0 = steady::time_point{} + 1000s;
    sim::lab_clock c(60, t0);
    EXPECT_EQ(c.now(t0), duration{0});
    EXPECT_EQ(c.now(t0 + 1s), duration(60s));
    c.advance(10min, t0 + 1s);
    EXPECT_EQ(c.now(t0 + 1s), duration(11min));
    EXPECT_EQ(c.now(t0 + 2s), duration(12min));
    EXPECT_EQ(c.advanced(), duration(10min));
    c.set_speed(1, t0 + 2s);
    EXPECT_EQ(c.now(t0 + 3s), duration(12min + 1s));
}

TEST(lab_clock, real_time_of_a_simulated_instant) {
    auto t0 = steady::time_point{} + 1000s;
    sim::lab_clock c(60, t0);
    auto at = c.real_at(duration(120s), t0);
    EXPECT_GE(at, t0 + 2s);
    EXPECT_LE(at, t0 + 2s + 1ms);
    EXPECT_EQ(c.real_at(duration(0), t0 + 5s), t0 + 5s);  // past times are now
    // Never early: at the returned real time, the simulated time has arrived.
    for (auto ms : {1, 7, 999, 12345}) EXPECT_GE(c.now(c.real_at(duration(ms), t0)), duration(ms));
}

TEST(lab_schedule, takes_what_is_due_in_time_order) {
    sim::lab_schedule s;
    std::vector<int> ran;
    s.at(duration(30s), [&] { ran.push_back(3); });
    s.at(duration(10s), [&] { ran.push_back(1); });
    auto cancelled = s.at(duration(15s), [&] { ran.push_back(99); });
    s.at(duration(10s), [&] { ran.push_back(2); });  // same time: first scheduled first
    s.cancel(cancelled);
    s.cancel(12345);  // unknown ids are ignored
    EXPECT_EQ(s.next(), duration(10s));
    for (auto& fn : s.take_due(duration(20s))) fn();
    EXPECT_EQ(ran, (std::vector<int>{1, 2}));
    EXPECT_EQ(s.next(), duration(30s));
    for (auto& fn : s.take_due(duration(1h))) fn();
    EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
    EXPECT_FALSE(s.next());
    EXPECT_EQ(s.size(), 0u);
}

}  // namespace
