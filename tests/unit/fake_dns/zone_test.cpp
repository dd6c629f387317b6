#include "fake_dns/zone.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "fake_dns/wire.hpp"

namespace {

using namespace fake_dns;

std::vector<record> corp_records() {
    return {
        {"corp.example", 6, 3600, soa_data{"ns1.corp.example", "hostmaster.corp.example", 1, 7200, 900, 1209600, 300}},
        {"corp.example", 2, 3600, name_data{"ns1.corp.example"}},
        {"corp.example", 15, 3600, mx_data{10, "Exch1.corp.example"}},
        {"exch1.corp.example", 1, 3600, a_data{0x7f190abe}},
        {"exch1.corp.example", 28, 3600, aaaa_data{}},
        {"exch1.corp.example", 1, 3600, a_data{0x7f190abf}},
        {"exch1.corp.example", 1, 60, a_data{0x7f190abe}},  // a duplicate (RFC 2181 5)
        {"a.b.ent.corp.example", 16, 3600, txt_data{{"x"}}},
        {"sub.corp.example", 2, 3600, name_data{"ns.sub.corp.example"}},
        {"ns.sub.corp.example", 1, 3600, a_data{0x41414141}},  // octets that look like "AAAA"
    };
}

std::string key(std::string_view text) {
    wire_name w;
    text_to_wire(text, w);
    return std::string(reinterpret_cast<const char*>(w.bytes.data()), w.size);
}

TEST(zone, find_by_canonical_owner) {
    zone z("corp.example", corp_records());
    bool exists = false;
    auto apex = z.find("corp.example", exists);
    EXPECT_TRUE(exists);
    EXPECT_EQ(apex.size(), 3u);
    auto host = z.find("EXCH1.Corp.Example.", exists);  // any case, trailing dot
    EXPECT_TRUE(exists);
    ASSERT_EQ(host.size(), 3u);  // the duplicate A is not indexed twice
    EXPECT_EQ(host[0]->type, 1);
    EXPECT_EQ(host[1]->type, 1);  // RRsets grouped, in order of first appearance
    EXPECT_EQ(host[2]->type, 28);
    EXPECT_TRUE(z.find("nope.corp.example", exists).empty());
    EXPECT_FALSE(exists);
    EXPECT_TRUE(z.find("a..b", exists).empty());
    EXPECT_FALSE(exists);
}

TEST(zone, empty_non_terminals_exist_without_records) {
    zone z("corp.example", corp_records());
    bool exists = false;
    for (const char* ent : {"b.ent.corp.example", "ent.corp.example"}) {
        EXPECT_TRUE(z.find(ent, exists).empty()) << ent;
        EXPECT_TRUE(exists) << ent;
    }
    EXPECT_EQ(z.find("a.b.ent.corp.example", exists).size(), 1u);
    EXPECT_TRUE(z.find("c.ent.corp.example", exists).empty());
    EXPECT_FALSE(exists);
    EXPECT_FALSE(z.find("example", exists).size());
    EXPECT_FALSE(exists);  // above the apex is not part of the zone
}

TEST(zone, soa_and_negative_ttl) {
    zone z("corp.example", corp_records());
    ASSERT_NE(z.soa(), nullptr);
    EXPECT_EQ(z.soa()->type, 6);
    EXPECT_EQ(z.negative_ttl(), 300u);
    auto recs = corp_records();
    recs[0].ttl = 60;
    EXPECT_EQ(zone("corp.example", recs).negative_ttl(), 60u);
    recs.erase(recs.begin());
    EXPECT_EQ(zone("corp.example", recs).soa(), nullptr);
    zone empty("corp.example", {});
    EXPECT_EQ(empty.soa(), nullptr);
    EXPECT_NE(empty.lookup(key("corp.example")), nullptr);
}

TEST(zone, wire_index_and_delegations) {
    zone z("Corp.Example", corp_records());
    EXPECT_EQ(z.origin_wire(), key("corp.example"));
    EXPECT_TRUE(z.has_delegations());
    const auto* sub = z.lookup(key("sub.corp.example"));
    ASSERT_NE(sub, nullptr);
    EXPECT_TRUE(sub->delegation);
    const auto* apex = z.lookup(key("corp.example"));
    ASSERT_NE(apex, nullptr);
    EXPECT_FALSE(apex->delegation);  // NS at the apex is not a cut
    ASSERT_NE(apex->find(15), nullptr);
    const auto& mx = z.wire(apex->find(15)->records[0]);
    EXPECT_EQ(mx.form, zone::rdata_form::mx);
    EXPECT_EQ(mx.rdata.substr(2), key("exch1.corp.example"));  // RDATA names lower-cased
    const auto* glue = z.lookup(key("ns.sub.corp.example"));
    ASSERT_NE(glue, nullptr);
    EXPECT_EQ(z.wire(glue->find(1)->records[0]).rdata, "AAAA");  // address octets untouched
    EXPECT_EQ(z.wire(glue->find(1)->records[0]).form, zone::rdata_form::raw);
    EXPECT_EQ(z.lookup(key("www.corp.example")), nullptr);

    zone flat("corp.example", {corp_records()[0], corp_records()[1]});
    EXPECT_FALSE(flat.has_delegations());
}

TEST(zone, rejects_records_it_cannot_serve) {
    EXPECT_THROW(zone("corp.example", {{"www.other.example", 1, 1, a_data{1}}}), std::invalid_argument);
    EXPECT_THROW(zone("corp.example", {{"xcorp.example", 1, 1, a_data{1}}}), std::invalid_argument);
    EXPECT_THROW(zone("corp.example", {{std::string(64, 'a') + ".corp.example", 1, 1, a_data{1}}}),
                 std::invalid_argument);
    EXPECT_THROW(zone("corp.example", {{"corp.example", 5, 1, name_data{"a..b"}}}), std::invalid_argument);
    EXPECT_NO_THROW(zone("", {{"anything.at.all", 1, 1, a_data{1}}}));  // the root zone holds everything
}

TEST(zone, wildcard_for_finds_the_source_of_synthesis) {
    // RFC 4592 3.3.1: the wildcard that answers is `*.<closest encloser>`, and only for
    // names that do not exist.
    zone z("corp.example", {
        {"corp.example", 6, 3600, soa_data{"ns1.corp.example", "h.corp.example", 1, 2, 3, 4, 300}},
        {"*.Wild.corp.example", 1, 3600, a_data{1}},
        {"a.b.wild.corp.example", 1, 3600, a_data{2}},  // b.wild is an empty non-terminal
        {"x.*.went.corp.example", 1, 3600, a_data{3}},  // *.went is an empty non-terminal
        {"plain.corp.example", 1, 3600, a_data{4}},
        {"*x.corp.example", 1, 3600, a_data{5}},        // not a wildcard: the label is "*x"
    });
    EXPECT_TRUE(z.has_wildcards());
    const auto* star = z.lookup(key("*.wild.corp.example"));
    ASSERT_NE(star, nullptr);
    EXPECT_TRUE(z.lookup(key("wild.corp.example"))->wildcard_child);
    EXPECT_TRUE(z.lookup(key("went.corp.example"))->wildcard_child);
    EXPECT_FALSE(z.lookup(key("corp.example"))->wildcard_child);
    EXPECT_FALSE(z.lookup(key("b.wild.corp.example"))->wildcard_child);

    EXPECT_EQ(z.wildcard_for(key("x.wild.corp.example")), star);
    EXPECT_EQ(z.wildcard_for(key("deep.x.wild.corp.example")), star);
    // Below an existing name the closest encloser is that name, which has no wildcard.
    EXPECT_EQ(z.wildcard_for(key("c.b.wild.corp.example")), nullptr);
    EXPECT_EQ(z.wildcard_for(key("y.*.wild.corp.example")), nullptr);
    EXPECT_EQ(z.wildcard_for(key("nope.corp.example")), nullptr);
    EXPECT_EQ(z.wildcard_for(key("y.corp.example")), nullptr);  // "*x" covers nothing
    // An empty non-terminal wildcard still answers (with no data, RFC 4592 4.9).
    const auto* ent = z.wildcard_for(key("q.went.corp.example"));
    ASSERT_NE(ent, nullptr);
    EXPECT_TRUE(ent->rrsets.empty());
    // Outside the zone nothing matches, even below a name that looks alike.
    EXPECT_EQ(z.wildcard_for(key("x.wild.corp.example.net")), nullptr);
    EXPECT_EQ(z.wildcard_for(key("example")), nullptr);
    EXPECT_EQ(z.wildcard_for(key("")), nullptr);

    // At the apex, and in the root zone.
    zone apex("w.example", {{"*.w.example", 1, 60, a_data{1}}, {"host.w.example", 1, 60, a_data{2}}});
    EXPECT_EQ(apex.wildcard_for(key("a.b.c.w.example")), apex.lookup(key("*.w.example")));
    EXPECT_EQ(apex.wildcard_for(key("x.host.w.example")), nullptr);
    zone root("", {{"*", 1, 60, a_data{1}}});
    EXPECT_EQ(root.wildcard_for(key("anything.at.all")), root.lookup(key("*")));
    // A zone named with a `*` label is not a wildcard of its own parent.
    zone named("*.example", {{"www.*.example", 1, 60, a_data{1}}});
    EXPECT_FALSE(named.has_wildcards());
    EXPECT_EQ(named.wildcard_for(key("x.*.example")), nullptr);

    EXPECT_FALSE(zone("corp.example", corp_records()).has_wildcards());
    EXPECT_EQ(zone("corp.example", corp_records()).wildcard_for(key("x.corp.example")), nullptr);
}

TEST(zone, copies_are_self_contained) {
    zone original("corp.example", corp_records());
    zone copy = original;
    bool exists = false;
    EXPECT_EQ(copy.find("exch1.corp.example", exists).size(), 3u);
    EXPECT_EQ(copy.records().size(), original.records().size());
    EXPECT_NE(copy.lookup(key("corp.example")), original.lookup(key("corp.example")));
    // The wildcard index is looked up by name, so a copy answers from its own nodes.
    zone wild("corp.example", {{"*.corp.example", 1, 60, a_data{1}}});
    zone wild_copy = wild;
    EXPECT_EQ(wild_copy.wildcard_for(key("x.corp.example")), wild_copy.lookup(key("*.corp.example")));
}

}  // namespace
