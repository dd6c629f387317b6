#include "fake_dns/zone_file.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace fake_dns;

std::vector<std::string> lines(const zone_parse_result& r) {
    std::vector<std::string> v;
    for (const auto& rec : r.records) v.push_back(to_text(rec));
    return v;
}

std::string errors(const zone_parse_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message + "\n";
    return s;
}

TEST(zone_file, every_syntax_feature) {
    const char* text = R"(; a zone in every style RFC 1035 5.1 allows
$TTL 1h
$ORIGIN Corp.Example.
@       IN  SOA ns1 hostmaster (   ; comment inside the parentheses
                2024010101 ; serial
                2h 15m 2w 300 )
        IN  NS  ns1
        NS      ns2.corp.example.
@   600     MX  10 Exch1
    IN 700  MX  20 exch2.other.example.
@       TXT "v=spf1 -all" "second \"quoted\" ; not a comment" \034x unquoted
Exch1   A   127.25.10.190
exch1   AAAA 2001:db8::190
v6      AAAA ::ffff:127.25.10.1
full    AAAA 2001:0db8:0000:0000:0000:0000:0000:0001
www 1d CNAME exch1
$ORIGIN sub
host    A 127.25.11.1
$ORIGIN corp.example.
ptr     PTR www
bin     TXT "\000\255\"\\" ""
)";
    auto r = parse_zone_text(text, "corp.example", 99);
    EXPECT_EQ(errors(r), "");
    EXPECT_EQ(lines(r), (std::vector<std::string>{
                            "corp.example. 3600 IN SOA ns1.corp.example. hostmaster.corp.example. 2024010101 7200 900 1209600 300",
                            "corp.example. 3600 IN NS ns1.corp.example.",
                            "corp.example. 3600 IN NS ns2.corp.example.",
                            "corp.example. 600 IN MX 10 exch1.corp.example.",
                            "corp.example. 700 IN MX 20 exch2.other.example.",
                            "corp.example. 3600 IN TXT \"v=spf1 -all\" \"second \\\"quoted\\\" ; not a comment\" "
                            "\"\\\"x\" \"unquoted\"",
                            "exch1.corp.example. 3600 IN A 127.25.10.190",
                            "exch1.corp.example. 3600 IN AAAA 2001:db8::190",
                            "v6.corp.example. 3600 IN AAAA ::ffff:127.25.10.1",
                            "full.corp.example. 3600 IN AAAA 2001:db8::1",
                            "www.corp.example. 86400 IN CNAME exch1.corp.example.",
                            "host.sub.corp.example. 3600 IN A 127.25.11.1",
                            "ptr.corp.example. 3600 IN PTR www.corp.example.",
                            "bin.corp.example. 3600 IN TXT \"\\000\\255\\\"\\\\\" \"\"",
                        }));
    ASSERT_EQ(r.records.size(), 14u);
    EXPECT_EQ(std::get<txt_data>(r.records.back().data).strings,
              (std::vector<std::string>{std::string("\0\xff\"\\", 4), ""}));
}

TEST(zone_file, ttl_defaults_and_units) {
    auto r = parse_zone_text("a A 127.0.0.1\n$TTL 2w\nb A 127.0.0.2\n$TTL 1h30m\nc A 127.0.0.3\nd 45 A 127.0.0.4\n"
                             "$TTL 10M\ne A 127.0.0.5\n",
                             "corp.example", 42);
    EXPECT_EQ(errors(r), "");
    ASSERT_EQ(r.records.size(), 5u);
    EXPECT_EQ(r.records[0].ttl, 42u);  // no $TTL yet: the default
    EXPECT_EQ(r.records[1].ttl, 1209600u);
    EXPECT_EQ(r.records[2].ttl, 5400u);
    EXPECT_EQ(r.records[3].ttl, 45u);
    EXPECT_EQ(r.records[4].ttl, 600u);
}

TEST(zone_file, empty_text_and_comments_only) {
    auto r = parse_zone_text("", "corp.example");
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(r.errors.empty());
    r = parse_zone_text("; nothing\n\n   \t\n   ; indented comment\n", "corp.example");
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(r.errors.empty());
}

TEST(zone_file, names_absolute_relative_and_at) {
    auto r = parse_zone_text("@ NS ns1\nns1 A 127.0.0.1\nns1.corp.example. AAAA ::1\nX.Y CNAME @\n"
                             "esc\\.aped TXT x\n",
                             "Corp.Example.");
    EXPECT_EQ(errors(r), "");
    ASSERT_EQ(r.records.size(), 5u);
    EXPECT_EQ(r.records[0].owner, "corp.example");
    EXPECT_EQ(std::get<name_data>(r.records[0].data).target, "ns1.corp.example");
    EXPECT_EQ(r.records[2].owner, "ns1.corp.example");
    EXPECT_EQ(r.records[3].owner, "x.y.corp.example");
    EXPECT_EQ(std::get<name_data>(r.records[3].data).target, "corp.example");
    EXPECT_EQ(r.records[4].owner, "esc\\.aped.corp.example");
    // A root zone: relative names need no origin suffix.
    auto root = parse_zone_text("@ NS a.root-servers.net.\nexample NS ns.example.\n", "");
    EXPECT_EQ(errors(root), "");
    EXPECT_EQ(lines(root), (std::vector<std::string>{". 3600 IN NS a.root-servers.net.",
                                                      "example. 3600 IN NS ns.example."}));
}

TEST(zone_file, ttl_and_class_in_either_order) {
    auto r = parse_zone_text("a 60 IN A 127.0.0.1\nb IN 60 A 127.0.0.2\nc in A 127.0.0.3\nd CLASS1 A 127.0.0.4\n",
                             "corp.example");
    EXPECT_EQ(errors(r), "");
    ASSERT_EQ(r.records.size(), 4u);
    EXPECT_EQ(r.records[0].ttl, 60u);
    EXPECT_EQ(r.records[1].ttl, 60u);
}

struct error_case {
    const char* text;
    const char* expected;  // "line:column: message"
};

class zone_file_errors : public ::testing::TestWithParam<error_case> {};

TEST_P(zone_file_errors, reports_position_and_message) {
    auto r = parse_zone_text(GetParam().text, "corp.example");
    EXPECT_EQ(errors(r), std::string(GetParam().expected) + "\n") << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    messages, zone_file_errors,
    ::testing::Values(
        error_case{"exch1 A 127.25.10.300\n", "1:9: bad IPv4 address \"127.25.10.300\" in A record"},
        error_case{"ok A 1.2.3.4\nx   A 1.2.3\n", "2:7: bad IPv4 address \"1.2.3\" in A record"},
        error_case{"ok A 1.2.3.4\n  x A 1.2.3.5\n", "2:3: unknown record type \"x\""},  // blank owner: x is the type
        error_case{"@ MXX 10 exch1\n", "1:3: unknown record type \"MXX\" (did you mean \"MX\"?)"},
        error_case{"@ CNAM exch1\n", "1:3: unknown record type \"CNAM\" (did you mean \"CNAME\"?)"},
        error_case{"@ FROBNICATE x\n", "1:3: unknown record type \"FROBNICATE\""},
        error_case{"@ TYPE99 x\n", "1:3: record type \"TYPE99\" is not supported"},
        error_case{"foo.other.example. A 1.2.3.4\n",
                   "1:1: record \"foo.other.example\" lies outside the zone \"corp.example\""},
        error_case{"$ORIGIN other.example.\nfoo A 1.2.3.4\n",
                   "2:1: record \"foo.other.example\" lies outside the zone \"corp.example\""},
        error_case{"@ SOA ns1 host ( 1 2 3 4 5\n\nwww A 1.2.3.4\n", "1:16: missing closing parenthesis"},
        error_case{"@ A 1.2.3.4 )\n", "1:13: unexpected closing parenthesis"},
        error_case{"x CNAME www\nx A 1.2.3.4\n", "1:1: CNAME at \"x.corp.example\" cannot coexist with other data"},
        error_case{"x CNAME www\nx CNAME mail\n", "1:1: more than one CNAME record at \"x.corp.example\""},
        error_case{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 1.2.3.4\n",
                   "1:1: label longer than 63 octets"},
        error_case{"www CNAME a..b\n", "1:11: empty label in name \"a..b\""},
        error_case{"@ CH TXT \"x\"\n", "1:3: only class IN is served"},
        error_case{"@ 60 HS A 1.2.3.4\n", "1:6: only class IN is served"},
        error_case{"@ AAAA 2001:db8::1::2\n", "1:8: bad IPv6 address \"2001:db8::1::2\" in AAAA record"},
        error_case{"@ AAAA 1:2:3:4:5:6:7\n", "1:8: bad IPv6 address \"1:2:3:4:5:6:7\" in AAAA record"},
        error_case{"@ AAAA 12345::\n", "1:8: bad IPv6 address \"12345::\" in AAAA record"},
        error_case{"@ AAAA ::1.2.3.256\n", "1:8: bad IPv6 address \"::1.2.3.256\" in AAAA record"},
        error_case{"@ MX ten exch1\n", "1:6: bad MX preference \"ten\""},
        error_case{"@ MX 10\n", "1:8: missing exchange in MX record"},
        error_case{"@ A\n", "1:4: missing address in A record"},
        error_case{"@ A 1.2.3.4 5.6.7.8\n", "1:13: unexpected \"5.6.7.8\" after the A record data"},
        error_case{"@ 60\n", "1:5: missing record type"},
        error_case{"@ 1x A 1.2.3.4\n", "1:3: bad TTL \"1x\""},
        error_case{"$TTL forever\n", "1:6: bad TTL \"forever\""},
        error_case{"$TTL 99999999999\n", "1:6: bad TTL \"99999999999\""},
        error_case{"$TTL\n", "1:5: missing TTL after $TTL"},
        error_case{"$INCLUDE other.zone\n", "1:1: $INCLUDE is not supported"},
        error_case{"$GENERATE 1-2 x A 1.2.3.4\n", "1:1: unknown directive \"$GENERATE\""},
        error_case{"  A 1.2.3.4\n", "1:3: no previous owner name for this record"},
        error_case{"@ TXT \"open\n", "1:7: missing closing quote"},
        error_case{"@ TXT \"bad \\99x\"\n", "1:12: bad escape in quoted string (\\DDD needs three digits, at most 255)"},
        error_case{"@ SOA ns1 host 1 2 3 4\n", "1:23: missing minimum in SOA record"},
        error_case{"@ SOA ns1 host 1 2 x 4 5\n", "1:20: bad SOA retry \"x\""},
        error_case{"www SOA ns1 host 1 2 3 4 5\n", "1:1: SOA record must be at the zone apex \"corp.example\""},
        error_case{"@ SOA a b 1 2 3 4 5\n@ SOA a b 1 2 3 4 5\n", "2:1: more than one SOA record"}));

TEST(zone_file, errors_are_collected_and_parsing_resumes) {
    const char* text = "good1 A 127.0.0.1\n"
                       "bad1 A 999.0.0.1\n"
                       "bad2 MXX 10 x\n"
                       "multi SOA ns1 host ( 1 2\n"
                       "   3 4 x )\n"
                       "good2 A 127.0.0.2\n";
    auto r = parse_zone_text(text, "corp.example");
    EXPECT_EQ(errors(r), "2:8: bad IPv4 address \"999.0.0.1\" in A record\n"
                         "3:6: unknown record type \"MXX\" (did you mean \"MX\"?)\n"
                         "5:8: bad SOA minimum \"x\"\n");
    ASSERT_EQ(r.records.size(), 2u);
    EXPECT_EQ(r.records[0].owner, "good1.corp.example");
    EXPECT_EQ(r.records[1].owner, "good2.corp.example");
}

TEST(zone_file, long_txt_strings_are_rejected_but_255_is_fine) {
    auto ok = parse_zone_text("@ TXT \"" + std::string(255, 'a') + "\"\n", "corp.example");
    EXPECT_EQ(errors(ok), "");
    auto bad = parse_zone_text("@ TXT \"" + std::string(256, 'a') + "\"\n", "corp.example");
    EXPECT_EQ(errors(bad), "1:7: TXT string longer than 255 octets\n");
}

TEST(zone_file, windows_line_endings_and_tabs) {
    auto r = parse_zone_text("@\tIN\tA\t127.0.0.1\r\n\tIN\tAAAA\t::1\r\n", "corp.example");
    EXPECT_EQ(errors(r), "");
    ASSERT_EQ(r.records.size(), 2u);
    EXPECT_EQ(r.records[1].owner, "corp.example");
}

}  // namespace
