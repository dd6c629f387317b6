#include "fake_dns/resolve_result.hpp"

#include "fake_dns/wire.hpp"
#include "support/ipv4.hpp"

namespace fake_dns {

namespace {
std::string addr_text(std::uint32_t a) { return support::format_ipv4(a); }
}  // namespace

std::string resolve_result::describe() const {
    auto from = server ? " from " + addr_text(server) : std::string{};
    switch (what) {
        case outcome::answer: return std::to_string(records.size()) + " record(s)" + from;
        case outcome::nxdomain: return "NXDOMAIN" + from;
        case outcome::nodata: return "no records of that type" + from;
        case outcome::servfail: return "SERVFAIL" + from;
        case outcome::refused: return "REFUSED" + from;
        case outcome::timeout: return "timed out";
        case outcome::unreachable: return "server unreachable";
        case outcome::bad_reply: return "malformed reply" + from;
    }
    return "?";
}

resolve_result interpret_reply(std::span<const std::uint8_t> reply, std::uint16_t id, const std::string& name,
                               std::uint16_t type) {
    resolve_result r;
    auto m = parse_message(reply);
    if (!m || !m->hdr.qr || m->hdr.id != id || m->questions.size() != 1 ||
        canonical_name(m->questions[0].name) != canonical_name(name) || m->questions[0].type != type) {
        r.what = resolve_result::outcome::bad_reply;
        return r;
    }
    r.authoritative = m->hdr.aa;
    r.answer_section = m->answers;
    switch (m->full_rcode()) {
        case rcode::noerror: break;
        case rcode::nxdomain: r.what = resolve_result::outcome::nxdomain; return r;
        case rcode::refused: r.what = resolve_result::outcome::refused; return r;
        default: r.what = resolve_result::outcome::servfail; return r;
    }
    // Follow the CNAME chain inside the answer section (bounded).
    auto target = canonical_name(name);
    for (int hop = 0; hop < 16; ++hop) {
        bool moved = false;
        for (auto& rec : m->answers)
            if (rec.owner == target && rec.type == 5 && type != 5) {
                target = std::get<name_data>(rec.data).target;
                moved = true;
                break;
            }
        if (!moved) break;
    }
    for (auto& rec : m->answers)
        if (rec.owner == target && rec.type == type) r.records.push_back(rec);
    r.what = r.records.empty() ? resolve_result::outcome::nodata : resolve_result::outcome::answer;
    return r;
}

}  // namespace fake_dns
