#include "fake_dns/record.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fake_dns;

TEST(record, type_names) {
    EXPECT_EQ(type_name(1), "A");
    EXPECT_EQ(type_name(2), "NS");
    EXPECT_EQ(type_name(5), "CNAME");
    EXPECT_EQ(type_name(6), "SOA");
    EXPECT_EQ(type_name(12), "PTR");
    EXPECT_EQ(type_name(15), "MX");
    EXPECT_EQ(type_name(16), "TXT");
    EXPECT_EQ(type_name(28), "AAAA");
    EXPECT_EQ(type_name(41), "OPT");
    EXPECT_EQ(type_name(255), "ANY");
    EXPECT_EQ(type_name(99), "TYPE99");
    EXPECT_EQ(type_name(65535), "TYPE65535");
}

TEST(record, parse_type_accepts_mnemonics_and_rfc3597_form) {
    EXPECT_EQ(parse_type("mx"), 15);
    EXPECT_EQ(parse_type("Aaaa"), 28);
    EXPECT_EQ(parse_type("CNAME"), 5);
    EXPECT_EQ(parse_type("any"), 255);
    EXPECT_EQ(parse_type("TYPE99"), 99);
    EXPECT_EQ(parse_type("type1"), 1);
    EXPECT_EQ(parse_type("TYPE65535"), 65535);
    EXPECT_FALSE(parse_type("TYPE65536"));
    EXPECT_FALSE(parse_type("TYPE"));
    EXPECT_FALSE(parse_type("TYPEx1"));
    EXPECT_FALSE(parse_type("TYPE1x"));
    EXPECT_FALSE(parse_type("TYPE-1"));
    EXPECT_FALSE(parse_type("MXX"));
    EXPECT_FALSE(parse_type(""));
}

record make(std::string owner, std::uint16_t type, rdata data) { return record{std::move(owner), type, 3600, std::move(data)}; }

TEST(record, rdata_in_master_file_form) {
    EXPECT_EQ(rdata_to_text(make("x", 1, a_data{0x7f190abe})), "127.25.10.190");
    EXPECT_EQ(rdata_to_text(make("x", 2, name_data{"ns1.corp.example"})), "ns1.corp.example.");
    EXPECT_EQ(rdata_to_text(make("x", 5, name_data{""})), ".");
    EXPECT_EQ(rdata_to_text(make("x", 15, mx_data{10, "exch1.corp.example"})), "10 exch1.corp.example.");
    EXPECT_EQ(rdata_to_text(make("x", 6, soa_data{"ns1.corp.example", "hostmaster.corp.example", 2024010101, 7200,
                                                    900, 1209600, 300})),
              "ns1.corp.example. hostmaster.corp.example. 2024010101 7200 900 1209600 300");
    EXPECT_EQ(rdata_to_text(make("x", 16, txt_data{{"v=spf1 -all", "say \"hi\"\\", std::string("\x01\xff", 2)}})),
              "\"v=spf1 -all\" \"say \\\"hi\\\"\\\\\" \"\\001\\255\"");
    EXPECT_EQ(rdata_to_text(make("x", 16, txt_data{})), "\"\"");
}

aaaa_data v6(std::initializer_list<std::uint16_t> groups) {
    aaaa_data d;
    std::size_t i = 0;
    for (auto g : groups) {
        d.address[i++] = static_cast<std::uint8_t>(g >> 8);
        d.address[i++] = static_cast<std::uint8_t>(g);
    }
    return d;
}

TEST(record, aaaa_text_follows_rfc5952) {
    auto text = [](aaaa_data d) { return rdata_to_text(make("x", 28, d)); };
    EXPECT_EQ(text(v6({0, 0, 0, 0, 0, 0, 0, 1})), "::1");
    EXPECT_EQ(text(v6({0, 0, 0, 0, 0, 0, 0, 0})), "::");
    EXPECT_EQ(text(v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x190})), "2001:db8::190");
    EXPECT_EQ(text(v6({0x2001, 0xdb8, 0, 1, 0, 0, 0, 1})), "2001:db8:0:1::1");       // longest run
    EXPECT_EQ(text(v6({0x2001, 0, 0, 1, 0, 0, 1, 1})), "2001::1:0:0:1:1");            // first of equal runs
    EXPECT_EQ(text(v6({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1})), "2001:db8:0:1:1:1:1:1");  // no single-zero ::
    EXPECT_EQ(text(v6({1, 2, 3, 4, 5, 6, 7, 0})), "1:2:3:4:5:6:7:0");
    EXPECT_EQ(text(v6({0xfe80, 0, 0, 0, 0, 0, 0, 0})), "fe80::");
    EXPECT_EQ(text(v6({0, 0, 0, 0, 0, 0xffff, 0x7f19, 0x0a01})), "::ffff:127.25.10.1");
}

TEST(record, to_text_is_one_master_file_line) {
    EXPECT_EQ(to_text(make("exch1.corp.example", 1, a_data{0x7f190abe})), "exch1.corp.example. 3600 IN A 127.25.10.190");
    EXPECT_EQ(to_text(make("", 2, name_data{"a.root-servers.net"})), ". 3600 IN NS a.root-servers.net.");
    EXPECT_EQ(to_text(record{"x.corp.example", 99, 5, a_data{1}}), "x.corp.example. 5 IN TYPE99 0.0.0.1");
}

TEST(record, canonical_name) {
    EXPECT_EQ(canonical_name("Exch1.CORP.example."), "exch1.corp.example");
    EXPECT_EQ(canonical_name("corp.example"), "corp.example");
    EXPECT_EQ(canonical_name("."), "");
    EXPECT_EQ(canonical_name(""), "");
    EXPECT_EQ(canonical_name("a.."), "a.");  // one dot only
    EXPECT_EQ(canonical_name("a\\."), "a\\.");  // an escaped dot is part of the label
    EXPECT_EQ(canonical_name("a\\\\."), "a\\\\");
}

TEST(record, in_zone) {
    EXPECT_TRUE(in_zone("corp.example", "corp.example"));
    EXPECT_TRUE(in_zone("www.corp.example", "corp.example"));
    EXPECT_TRUE(in_zone("a.b.corp.example", "corp.example"));
    EXPECT_TRUE(in_zone("anything", ""));
    EXPECT_TRUE(in_zone("", ""));
    EXPECT_FALSE(in_zone("xcorp.example", "corp.example"));
    EXPECT_FALSE(in_zone("example", "corp.example"));
    EXPECT_FALSE(in_zone("", "corp.example"));
    EXPECT_FALSE(in_zone("corp.example.net", "corp.example"));
    EXPECT_FALSE(in_zone("a\\.corp.example", "corp.example"));  // one label "a.corp", then "example"
    EXPECT_TRUE(in_zone("a\\\\.corp.example", "corp.example"));
}

}  // namespace
