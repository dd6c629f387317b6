#include "fake_dns/wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace fake_dns;
using bytes = std::vector<std::uint8_t>;

bytes header(std::uint16_t qd, std::uint16_t an, std::uint16_t ns, std::uint16_t ar, std::uint16_t flags = 0) {
    return {0xAB, 0xCD, static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags),
            static_cast<std::uint8_t>(qd >> 8), static_cast<std::uint8_t>(qd), static_cast<std::uint8_t>(an >> 8),
            static_cast<std::uint8_t>(an), static_cast<std::uint8_t>(ns >> 8), static_cast<std::uint8_t>(ns),
            static_cast<std::uint8_t>(ar >> 8), static_cast<std::uint8_t>(ar)};
}

bytes operator+(const bytes& a, const bytes& b) {
    bytes c(a.size() + b.size());
    std::copy(a.begin(), a.end(), c.begin());
    std::copy(b.begin(), b.end(), c.begin() + static_cast<std::ptrdiff_t>(a.size()));
    return c;
}

const bytes corp{4, 'c', 'o', 'r', 'p', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};  // at offset 12 when first
const bytes q_a{0, 1, 0, 1};
bytes rr(const bytes& owner, std::uint16_t type, const bytes& rdata, std::uint16_t rclass = 1) {
    return owner + bytes{static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type),
                         static_cast<std::uint8_t>(rclass >> 8), static_cast<std::uint8_t>(rclass), 0, 0, 0x0e, 0x10,
                         static_cast<std::uint8_t>(rdata.size() >> 8), static_cast<std::uint8_t>(rdata.size())} +
           rdata;
}

message sample() {
    message m;
    m.hdr.id = 0x1234;
    m.hdr.qr = true;
    m.hdr.aa = true;
    m.hdr.rd = true;
    m.hdr.cd = true;
    m.hdr.rcode = 3;
    m.questions.push_back({"WwW.Corp.Example", 15, 1});
    m.answers.push_back({"www.corp.example", 5, 60, name_data{"exch1.corp.example"}});
    m.answers.push_back({"exch1.corp.example", 15, 60, mx_data{10, "mail.corp.example"}});
    m.answers.push_back({"corp.example", 16, 60, txt_data{{"v=spf1 -all", std::string("\0\"x", 3)}}});
    m.authority.push_back(
        {"corp.example", 6, 300, soa_data{"ns1.corp.example", "hostmaster.corp.example", 1, 2, 3, 4, 5}});
    m.authority.push_back({"corp.example", 2, 300, name_data{"ns1.corp.example"}});
    m.additional.push_back({"ns1.corp.example", 1, 300, a_data{0x7f190a35}});
    aaaa_data v6;
    v6.address[15] = 1;
    m.additional.push_back({"ns1.corp.example", 28, 300, v6});
    m.additional.push_back({"1.0.0.127.in-addr.arpa", 12, 300, name_data{"ns1.corp.example"}});
    m.opt = edns{1232, 1, 0, true};
    return m;
}

TEST(wire, encode_parse_round_trip) {
    auto m = sample();
    auto wire = encode(m);
    auto back = parse_message(wire);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->hdr.id, 0x1234);
    EXPECT_TRUE(back->hdr.qr && back->hdr.aa && back->hdr.rd && back->hdr.cd);
    EXPECT_FALSE(back->hdr.tc || back->hdr.ra || back->hdr.ad);
    EXPECT_EQ(back->hdr.qdcount, 1);
    EXPECT_EQ(back->hdr.ancount, 3);
    EXPECT_EQ(back->hdr.nscount, 2);
    EXPECT_EQ(back->hdr.arcount, 4);  // the OPT counts on the wire
    ASSERT_EQ(back->questions.size(), 1u);
    EXPECT_EQ(back->questions[0].name, "WwW.Corp.Example");  // case kept
    EXPECT_EQ(back->answers, m.answers);
    EXPECT_EQ(back->authority, m.authority);
    EXPECT_EQ(back->additional, m.additional);
    ASSERT_TRUE(back->opt.has_value());
    EXPECT_EQ(back->opt->udp_size, 1232);
    EXPECT_TRUE(back->opt->dnssec_ok);
    EXPECT_EQ(back->full_rcode(), static_cast<rcode>(16 + 3));
    EXPECT_EQ(back->skipped, 0u);
}

TEST(wire, names_are_compressed_in_owners_and_well_known_rdata) {
    auto m = sample();
    auto wire = encode(m);
    // Uncompressed, the names alone would take far more than the whole message does.
    std::size_t names = 0;
    for (const auto* s : {&m.answers, &m.authority, &m.additional})
        for (const auto& r : *s) names += r.owner.size() + 2;
    EXPECT_LT(wire.size(), 260u);
    // The CNAME's owner equals the question name (other case): a pointer to offset 12.
    std::size_t after_question = 12 + 18 + 4;
    EXPECT_EQ(wire[after_question], 0xC0);
    EXPECT_EQ(wire[after_question + 1], 12);
    (void)names;

    // RFC 3597 4: a name inside an unknown type's RDATA is never compressed.
    message u;
    u.answers.push_back({"corp.example", 99, 1, name_data{"corp.example"}});
    u.answers.push_back({"corp.example", 2, 1, name_data{"corp.example"}});
    auto uw = encode(u);
    // owner(14) + 10 + rdata 14 uncompressed, then owner pointer(2) + 10 + pointer(2).
    EXPECT_EQ(uw.size(), 12u + 14 + 10 + 14 + 2 + 10 + 2);
}

TEST(wire, build_query_makes_a_standard_query) {
    auto q = build_query(77, "Mail.Corp.Example.", 15, true, 1232);
    auto m = parse_message(q);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->hdr.id, 77);
    EXPECT_FALSE(m->hdr.qr);
    EXPECT_TRUE(m->hdr.rd);
    EXPECT_EQ(m->hdr.opcode, 0);
    ASSERT_EQ(m->questions.size(), 1u);
    EXPECT_EQ(m->questions[0].name, "Mail.Corp.Example");
    EXPECT_EQ(m->questions[0].type, 15);
    EXPECT_EQ(m->questions[0].qclass, 1);
    ASSERT_TRUE(m->opt.has_value());
    EXPECT_EQ(m->opt->udp_size, 1232);
    auto plain = parse_message(build_query(1, "corp.example", 1, false));
    ASSERT_TRUE(plain.has_value());
    EXPECT_FALSE(plain->opt.has_value());
    EXPECT_FALSE(plain->hdr.rd);
    EXPECT_EQ(build_query(1, ".", 2, false).size(), 12u + 1 + 4);
}

TEST(wire, parse_question_peeks_cheaply) {
    auto q = build_query(5, "corp.example", 6, true);
    auto p = parse_question(q);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->first.id, 5);
    EXPECT_EQ(p->first.qdcount, 1);
    EXPECT_EQ(p->second.name, "corp.example");
    EXPECT_EQ(p->second.type, 6);
    // Garbage after the question does not matter to the peek.
    q.push_back(0xFF);
    EXPECT_TRUE(parse_question(q).has_value());
    EXPECT_FALSE(parse_question(header(0, 0, 0, 0)).has_value());
    EXPECT_FALSE(parse_question(bytes(11, 0)).has_value());
    EXPECT_FALSE(parse_question(header(1, 0, 0, 0) + corp + bytes{0, 1, 0}).has_value());
}

TEST(wire, malformed_messages_are_rejected) {
    bytes label64{64};
    label64.resize(65, 'a');
    bytes long_name;  // 4 * (63 + 1) + 1 = 257 octets
    for (int i = 0; i < 4; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'x');
    }
    long_name.push_back(0);
    struct probe {
        const char* what;
        bytes wire;
    };
    std::vector<probe> probes{
        {"truncated header", bytes{1, 2, 3, 4, 5}},
        {"huge counts", header(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) + corp + q_a},
        {"question past the end", header(2, 0, 0, 0) + corp + q_a},
        {"compression loop", header(1, 0, 0, 0) + bytes{0xC0, 12} + q_a},
        {"two-step loop", header(1, 0, 0, 0) + bytes{1, 'a', 0xC0, 12} + q_a},
        {"forward pointer", header(1, 0, 0, 0) + bytes{0xC0, 18, 0, 1, 0, 1, 0}},
        {"pointer past the end", header(1, 0, 0, 0) + bytes{0xC0, 0xFF} + q_a},
        {"pointer cut short", header(1, 0, 0, 0) + bytes{0xC0}},
        {"label of 64", header(1, 0, 0, 0) + label64 + bytes{0} + q_a},
        {"extended label type", header(1, 0, 0, 0) + bytes{0x80, 0} + q_a},
        {"name of 257 octets", header(1, 0, 0, 0) + long_name + q_a},
        {"label past the end", header(1, 0, 0, 0) + bytes{10, 'a', 'b'}},
        {"rdata past the end", header(0, 1, 0, 0) + corp + bytes{0, 1, 0, 1, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4}},
        {"A of five octets", header(0, 1, 0, 0) + rr(corp, 1, {1, 2, 3, 4, 5})},
        {"AAAA of four octets", header(0, 1, 0, 0) + rr(corp, 28, {1, 2, 3, 4})},
        {"CNAME with trailing octets", header(0, 1, 0, 0) + rr(corp, 5, corp + bytes{7})},
        {"MX too short", header(0, 1, 0, 0) + rr(corp, 15, {0, 1})},
        {"SOA without timers", header(0, 1, 0, 0) + rr(corp, 6, corp + corp)},
        {"TXT string overruns", header(0, 1, 0, 0) + rr(corp, 16, {5, 'a', 'b'})},
        {"name in RDATA runs out of it", header(0, 1, 0, 0) + rr(corp, 2, {4, 'c', 'o', 'r', 'p'}) + bytes{0}},
        {"two OPT", header(0, 0, 0, 2) + rr({0}, 41, {}, 1232) + rr({0}, 41, {}, 1232)},
        {"OPT not at the root", header(0, 0, 0, 1) + rr(corp, 41, {}, 1232)},
        {"OPT in the answer section", header(0, 1, 0, 0) + rr({0}, 41, {}, 1232)},
        {"OPT option overruns", header(0, 0, 0, 1) + rr({0}, 41, {0, 10, 0, 8, 1, 2}, 1232)},
        {"OPT option header cut", header(0, 0, 0, 1) + rr({0}, 41, {0, 10, 0}, 1232)},
    };
    for (const auto& p : probes) EXPECT_FALSE(parse_message(p.wire).has_value()) << p.what;
    // And the names alone are refused by read_name.
    wire_name n;
    std::size_t pos = 12;
    auto loop = header(1, 0, 0, 0) + bytes{0xC0, 12};
    EXPECT_FALSE(read_name(loop, pos, n));
}

TEST(wire, compressed_names_are_followed_backwards) {
    // www -> pointer to corp.example in the question; MX exchange compressed too.
    auto w = header(1, 1, 0, 0) + corp + q_a + bytes{3, 'w', 'w', 'w', 0xC0, 12} +
             bytes{0, 15, 0, 1, 0, 0, 0, 60, 0, 9, 0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12};
    auto m = parse_message(w);
    ASSERT_TRUE(m.has_value());
    ASSERT_EQ(m->answers.size(), 1u);
    EXPECT_EQ(m->answers[0].owner, "www.corp.example");
    EXPECT_EQ(std::get<mx_data>(m->answers[0].data), (mx_data{10, "mail.corp.example"}));
    // A name of exactly 255 octets is fine.
    bytes max_name;
    for (int i = 0; i < 3; ++i) {
        max_name.push_back(63);
        max_name.insert(max_name.end(), 63, 'x');
    }
    max_name.push_back(61);
    max_name.insert(max_name.end(), 61, 'y');
    max_name.push_back(0);
    ASSERT_EQ(max_name.size(), 255u);
    EXPECT_TRUE(parse_message(header(1, 0, 0, 0) + max_name + q_a).has_value());
}

TEST(wire, unknown_types_and_classes_are_skipped_and_counted) {
    auto w = header(0, 3, 0, 1) + rr(corp, 99, {1, 2, 3}) + rr(corp, 1, {1, 2, 3, 4}, 3) + rr(corp, 1, {1, 2, 3, 4}) +
             rr({0}, 41, {0, 10, 0, 2, 7, 7}, 4096);
    auto m = parse_message(w);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->skipped, 2u);
    ASSERT_EQ(m->answers.size(), 1u);
    EXPECT_EQ(std::get<a_data>(m->answers[0].data).address, 0x01020304u);
    ASSERT_TRUE(m->opt.has_value());
    EXPECT_EQ(m->opt->udp_size, 4096);
    EXPECT_TRUE(m->additional.empty());
}

TEST(wire, owners_and_rdata_names_are_lower_cased) {
    bytes upper{4, 'C', 'O', 'R', 'P', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    auto m = parse_message(header(0, 1, 0, 0) + rr(upper, 5, upper));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->answers[0].owner, "corp.example");
    EXPECT_EQ(std::get<name_data>(m->answers[0].data).target, "corp.example");
}

TEST(wire, rcode_names_and_full_rcode) {
    EXPECT_EQ(rcode_name(rcode::noerror), "NOERROR");
    EXPECT_EQ(rcode_name(rcode::formerr), "FORMERR");
    EXPECT_EQ(rcode_name(rcode::servfail), "SERVFAIL");
    EXPECT_EQ(rcode_name(rcode::nxdomain), "NXDOMAIN");
    EXPECT_EQ(rcode_name(rcode::notimp), "NOTIMP");
    EXPECT_EQ(rcode_name(rcode::refused), "REFUSED");
    EXPECT_EQ(rcode_name(rcode::badvers), "BADVERS");
    message m;
    m.hdr.rcode = 3;
    EXPECT_EQ(m.full_rcode(), rcode::nxdomain);
    m.hdr.rcode = 0;
    m.opt = edns{};
    m.opt->extended_rcode = 1;
    EXPECT_EQ(m.full_rcode(), rcode::badvers);
}

TEST(wire, text_and_wire_names) {
    wire_name w;
    EXPECT_EQ(text_to_wire("www.corp.example.", w), name_status::ok);
    EXPECT_EQ(w.size, 18u);
    EXPECT_EQ(w.labels, 3u);
    EXPECT_EQ(wire_to_text(w.view(), false), "www.corp.example");
    EXPECT_EQ(text_to_wire("", w), name_status::ok);
    EXPECT_EQ(w.size, 1u);
    EXPECT_EQ(text_to_wire(".", w), name_status::ok);
    EXPECT_EQ(wire_to_text(w.view(), false), "");
    // Escapes: a dot inside a label, a backslash, and a decimal octet.
    EXPECT_EQ(text_to_wire("a\\.b.c\\\\d.\\065x", w), name_status::ok);
    EXPECT_EQ(w.labels, 3u);
    EXPECT_EQ(wire_to_text(w.view(), false), "a\\.b.c\\\\d.Ax");
    EXPECT_EQ(wire_to_text(w.view(), true), "a\\.b.c\\\\d.ax");
    bytes odd{3, 'a', ' ', 0x07, 0};
    EXPECT_EQ(wire_to_text(odd, false), "a\\032\\007");
    EXPECT_EQ(text_to_wire("a\\032\\007", w), name_status::ok);
    EXPECT_EQ(bytes(w.view().begin(), w.view().end()), odd);

    EXPECT_EQ(text_to_wire("a..b", w), name_status::empty_label);
    EXPECT_EQ(text_to_wire(".a", w), name_status::empty_label);
    EXPECT_EQ(text_to_wire(std::string(64, 'a'), w), name_status::label_too_long);
    EXPECT_EQ(text_to_wire(std::string(63, 'a'), w), name_status::ok);
    std::string name_253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                           std::string(61, 'd');
    EXPECT_EQ(text_to_wire(name_253, w), name_status::ok);
    EXPECT_EQ(w.size, 255u);
    EXPECT_EQ(text_to_wire(name_253 + "d", w), name_status::name_too_long);
    EXPECT_EQ(text_to_wire("a\\", w), name_status::bad_escape);
    EXPECT_EQ(text_to_wire("a\\25", w), name_status::bad_escape);
    EXPECT_EQ(text_to_wire("a\\256", w), name_status::bad_escape);

    EXPECT_EQ(text_to_wire("MiXeD.Case", w), name_status::ok);
    lower_wire(w);
    EXPECT_EQ(wire_to_text(w.view(), false), "mixed.case");
}

TEST(wire, compressor_points_at_known_suffixes_case_insensitively) {
    std::vector<std::uint8_t> out(12, 0);
    name_compressor names;
    wire_name a, b, c;
    text_to_wire("WWW.Corp.Example", a);
    text_to_wire("mail.corp.example", b);
    text_to_wire("corp.example", c);
    names.write(out, a.view(), false);
    EXPECT_EQ(out.size(), 12u + 18);
    names.write(out, b.view());
    EXPECT_EQ(out.size(), 12u + 18 + 5 + 2);  // "mail" + pointer to Corp.Example
    EXPECT_EQ(out[out.size() - 2], 0xC0);
    EXPECT_EQ(out[out.size() - 1], 16);
    names.write(out, c.view());
    EXPECT_EQ(out.size(), 12u + 18 + 7 + 2);
    // After cutting the message back, names written there are forgotten.
    std::size_t cut = out.size();
    wire_name d;
    text_to_wire("other.test", d);
    names.write(out, d.view());
    out.resize(cut);
    names.forget_from(cut);
    names.write(out, d.view());
    EXPECT_EQ(out.size(), cut + 12);  // written in full again
}

}  // namespace
