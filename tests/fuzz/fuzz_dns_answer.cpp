// Arbitrary queries against a small fixed zone set, over UDP and TCP: answer()
// never crashes, replies parse, respect the size limit and echo the ID; and the
// reply cache, asked the same query (a miss, then a hit) and the same query with
// another ID, answers byte for byte what answer() does.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fake_dns/answer.hpp"
#include "fake_dns/reply_cache.hpp"
#include "fake_dns/wire.hpp"
#include "fake_dns/zone_file.hpp"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }

fake_dns::zone make(const char* origin, const char* text) {
    auto parsed = fake_dns::parse_zone_text(text, origin, 3600);
    if (!parsed.errors.empty()) fail();
    return fake_dns::zone(origin, std::move(parsed.records));
}

struct fixture {
    fake_dns::zone corp = make("corp.example", R"(
$TTL 3600
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
@ NS ns2
@ MX 10 exch1
@ MX 20 exch2.other.example.
@ TXT "v=spf1 -all"
ns1 A 127.25.10.53
ns2 A 127.25.10.54
ns2 AAAA ::1
exch1 A 127.25.10.190
exch1 AAAA 2001:db8::190
www CNAME exch1
loop1 CNAME loop2
loop2 CNAME loop1
toother CNAME host.other.example.
a.b.ent A 127.0.0.9
sub NS ns.sub
ns.sub A 127.25.11.1
big TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big TXT "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)");
    fake_dns::zone other = make("other.example", R"(
$TTL 600
@ SOA ns h 1 2 3 4 900
@ NS ns
ns A 127.25.12.1
host A 127.25.12.2
exch2 A 127.25.12.25
* A 127.25.12.99
*.wild MX 10 exch2
*.wild TXT "wild"
*.cw CNAME x.wild
*.sub2 A 127.25.12.98
deep.sub2 NS ns
)");
    std::vector<const fake_dns::zone*> zones{&corp, &other};
    std::vector<std::string> servfail_some{"Fail.Corp.Example."};
    std::vector<std::string> servfail_all{};
};

void check(std::span<const std::uint8_t> query, const std::vector<std::uint8_t>& out, std::size_t limit) {
    if (out.size() < 12 || out.size() > limit) fail();
    if (out[0] != query[0] || out[1] != query[1] || !(out[2] & 0x80)) fail();
    if (!fake_dns::parse_message(out)) fail();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fixture f;
    std::span<const std::uint8_t> query(data, size);
    static std::vector<std::uint8_t> out, cached, again;
    static fake_dns::reply_cache cache;
    std::vector<std::uint8_t> other_id(query.begin(), query.end());
    if (other_id.size() >= 2) other_id[0] ^= 0x5a;
    fake_dns::query_context udp, tcp, trunc, fail_some, fail_all;
    tcp.tcp = true;
    trunc.truncate = true;
    fail_some.servfail = &f.servfail_some;
    fail_all.servfail = &f.servfail_all;
    for (const auto* ctx : {&udp, &tcp, &trunc, &fail_some, &fail_all}) {
        bool replied = fake_dns::answer(f.zones, query, *ctx, out);
        // The cache: a miss (or a hit from an earlier input) and then surely a hit.
        for (int round = 0; round < 2; ++round)
            if (cache.answer(f.zones, query, *ctx, cached) != replied || cached != out) fail();
        if (other_id.size() >= 2) {
            bool direct = fake_dns::answer(f.zones, other_id, *ctx, again);
            if (cache.answer(f.zones, other_id, *ctx, cached) != direct || cached != again) fail();
        }
        if (!replied) {
            if (!out.empty()) fail();
            continue;
        }
        check(query, out, ctx->tcp ? 65535 : 1232);
    }
    return 0;
}
