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
