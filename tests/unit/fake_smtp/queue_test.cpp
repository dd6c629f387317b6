#include "fake_smtp/queue.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using fake_smtp::attempt_result;
using fake_smtp::duration;
using fake_smtp::queued_recipient;
using outcome = attempt_result::outcome;

attempt_result deferred(const std::string& a, const std::string& why = "Host unreachable") {
    return {a, outcome::deferred, why, "4.4.1", ""};
}

TEST(queue, retries_after_1m_5m_15m_then_hourly) {
    fake_smtp::outbound_queue q;
    q.add("m1", "alice@corp.example", {"bob@example.net"}, "data", duration(0));
    std::vector<duration> tries;
    duration now{0};
    for (int i = 0; i < 6; ++i) {
        auto due = q.due(now);
        ASSERT_EQ(due, std::vector<std::string>{"m1"}) << "attempt " << i;
        tries.push_back(now);
        ASSERT_TRUE(q.begin_attempt("m1"));
        EXPECT_TRUE(q.due(now).empty());  // in flight
        auto r = q.finish_attempt("m1", {deferred("bob@example.net")}, now);
        ASSERT_TRUE(r.retry_at);
        EXPECT_TRUE(q.due(*r.retry_at - 1ms).empty());
        now = *r.retry_at;
    }
    EXPECT_EQ(tries, (std::vector<duration>{0min, 1min, 6min, 21min, 81min, 141min}));
    EXPECT_EQ(q.find("m1")->attempts, 6);
    EXPECT_EQ(q.find("m1")->recipients[0].last_error, "Host unreachable");
}

TEST(queue, bounces_what_is_still_deferred_after_the_deadline) {
    fake_smtp::retry_policy p;
    p.bounce_after = 2h;
    fake_smtp::outbound_queue q(p);
    q.add("m1", "alice@corp.example", {"a@x.example", "b@x.example"}, "data", duration(0));
    duration now{0};
    fake_smtp::attempt_report r;
    int attempts = 0;
    do {
        q.begin_attempt("m1");
        r = q.finish_attempt("m1", {deferred("a@x.example"), deferred("b@x.example", "TCP/IP timeout")}, now);
        ++attempts;
        if (r.retry_at) now = *r.retry_at;
    } while (!r.finished && attempts < 20);
    ASSERT_TRUE(r.finished);
    ASSERT_EQ(r.expired.size(), 2u);
    EXPECT_EQ(r.expired[1].last_error, "TCP/IP timeout");
    EXPECT_EQ(now, duration(2h));  // the last try lands on the deadline, not an hour past it
    EXPECT_EQ(q.find("m1")->recipients[0].what, queued_recipient::state::expired);
}

TEST(queue, per_recipient_outcomes) {
    fake_smtp::outbound_queue q;
    q.add("m1", "", {"a@x.example", "b@x.example", "c@x.example"}, "data", duration(0));
    q.begin_attempt("m1");
    auto r = q.finish_attempt("m1",
                              {{"a@x.example", outcome::delivered, "", "2.0.0", "mx.x.example"},
                               {"b@x.example", outcome::failed, "550 5.1.1 unknown", "5.1.1", "mx.x.example"},
                               deferred("c@x.example")},
                              duration(0));
    ASSERT_EQ(r.failed.size(), 1u);
    EXPECT_EQ(r.failed[0].address, "b@x.example");
    EXPECT_FALSE(r.finished);
    EXPECT_EQ(r.retry_at, duration(1min));
    q.begin_attempt("m1");
    r = q.finish_attempt("m1", {{"c@x.example", outcome::delivered, "", "", ""}}, duration(1min));
    EXPECT_TRUE(r.finished);
    EXPECT_TRUE(r.failed.empty());
    EXPECT_FALSE(q.next_wakeup());
}

TEST(queue, order_next_wakeup_restore_and_remove) {
    fake_smtp::outbound_queue q;
    q.add("b", "", {"x@y.example"}, "1", duration(5s));
    q.add("a", "", {"x@y.example"}, "2", duration(10s));
    EXPECT_EQ(q.due(duration(10s)), (std::vector<std::string>{"b", "a"}));  // arrival order, not id order
    EXPECT_EQ(q.next_wakeup(), duration(5s));
    q.begin_attempt("b");
    EXPECT_FALSE(q.begin_attempt("b"));
    EXPECT_EQ(q.next_wakeup(), duration(10s));
    auto copy = *q.find("b");
    q.remove("b");
    EXPECT_EQ(q.size(), 1u);
    q.restore(copy);  // as after a restart: no longer in flight
    EXPECT_FALSE(q.find("b")->in_flight);
    EXPECT_EQ(q.entries().size(), 2u);
    EXPECT_FALSE(q.begin_attempt("nope"));
    EXPECT_TRUE(q.finish_attempt("nope", {}, duration(0)).failed.empty());
}

TEST(queue, keeps_the_body_type_for_the_next_hop) {
    // RFC 6152 3: a message that came in as BODY=8BITMIME goes on as one.
    fake_smtp::outbound_queue q;
    q.add("7bit", "", {"x@y.example"}, "1", duration(0));
    q.add("8bit", "", {"x@y.example"}, "2", duration(0), true);
    EXPECT_FALSE(q.find("7bit")->body_8bit);
    EXPECT_TRUE(q.find("8bit")->body_8bit);
    q.finish_attempt("8bit", {deferred("x@y.example")}, duration(1s));
    EXPECT_TRUE(q.find("8bit")->body_8bit);
}

}  // namespace
