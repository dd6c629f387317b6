#include "fake_dns/reply_cache.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "fake_dns/wire.hpp"
#include "fake_dns/zone_file.hpp"

namespace {

using namespace fake_dns;
using bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, MX = 15, TXT = 16, AAAA = 28, ANY = 255;

zone make_zone(const char* origin, const std::string& text) {
    auto parsed = parse_zone_text(text, origin, 3600);
    EXPECT_TRUE(parsed.errors.empty());
    return zone(origin, std::move(parsed.records));
}

std::string corp_text() {
    std::string text = R"(
$TTL 3600
@   SOA ns1 hostmaster ( 2024010101 7200 900 1209600 300 )
@   NS ns1
@   NS ns2
@   MX 10 exch1
@   MX 20 exch2.other.example.
@   A 127.25.10.1
ns1 A 127.25.10.53
ns2 A 127.25.10.54
exch1 A 127.25.10.190
exch1 AAAA 2001:db8::190
www CNAME exch1
toother CNAME host.other.example.
sub NS ns.sub
ns.sub A 127.25.11.1
*.wild A 127.25.12.9
*.wild MX 10 exch1
)";
    for (char c : std::string("abcde")) text += "big TXT \"" + std::string(200, c) + "\"\n";
    return text;
}

// The query answer() and the cache are both given.
bytes query(std::uint16_t id, const std::string& name, std::uint16_t type, std::optional<std::uint16_t> edns = {},
            bool rd = true) {
    return build_query(id, name, type, rd, edns);
}

// Sets the DO bit of the query's OPT (its TTL's top bit of the low half).
bytes with_do(bytes q) {
    // OPT: root (1) type (2) class (2) ttl (4) rdlen (2), at the end of the query.
    q[q.size() - 4] |= 0x80;
    return q;
}

class reply_cache_test : public ::testing::Test {
protected:
    zone corp = make_zone("corp.example", corp_text());
    zone other = make_zone("other.example", "$TTL 600\n@ SOA ns h 1 2 3 4 900\n@ NS ns\nns A 127.25.12.1\nhost A 127.25.12.2\n");
    std::vector<const zone*> zones{&corp, &other};
    query_context udp;
    query_context tcp{true, false, nullptr};

    // The cache's reply, checked against a fresh answer() of the same query.
    bytes both(reply_cache& cache, const bytes& q, const query_context& ctx, const std::vector<const zone*>& zs) {
        bytes fresh, cached;
        bool a = answer(zs, q, ctx, fresh);
        bool b = cache.answer(zs, q, ctx, cached);
        EXPECT_EQ(a, b);
        EXPECT_EQ(fresh, cached);
        return cached;
    }
    bytes both(reply_cache& cache, const bytes& q, const query_context& ctx) { return both(cache, q, ctx, zones); }
};

TEST_F(reply_cache_test, second_query_is_a_hit_with_its_own_id) {
    reply_cache cache;
    auto r1 = both(cache, query(1, "www.corp.example", A), udp);
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.misses(), 1u);
    EXPECT_EQ(cache.size(), 1u);
    auto r2 = both(cache, query(0xBEEF, "www.corp.example", A), udp);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(r2[0], 0xBE);
    EXPECT_EQ(r2[1], 0xEF);
    EXPECT_TRUE(std::equal(r1.begin() + 2, r1.end(), r2.begin() + 2));
}

TEST_F(reply_cache_test, different_questions_miss) {
    reply_cache cache;
    both(cache, query(1, "www.corp.example", A), udp);
    both(cache, query(2, "www.corp.example", AAAA), udp);
    both(cache, query(3, "exch1.corp.example", A), udp);
    both(cache, query(4, "nothere.corp.example", A), udp);
    both(cache, query(5, "corp.example", MX), udp);
    both(cache, query(6, "www.example.net", A), udp);  // REFUSED
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.size(), 6u);
    both(cache, query(7, "corp.example", MX), udp);
    EXPECT_EQ(cache.hits(), 1u);
}

TEST_F(reply_cache_test, question_keeps_the_case_it_came_in) {
    reply_cache cache;
    both(cache, query(1, "www.corp.example", A), udp);
    // Same question in other cases (the 0x20 trick): a hit, and each reply echoes
    // its own case, in the question and in the names that point at it.
    for (const char* name : {"WWW.CORP.EXAMPLE", "wWw.CoRp.ExAmPlE", "www.corp.example"}) {
        auto r = both(cache, query(2, name, A), udp);
        auto parsed = parse_message(r);
        ASSERT_TRUE(parsed);
        EXPECT_EQ(parsed->questions.at(0).name, name);
    }
    EXPECT_EQ(cache.hits(), 3u);
    // Wildcards answer under the query name, which the answer points at.
    both(cache, query(3, "x.wild.corp.example", MX), udp);
    auto r = both(cache, query(4, "X.Wild.CORP.example", MX), udp);
    EXPECT_EQ(cache.hits(), 4u);
    auto parsed = parse_message(r);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->questions.at(0).name, "X.Wild.CORP.example");
}

TEST_F(reply_cache_test, only_a_to_z_fold) {
    reply_cache cache;
    // Neighbours of A-Z in ASCII, and octets with the top bit set, are not letters:
    // each is its own question. Names of every length cross the eight-octet steps.
    std::vector<std::string> names;
    for (const char* label : {"x@", "x`", "x[", "x{", "xz", "xZ", "x\\193", "x\\225", "x\\097", "x\\065"})
        names.push_back(std::string(label) + ".corp.example");
    for (std::size_t len = 1; len <= 20; ++len) names.push_back(std::string(len, 'Q') + ".corp.example");
    for (const auto& name : names) both(cache, query(1, name, A), udp);
    // "xz"/"xZ" and "x\\097"/"x\\065" ("xa"/"xA") are the same questions.
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.size(), names.size() - 2);
    for (std::size_t len = 1; len <= 20; ++len) both(cache, query(2, std::string(len, 'q') + ".corp.example", A), udp);
    EXPECT_EQ(cache.hits(), 22u);
}

TEST_F(reply_cache_test, edns_variants_are_kept_apart) {
    reply_cache cache;
    auto plain = both(cache, query(1, "corp.example", MX), udp);
    auto e512 = both(cache, query(2, "corp.example", MX, 512), udp);
    auto e1232 = both(cache, query(3, "corp.example", MX, 1232), udp);
    auto e4096 = both(cache, query(4, "corp.example", MX, 4096), udp);
    auto dnssec = both(cache, with_do(query(5, "corp.example", MX, 1232)), udp);
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.size(), 5u);
    EXPECT_FALSE(parse_message(plain)->opt);
    EXPECT_TRUE(parse_message(e1232)->opt);
    EXPECT_FALSE(parse_message(e1232)->opt->dnssec_ok);
    EXPECT_TRUE(parse_message(dnssec)->opt->dnssec_ok);
    // Each comes back for its own kind of query.
    EXPECT_EQ(both(cache, with_do(query(6, "corp.example", MX, 1232)), udp).size(), dnssec.size());
    both(cache, query(7, "corp.example", MX), udp);
    EXPECT_EQ(cache.hits(), 2u);
}

TEST_F(reply_cache_test, truncation_follows_the_size_the_query_allows) {
    reply_cache cache;
    // Five 200-octet strings: over 512, under 1232.
    auto small = both(cache, query(1, "big.corp.example", TXT), udp);
    auto large = both(cache, query(2, "big.corp.example", TXT, 1232), udp);
    auto over_tcp = both(cache, query(3, "big.corp.example", TXT), tcp);
    EXPECT_TRUE(small[2] & 0x02);
    EXPECT_FALSE(large[2] & 0x02);
    EXPECT_FALSE(over_tcp[2] & 0x02);
    EXPECT_GT(large.size(), 1000u);
    EXPECT_EQ(cache.size(), 3u);
    // Again, in the other order: the same three replies.
    EXPECT_EQ(both(cache, query(4, "big.corp.example", TXT), tcp).size(), over_tcp.size());
    EXPECT_TRUE(both(cache, query(5, "big.corp.example", TXT), udp)[2] & 0x02);
    EXPECT_EQ(both(cache, query(6, "big.corp.example", TXT, 1232), udp).size(), large.size());
    EXPECT_EQ(cache.hits(), 3u);
}

TEST_F(reply_cache_test, fault_context_is_part_of_the_key) {
    reply_cache cache;
    query_context truncated{false, true, nullptr};
    auto normal = both(cache, query(1, "www.corp.example", A), udp);
    auto cut = both(cache, query(2, "www.corp.example", A), truncated);
    EXPECT_FALSE(normal[2] & 0x02);
    EXPECT_TRUE(cut[2] & 0x02);
    EXPECT_EQ(cache.hits(), 0u);
    both(cache, query(3, "www.corp.example", A), truncated);
    EXPECT_EQ(cache.hits(), 1u);
}

TEST_F(reply_cache_test, servfail_is_never_kept) {
    reply_cache cache;
    std::vector<std::string> names{"www.corp.example"};
    query_context failing{false, false, &names};
    auto r = both(cache, query(1, "www.corp.example", A), failing);
    EXPECT_EQ(r[3] & 0x0F, 2);
    both(cache, query(2, "www.corp.example", A), failing);
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.size(), 0u);
    // The list is the caller's: once it changes, the answer does at once.
    names = {"other.example"};
    EXPECT_EQ(both(cache, query(3, "www.corp.example", A), failing)[3] & 0x0F, 0);
}

TEST_F(reply_cache_test, silence_and_odd_queries_are_not_kept) {
    reply_cache cache;
    bytes out;
    auto response = query(1, "www.corp.example", A);
    response[2] |= 0x80;
    EXPECT_FALSE(cache.answer(zones, response, udp, out));
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(cache.answer(zones, bytes{1, 2, 3}, udp, out));
    EXPECT_EQ(cache.size(), 0u);
    // Malformed but answerable: the same FORMERR as answer(), each time.
    auto bad = query(2, "www.corp.example", A);
    bad[5] = 2;  // two questions announced
    both(cache, bad, udp);
    both(cache, bad, udp);
    EXPECT_EQ(cache.hits(), 1u);
}

// A name may point into the header: then the ID is part of what the query
// says, and a reply for one ID is not the reply for another (found by the
// differential fuzz check in tests/fuzz/fuzz_dns_answer.cpp).
TEST_F(reply_cache_test, a_query_whose_names_read_the_id_is_not_kept) {
    reply_cache cache;
    auto q = query(0x5234, "", A);   // the root, then an additional record named by a pointer to offset 0
    q[11] = 1;                       // ARCOUNT 1
    for (std::uint8_t b : {0xC0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) q.push_back(b);
    both(cache, q, udp);
    auto other = q;
    other[0] = 0x08;                 // now the "label" at offset 0 has a length that fits
    both(cache, other, udp);
    both(cache, q, udp);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.hits(), 0u);
}

TEST_F(reply_cache_test, other_zones_or_a_new_generation_miss) {
    reply_cache cache;
    both(cache, query(1, "www.corp.example", A), udp);
    // The same name served from another zone object: another entry.
    zone corp2 = make_zone("corp.example", "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\nwww A 127.9.9.9\n");
    std::vector<const zone*> zones2{&corp2};
    auto r = both(cache, query(2, "www.corp.example", A), udp, zones2);
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(parse_message(r)->answers.at(0).type, A);

    // use(): the same generation keeps the replies, another one forgets them.
    auto g1 = std::make_shared<int>(1);
    auto g2 = std::make_shared<int>(2);
    cache.use(g1);
    EXPECT_EQ(cache.size(), 0u);  // from no generation to g1
    both(cache, query(3, "www.corp.example", A), udp);
    cache.use(g1);
    EXPECT_EQ(cache.size(), 1u);
    both(cache, query(4, "www.corp.example", A), udp);
    EXPECT_EQ(cache.hits(), 1u);
    cache.use(g2);
    EXPECT_EQ(cache.size(), 0u);
    // A generation that has been freed is still told apart from a new one.
    cache.use(g1);
    both(cache, query(5, "www.corp.example", A), udp);
    g1.reset();
    auto g3 = std::make_shared<int>(3);
    cache.use(g3);
    EXPECT_EQ(cache.size(), 0u);
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
}

TEST_F(reply_cache_test, bounded_by_entries_and_bytes) {
    reply_cache by_count(reply_cache::limits{3, 1 << 20});
    for (int i = 0; i < 10; ++i) {
        both(by_count, query(1, "h" + std::to_string(i) + ".corp.example", A), udp);
        EXPECT_LE(by_count.size(), 3u);
    }
    reply_cache by_bytes(reply_cache::limits{4096, 2000});
    for (int i = 0; i < 10; ++i) {
        both(by_bytes, query(1, "big.corp.example", TXT, static_cast<std::uint16_t>(1232 + i)), udp);
        EXPECT_LE(by_bytes.size(), 1u);  // each reply is over 1,000 octets
    }
    reply_cache none(reply_cache::limits{0, 0});
    both(none, query(1, "www.corp.example", A), udp);
    both(none, query(1, "www.corp.example", A), udp);
    EXPECT_EQ(none.size(), 0u);
    EXPECT_EQ(none.hits(), 0u);
}

// Many queries in random case, with random flags, EDNS and types, over UDP and TCP:
// the cache's reply is always answer()'s, byte for byte.
TEST_F(reply_cache_test, always_what_answer_would_say) {
    std::mt19937 gen(20261127);
    const std::vector<std::string> names = {
        "corp.example", "www.corp.example", "exch1.corp.example", "nothere.corp.example", "big.corp.example",
        "toother.corp.example", "a.sub.corp.example", "x.wild.corp.example", "y.z.wild.corp.example",
        "host.other.example", "www.example.net", "ns1.corp.example"};
    const std::vector<std::uint16_t> types = {A, NS, CNAME, SOA, MX, TXT, AAAA, ANY, 43, 252};
    // A small cache, so that it also starts again empty now and then.
    reply_cache cache(reply_cache::limits{256, 1 << 16});
    query_context truncated{false, true, nullptr};
    for (int i = 0; i < 20000; ++i) {
        std::string name = names[gen() % names.size()];
        for (auto& c : name)
            if (gen() % 2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        std::optional<std::uint16_t> edns;
        if (gen() % 2) edns = static_cast<std::uint16_t>(gen() % 3 == 0 ? 512 : gen() % 3 == 1 ? 1232 : 4096);
        auto q = query(static_cast<std::uint16_t>(gen()), name, types[gen() % types.size()], edns, gen() % 2);
        if (edns && gen() % 4 == 0) q = with_do(q);
        if (gen() % 10 == 0) q[2] |= static_cast<std::uint8_t>(gen() % 2 ? 0x10 : 0x08);  // CD, or an opcode
        if (gen() % 20 == 0) q[3] |= 0x20;                                                    // AD
        if (gen() % 25 == 0) q[gen() % q.size()] = static_cast<std::uint8_t>(gen());          // noise
        const query_context& ctx = gen() % 3 == 0 ? tcp : gen() % 7 == 0 ? truncated : udp;
        // A hint now and then, as a server gives it for a batch: it changes nothing.
        if (gen() % 5 == 0) {
            std::vector<std::span<const std::uint8_t>> batch{q, bytes{1, 2}, q};
            cache.prefetch(batch);
        }
        both(cache, q, ctx);
    }
    EXPECT_GT(cache.hits(), 500u) << cache.misses() << " misses";
}

TEST_F(reply_cache_test, prefetch_is_only_a_hint) {
    reply_cache cache;
    auto q1 = query(1, "www.corp.example", A);
    auto q2 = query(2, "Exch1.corp.example", AAAA, 1232);
    bytes tiny{0, 1, 0};
    std::vector<std::span<const std::uint8_t>> batch{q1, q2, tiny};
    cache.prefetch(batch);  // nothing kept yet
    both(cache, q1, udp);
    both(cache, q2, udp);
    cache.prefetch(batch);
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.hits(), 0u);
    both(cache, q1, udp);
    both(cache, q2, udp);
    EXPECT_EQ(cache.hits(), 2u);
}

}  // namespace
