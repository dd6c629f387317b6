#include "simulator/lab_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_dns/wire.hpp"

namespace {

// A query for `name` and `type` as a client sends it.
std::vector<std::uint8_t> query_for(const std::string& name, std::uint16_t type) {
    fake_dns::message m;
    m.hdr.id = 0x1234;
    m.hdr.rd = true;
    m.questions.push_back({name, type, 1});
    return fake_dns::encode(m);
}

std::string described(const std::vector<std::uint8_t>& query) {
    sim::log_entry e;
    e.kind = "dns";
    auto& q = e.query.emplace();
    q.client = (127u << 24) | 1;
    q.set_question(query);
    return e.describe();
}

TEST(lab_log, a_query_is_logged_by_its_name_as_sent_and_its_type) {
    EXPECT_EQ(described(query_for("Exch1.CORP.example", 1)), "127.0.0.1 asked Exch1.CORP.example A: NOERROR, 0 answers");
    EXPECT_EQ(described(query_for("corp.example", 15)), "127.0.0.1 asked corp.example MX: NOERROR, 0 answers");
    EXPECT_EQ(described(query_for("", 2)), "127.0.0.1 asked . NS: NOERROR, 0 answers");
}

TEST(lab_log, a_long_name_is_kept_as_text) {
    std::string name = "a-rather-long-label-that-goes-on.and-another-long-label-after-it.corp.example";
    sim::dns_query_note q;
    q.set_question(query_for(name, 28));
    EXPECT_EQ(q.wire_size, 0);
    EXPECT_EQ(q.qname(), name);
    EXPECT_EQ(q.qtype, 28);
}

TEST(lab_log, a_malformed_query_says_so) {
    std::vector<std::uint8_t> truncated = query_for("exch1.corp.example", 1);
    truncated.resize(20);
    EXPECT_EQ(described(truncated), "127.0.0.1 asked (malformed query): NOERROR, 0 answers");
    EXPECT_EQ(described({1, 2, 3}), "127.0.0.1 asked (malformed query): NOERROR, 0 answers");
}

}  // namespace

namespace {

TEST(lab_log, a_full_log_keeps_the_newest_entries_in_order) {
    sim::lab_log log(3);
    std::vector<std::uint64_t> told;
    log.subscribe([&](const sim::log_entry& e) { told.push_back(e.seq); });
    for (int i = 1; i <= 5; ++i) {
        sim::log_entry e;
        e.kind = "note";
        e.text = "entry " + std::to_string(i);
        EXPECT_EQ(log.add(std::move(e)), static_cast<std::uint64_t>(i));
    }
    // In place, as the DNS path writes: the oldest slot comes back, its old text must not show.
    auto& slot = log.next_slot();
    slot.kind.assign("dns");
    slot.text.clear();
    slot.query.emplace().set_question(query_for("corp.example", 6));
    EXPECT_EQ(log.publish(), 6u);
    EXPECT_EQ(told, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
    auto all = log.since(0);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].seq, 4u);
    EXPECT_EQ(all[0].text, "entry 4");
    EXPECT_EQ(all[1].text, "entry 5");
    EXPECT_EQ(all[2].seq, 6u);
    EXPECT_EQ(all[2].describe(), "0.0.0.0 asked corp.example SOA: NOERROR, 0 answers");
    EXPECT_EQ(log.since(5).size(), 1u);
    EXPECT_EQ(log.since(6).size(), 0u);
    EXPECT_EQ(log.since(4, 1).front().seq, 5u);
    EXPECT_EQ(log.last_seq(), 6u);
}

}  // namespace
