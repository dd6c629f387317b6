#include "trainer/session.hpp"

#include <gtest/gtest.h>

#include "simulator/scenario_loader.hpp"

namespace {

using namespace std::chrono_literals;
using trainer::session;

sim::scenario load(const std::string& name) {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/" + name, d);
    EXPECT_TRUE(s) << name;
    return *s;
}

sim::fault make(std::string id, std::string kind, std::map<std::string, sim::param_value> params) {
    return {std::move(id), std::move(kind), std::move(params), {}};
}

sim::trainer_config config() {
    sim::trainer_config c;
    c.time_limit = 45min;
    c.points = 100;
    c.hint_cost = 10;
    c.wrong_diagnosis_cost = 15;
    return c;
}

struct SessionTest : ::testing::Test {
    sim::scenario guide = load("default.toml");
    sim::fault bad_a = make("f1", "dns.bad_a_record", {{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}});
    sim::fault gateway = make("f2", "net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}});
    session s{"s1", "ann", "bad-a-record", config(), {"first", "second"}, 0s};
};

TEST_F(SessionTest, HintsComeInOrderAndCost) {
    auto h1 = s.hint(1min);
    ASSERT_TRUE(h1);
    EXPECT_EQ(h1->first, "first");
    EXPECT_EQ(h1->second, 10);
    EXPECT_EQ(s.hint(2min)->first, "second");
    EXPECT_FALSE(s.hint(3min));  // none left, and no cost for asking
    EXPECT_EQ(s.hints_used(), 2);
    EXPECT_EQ(s.score(), 80);
}

TEST_F(SessionTest, DiagnosisMatchesKindAndTargetWhateverTheCase) {
    std::vector<sim::fault> faults{bad_a, gateway};
    EXPECT_TRUE(s.diagnose("DNS.Bad_A_Record", "EXCH1.corp.example.", faults, guide.answer, 1min).correct);
    // A host fault is named by the host's name or its FQDN.
    EXPECT_TRUE(s.diagnose("net.wrong_gateway", "mailhost", faults, guide.answer, 1min).correct);
    EXPECT_TRUE(s.diagnose("net.wrong_gateway", "mailhost.corp.example", faults, guide.answer, 1min).correct);
    auto wrong_target = s.diagnose("dns.bad_a_record", "mailhost.corp.example", faults, guide.answer, 2min);
    EXPECT_FALSE(wrong_target.correct);
    EXPECT_EQ(wrong_target.cost, 15);
    auto wrong_kind = s.diagnose("dns.missing_a_record", "exch1.corp.example", faults, guide.answer, 2min);
    EXPECT_FALSE(wrong_kind.correct);
    // The same wrong guess again costs nothing more.
    EXPECT_EQ(s.diagnose("DNS.MISSING_A_RECORD", "EXCH1.corp.example", faults, guide.answer, 3min).cost, 0);
    EXPECT_EQ(s.score(), 70);
}

TEST_F(SessionTest, VerifyNeedsEveryFaultGoneAndEveryCheckPassing) {
    std::vector<sim::fault> injected{bad_a};
    sim::trainer_check c;
    c.kind = "resolve";
    c.name = "exch1.corp.example";
    c.via = "MAILHOST";
    c.expect = "127.25.10.190";
    auto r = s.verify(injected, injected, {}, 5min);
    EXPECT_FALSE(r.passed);
    ASSERT_EQ(r.reasons.size(), 1u);
    EXPECT_EQ(r.reasons[0], "1 fault is still present in the lab");
    EXPECT_EQ(r.score, 0);
    EXPECT_EQ(r.state, "running");

    r = s.verify(injected, {}, {{c, false, "127.25.10.19"}}, 6min);
    EXPECT_FALSE(r.passed);
    ASSERT_EQ(r.reasons.size(), 1u);
    EXPECT_NE(r.reasons[0].find("check failed: exch1.corp.example (A) resolves to 127.25.10.190 from MAILHOST"),
              std::string::npos);

    s.hint(7min);
    r = s.verify(injected, {}, {{c, true, "127.25.10.190"}}, 10min);
    EXPECT_TRUE(r.passed);
    EXPECT_EQ(r.state, "passed");
    EXPECT_EQ(r.score, 90);
    EXPECT_EQ(r.elapsed, 10min);
    ASSERT_EQ(r.faults.size(), 1u);
    EXPECT_TRUE(r.faults[0].fixed);
    EXPECT_FALSE(r.faults[0].diagnosed);
    ASSERT_EQ(r.checks.size(), 1u);
    EXPECT_TRUE(r.checks[0].passed);
    // Once passed, the time and the score stay.
    EXPECT_EQ(s.current(injected, {}, 50min).elapsed, 10min);
}

TEST_F(SessionTest, TheTimeLimitEndsTheExercise) {
    auto r = s.verify({bad_a}, {}, {}, 46min);
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(r.state, "expired");
    ASSERT_FALSE(r.reasons.empty());
    EXPECT_EQ(r.reasons[0], "the time limit of 45m has passed");
    EXPECT_EQ(r.score, 0);
}

TEST_F(SessionTest, ScoreNeverGoesBelowZero) {
    for (int i = 0; i < 10; ++i) s.diagnose("net.link_down", "R" + std::to_string(i), {bad_a}, guide.answer, 1min);
    EXPECT_EQ(s.score(), 0);
}

TEST_F(SessionTest, SavedProgressComesBack) {
    s.hint(1min);
    s.diagnose("dns.bad_a_record", "exch1.corp.example", {bad_a}, guide.answer, 2min);
    s.add_evidence({3min, 1000, "console", "MAILHOST> ping exch1"});
    session again{"s1", "ann", "bad-a-record", config(), {"first", "second"}, 0s};
    again.restore(s.save());
    EXPECT_EQ(again.hints_used(), 1);
    EXPECT_EQ(again.score(), 90);
    EXPECT_EQ(again.hint(4min)->first, "second");
    auto r = again.current({bad_a}, {bad_a}, 5min);
    ASSERT_EQ(r.diagnoses.size(), 1u);
    EXPECT_TRUE(r.diagnoses[0].correct);
    EXPECT_TRUE(r.faults[0].diagnosed);
}

TEST(Hints, ScenarioHintsComeFirstAndAlone) {
    auto s = load("bad-a-record.toml");
    auto hints = trainer::hints_for(s, {});
    ASSERT_EQ(hints.size(), s.trainer->hints.size());
    EXPECT_EQ(hints[0], s.trainer->hints[0].text);
}

TEST(Hints, GeneratedHintsFollowTheGuidesOrder) {
    auto s = load("default.toml");
    s.trainer.reset();
    s.meta.guide_step.reset();
    auto imc = make("f1", "imc.stopped", {{"host", "EXCH1"}});
    auto dns = make("f2", "dns.bad_a_record", {{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}});
    auto loop = make("f3", "mail.ndr_loop", {{"hosts", std::vector<std::string>{"MAILHOST", "REMOTE"}}});
    // Given in any order, the questions come as the guide asks them: step 2, step 5, then the loops.
    auto hints = trainer::hints_for(s, {loop, dns, imc});
    ASSERT_GE(hints.size(), 6u);
    EXPECT_NE(hints[0].find("net start msexchangeimc"), std::string::npos) << hints[0];
    EXPECT_NE(hints[1].find("by address"), std::string::npos) << hints[1];
    EXPECT_NE(hints[2].find("netmon"), std::string::npos) << hints[2];
    EXPECT_EQ(hints[3].rfind("What to look for: ", 0), 0u) << hints[3];
    // The fault is never named in a hint.
    for (auto& h : hints) {
        EXPECT_EQ(h.find("imc.stopped"), std::string::npos);
        EXPECT_EQ(h.find("dns.bad_a_record"), std::string::npos);
    }
}

TEST(Checks, DefaultChecksCoverMailIntoAndOutOfTheLab) {
    auto s = load("default.toml");
    s.trainer.reset();
    auto checks = trainer::checks_for(s);
    ASSERT_FALSE(checks.empty());
    bool inbound = false, outbound = false;
    for (auto& c : checks) {
        EXPECT_EQ(c.kind, "deliver");
        EXPECT_EQ(c.expect, "delivered");
        if (c.to == "alice@corp.example" && c.via == "MAILHOST") inbound = true;
        if (c.from == "alice@corp.example" && c.to == "bob@example.net" && c.via == "EXCH1") outbound = true;
    }
    EXPECT_TRUE(inbound);
    EXPECT_TRUE(outbound);
    EXPECT_EQ(trainer::describe(checks.front()).rfind("mail from ", 0), 0u);
}

// A workstation cannot send outside mail: the first relay sends for it, from one of its mailboxes.
TEST(Checks, DefaultChecksSendFromARelayWhenTheVantageIsAWorkstation) {
    auto s = load("dns-servfail.toml");  // vantage CLIENT1, no [[trainer.check]]
    ASSERT_EQ(s.meta.vantage, "CLIENT1");
    auto checks = trainer::checks_for(s);
    bool inbound = false;
    for (auto& c : checks)
        if (c.to == "alice@corp.example") {
            inbound = true;
            EXPECT_EQ(c.via, "MAILHOST");
            EXPECT_EQ(c.from, "postmaster@mailhost.corp.example");
        }
    EXPECT_TRUE(inbound);
}

TEST(Checks, ConnectChecksAreDescribedFromTheirFromHost) {
    sim::trainer_check c;
    c.kind = "connect";
    c.from = "MAILHOST";
    c.host = "EXCH1";
    c.port = 25;
    c.expect = "open";
    EXPECT_EQ(trainer::describe(c), "a connection from MAILHOST to EXCH1:25 is open");
    c.from.clear();
    c.port = 0;
    EXPECT_EQ(trainer::describe(c), "a connection from the vantage host to EXCH1:25 is open");
}

}  // namespace
