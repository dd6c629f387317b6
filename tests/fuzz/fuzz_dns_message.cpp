// Arbitrary bytes through the codec: parsing never crashes, and whatever parses
// re-encodes into a message that parses back to the same content.
#include <cstdint>
#include <span>

#include "fake_dns/wire.hpp"
#include "support/text.hpp"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }

bool same_header(const fake_dns::header& a, const fake_dns::header& b) {
    return a.id == b.id && a.qr == b.qr && a.aa == b.aa && a.tc == b.tc && a.rd == b.rd && a.ra == b.ra &&
           a.ad == b.ad && a.cd == b.cd && a.opcode == b.opcode && a.rcode == b.rcode;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> wire(data, size);
    auto peek = fake_dns::parse_question(wire);
    auto m = fake_dns::parse_message(wire);
    if (!m) return 0;
    // The cheap peek must agree with the full parse on what they share.
    if (!m->questions.empty()) {
        if (!peek || peek->second.name != m->questions[0].name || peek->second.type != m->questions[0].type ||
            peek->second.qclass != m->questions[0].qclass || !same_header(peek->first, m->hdr))
            fail();
    }
    (void)m->full_rcode();
    auto again = fake_dns::parse_message(fake_dns::encode(*m));
    if (!again) fail();
    if (!same_header(again->hdr, m->hdr) || again->skipped != 0) fail();
    if (again->questions.size() != m->questions.size()) fail();
    for (std::size_t i = 0; i < m->questions.size(); ++i) {
        const auto &a = m->questions[i], &b = again->questions[i];
        // Compression may point a question name at an earlier one in another case.
        if (!support::iequals(a.name, b.name) || a.type != b.type || a.qclass != b.qclass) fail();
    }
    if (again->answers != m->answers || again->authority != m->authority || again->additional != m->additional) fail();
    if (again->opt.has_value() != m->opt.has_value()) fail();
    if (m->opt && (again->opt->udp_size != m->opt->udp_size || again->opt->version != m->opt->version ||
                   again->opt->extended_rcode != m->opt->extended_rcode || again->opt->dnssec_ok != m->opt->dnssec_ok))
        fail();
    for (const auto& r : m->answers) (void)fake_dns::to_text(r);
    return 0;
}
