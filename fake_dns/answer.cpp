#include "fake_dns/answer.hpp"

#include <array>
#include <cstring>

#include "fake_dns/wire.hpp"

// The answer path: parse the query in place, decide the reply from the zone index, and
// write it straight into `out`. Everything else lives on the stack in fixed arrays, so a
// query allocates nothing once `out` has grown to its working size.

namespace fake_dns {

namespace {

constexpr std::uint16_t type_a = 1, type_ns = 2, type_cname = 5, type_soa = 6, type_ptr = 12, type_mx = 15,
                        type_aaaa = 28, type_opt = 41, type_ds = 43, type_dnskey = 48, type_ixfr = 251,
                        type_axfr = 252, type_any = 255;
constexpr std::uint16_t class_in = 1, class_ch = 3, class_any = 255;
constexpr std::size_t header_size = 12;
constexpr std::size_t opt_size = 11;        // root owner, fixed fields, no options
constexpr std::uint16_t our_udp_size = 1232;  // NSD's default; the DNS Flag Day 2020 figure
constexpr std::size_t udp_floor = 512;      // RFC 1035 4.2.1, and RFC 6891 6.2.3 for smaller EDNS sizes
constexpr std::size_t tcp_limit = 65535;    // RFC 1035 4.2.2 two-octet length
constexpr int max_chain = 16;               // CNAMEs followed before giving up
constexpr std::uint16_t ede_prohibited = 18, ede_not_authoritative = 20, ede_not_supported = 21;  // RFC 8914 4

std::uint16_t get16(std::span<const std::uint8_t> m, std::size_t at) {
    return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]);
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}
void set16(std::vector<std::uint8_t>& out, std::size_t at, std::size_t v) {
    out[at] = static_cast<std::uint8_t>(v >> 8);
    out[at + 1] = static_cast<std::uint8_t>(v);
}
std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string_view key(const wire_name& n) { return {reinterpret_cast<const char*>(n.bytes.data()), n.size}; }

// True when wire name `name` equals `origin` or lies below it (both lower case).
bool below_or_at(std::string_view name, std::string_view origin) {
    if (origin.size() > name.size()) return false;
    std::size_t off = name.size() - origin.size();
    if (name.compare(off, origin.size(), origin) != 0) return false;
    std::size_t p = 0;
    while (p < off) p += 1 + static_cast<unsigned char>(name[p]);
    return p == off;  // the match must start at a label boundary
}

// The visible zone with the longest origin containing `name`. With `parent_for_apex`
// (a DS query), a zone whose apex is the name itself yields to an enclosing one: the
// DS RRset lives on the parent side of the cut (RFC 4035 3.1.4.1).
const zone* best_zone(std::span<const zone* const> zones, std::string_view name, bool parent_for_apex) {
    const zone* best = nullptr;
    const zone* best_parent = nullptr;
    for (const zone* z : zones) {
        if (!z || !below_or_at(name, z->origin_wire())) continue;
        if (!best || z->origin_wire().size() > best->origin_wire().size()) best = z;
        if (z->origin_wire().size() < name.size() &&
            (!best_parent || z->origin_wire().size() > best_parent->origin_wire().size()))
            best_parent = z;
    }
    if (parent_for_apex && best && best->origin_wire().size() == name.size() && best_parent) return best_parent;
    return best;
}

// One RRset placed in a section.
struct item {
    const zone* z = nullptr;
    const zone::rrset* set = nullptr;
    bool negative = false;  // the SOA of a negative answer: TTL per RFC 2308 3
    // Set when a wildcard answers: the name it answers for, the owner of the synthesised
    // records (RFC 4592 3.3.3); empty for records served under their own owner.
    std::string_view owner{};
    // The synthesised owner is the query name itself rather than a name met in RDATA.
    // NSD tells the two apart when it looks for repeats (see item_list::contains).
    bool owner_is_qname = false;
};

// True when `a` and `b` put the same records under the same owner, as NSD decides it
// (answer_add_rrset: the same RRset at the same domain). Every name read from RDATA is
// one domain to NSD, but the query name answered by a wildcard is another, even when
// the two are spelled alike: `*.x CNAME a.x` asked as a.x gives a.x CNAME a.x twice.
bool same_item(const item& a, const item& b) {
    return a.set == b.set && a.owner_is_qname == b.owner_is_qname && a.owner == b.owner;
}

template <std::size_t N>
struct item_list {
    std::array<item, N> items{};
    std::size_t size = 0;
    void push(const item& i) {
        if (size < N) items[size++] = i;
    }
    bool contains(const item& it) const {
        for (std::size_t k = 0; k < size; ++k)
            if (same_item(items[k], it)) return true;
        return false;
    }
};

// A name whose A and AAAA RRsets belong in the additional section. Trivial on purpose
// (no string_view, no initialisers): the plan holds 256 of them, and constructing them
// for every query would cost more than answering most queries.
struct target {
    const zone* z;
    const zone::node* n;
    const char* owner_data;  // with owner_size: set when a wildcard stands in for the name, as in item
    std::size_t owner_size;
    std::string_view owner() const { return {owner_data, owner_size}; }
};

struct plan {
    item_list<max_chain + 1> answer;
    item_list<2> authority;
    bool authority_optional = false;  // the zone's NS on a positive answer may be dropped for size
    std::array<target, 256> targets;  // only [0, target_count) is ever read
    std::size_t target_count = 0;
    bool aa = true;
    bool referral = false;  // the last step was a referral: its glue matters (see answer())
    rcode code = rcode::noerror;
};

// True when `name` is at or below a zone cut of `z`: glue, not authoritative data.
bool occluded(const zone& z, std::string_view name) {
    if (!z.has_delegations()) return false;
    while (name.size() > z.origin_wire().size()) {
        const zone::node* n = z.lookup(name);
        if (n && n->delegation) return true;
        name = name.substr(1 + static_cast<unsigned char>(name[0]));
    }
    return false;
}

// RFC 1035 3.3.9 and 3.3.11: MX exchanges and NS targets bring their addresses along.
// Like NSD, only addresses from the same zone are added, and a target that does not
// exist but is covered by a wildcard gets the wildcard's addresses under its own name
// (NSD's add_additional_rrsets; RFC 1034 4.3.2 step 6 looks them up like any name).
void add_targets(plan& p, const zone& z, const zone::rrset& set, bool allow_glue) {
    for (auto i : set.records) {
        const auto& w = z.wire(i);
        std::string_view name;
        if (w.form == zone::rdata_form::name && set.type == type_ns) name = w.rdata;
        else if (w.form == zone::rdata_form::mx) name = std::string_view(w.rdata).substr(2);
        else continue;
        if (!allow_glue && occluded(z, name)) continue;
        const zone::node* n = z.lookup(name);
        std::string_view owner;
        if (!n && (n = z.wildcard_for(name))) owner = name;
        if (n && p.target_count < p.targets.size()) p.targets[p.target_count++] = {&z, n, owner.data(), owner.size()};
    }
}

// RFC 8482 4.1: ANY gets one RRset. NSD prefers the first of the small, popular types.
const zone::rrset* any_choice(const zone::node& n) {
    for (const auto& s : n.rrsets)
        if (s.type == type_a || s.type == type_aaaa || s.type == type_soa || s.type == type_mx || s.type == type_ptr)
            return &s;
    return n.rrsets.empty() ? nullptr : &n.rrsets.front();
}

// The closest zone cut at or above `name` in `z` (the highest one wins: RFC 1034 4.3.2
// step 3b stops at the first referral going down from the apex).
const zone::node* find_cut(const zone& z, std::string_view name, std::string_view& cut_name) {
    if (!z.has_delegations()) return nullptr;
    std::array<std::uint8_t, 128> starts{};
    std::size_t count = 0;
    std::size_t stop = name.size() - z.origin_wire().size();
    for (std::size_t p = 0; p < stop && count < starts.size(); p += 1 + static_cast<unsigned char>(name[p]))
        starts[count++] = static_cast<std::uint8_t>(p);
    while (count-- > 0) {
        std::string_view ancestor = name.substr(starts[count]);
        const zone::node* n = z.lookup(ancestor);
        if (!n) return nullptr;  // nothing exists below a missing name
        if (n->delegation) {
            cut_name = ancestor;
            return n;
        }
    }
    return nullptr;
}

// RFC 1034 4.3.2 for one server holding several zones, following CNAMEs across them.
void resolve(plan& p, std::span<const zone* const> zones, const zone* z, std::string_view name, std::uint16_t qtype,
             bool qclass_any) {
    // NSD answers QCLASS ANY without AA and without SOA or NS in the authority section.
    p.aa = !qclass_any;
    for (int step = 0; step <= max_chain; ++step) {
        std::string_view cut_name;
        const zone::node* cut = find_cut(*z, name, cut_name);
        // A DS query at the cut itself is answered by the parent (RFC 4035 3.1.4.1).
        if (cut && !(qtype == type_ds && cut_name == name)) {
            if (step == 0) p.aa = false;  // a referral is not authoritative data
            p.referral = true;
            if (const auto* ns = cut->find(type_ns)) {
                p.authority.push({z, ns, false});
                add_targets(p, *z, *ns, true);
            }
            return;
        }
        const zone::node* n = z->lookup(name);
        const zone::rrset* soa = z->soa() ? z->lookup(z->origin_wire())->find(type_soa) : nullptr;
        // RFC 4592 3.3.1: a name that does not exist is answered from `*.<closest encloser>`
        // when there is one, with the query name as owner (3.3.3); the cut check above
        // already kept wildcards from matching below a delegation.
        std::string_view owner;
        if (!n && (n = z->wildcard_for(name))) owner = name;
        bool owner_is_qname = !owner.empty() && step == 0;
        if (!n) {
            // NXDOMAIN at the end of a CNAME chain too, as NSD 4.6 does.
            p.code = rcode::nxdomain;
            if (soa && !qclass_any) p.authority.push({z, soa, true});
            return;
        }
        const zone::rrset* found = qtype == type_any ? any_choice(*n) : n->find(qtype);
        if (found) {
            p.answer.push({z, found, false, owner, owner_is_qname});
            if (found->type == type_ns || found->type == type_mx) add_targets(p, *z, *found, found->type == type_ns);
            bool needs_ns = qtype != type_any && qtype != type_ds && qtype != type_dnskey && !qclass_any;
            const zone::rrset* apex_ns = z->lookup(z->origin_wire())->find(type_ns);
            if (needs_ns && apex_ns && apex_ns != found) {
                p.authority.push({z, apex_ns, false});
                p.authority_optional = true;
                add_targets(p, *z, *apex_ns, true);
            }
            return;
        }
        const zone::rrset* cname = n->find(type_cname);
        if (cname && qtype != type_cname && !cname->records.empty()) {
            // RFC 4592 4.3: a wildcard CNAME is synthesised and followed like any other.
            item link{z, cname, false, owner, owner_is_qname};
            if (p.answer.contains(link)) return;  // a loop: the chain is already in the answer
            p.answer.push(link);
            const auto& w = z->wire(cname->records.front());
            if (w.form != zone::rdata_form::name) return;
            const zone* next = best_zone(zones, w.rdata, qtype == type_ds);
            if (!next) return;  // the target is not ours: the resolver goes on from here
            z = next;
            name = w.rdata;
            continue;
        }
        // NODATA (RFC 2308 2.2), also for a wildcard without the type (RFC 4592 3.3.3)
        // or one that is an empty non-terminal (RFC 4592 4.9).
        if (soa && !qclass_any) p.authority.push({z, soa, true});
        return;
    }
}

// Builds the reply in `out`.
class writer {
public:
    writer(std::vector<std::uint8_t>& out, std::size_t limit, std::size_t reserve)
        : out_(out), limit_(limit), reserve_(reserve) {}

    void header(std::uint16_t id, std::uint16_t flags) {
        put16(out_, id);
        put16(out_, flags);
        for (int i = 0; i < 4; ++i) put16(out_, 0);
    }
    void question(const wire_name& qname, std::uint16_t qtype, std::uint16_t qclass) {
        // Echoed uncompressed, with the case it came in (the 0x20 trick relies on it).
        names_.write(out_, qname.view(), false);
        put16(out_, qtype);
        put16(out_, qclass);
        set16(out_, 4, 1);
        question_end_ = out_.size();
    }
    std::size_t question_end() const { return question_end_ ? question_end_ : header_size; }

    // Writes a whole RRset or nothing; false when it does not fit.
    bool rrset(const item& it, int section) {
        std::size_t start = out_.size();
        for (auto i : it.set->records) {
            const auto& r = it.z->records()[i];
            const auto& w = it.z->wire(i);
            names_.write(out_, bytes(it.owner.empty() ? std::string_view(w.owner) : it.owner));
            put16(out_, r.type);
            put16(out_, class_in);
            put32(out_, it.negative ? it.z->negative_ttl() : r.ttl);
            std::size_t len_at = out_.size();
            put16(out_, 0);
            std::string_view rd = w.rdata;
            switch (w.form) {
                case zone::rdata_form::name:
                    names_.write(out_, bytes(rd));
                    break;
                case zone::rdata_form::mx:
                    out_.insert(out_.end(), rd.begin(), rd.begin() + 2);
                    names_.write(out_, bytes(rd.substr(2)));
                    break;
                case zone::rdata_form::soa: {
                    std::size_t m = 0;
                    while (m < rd.size() && rd[m] != 0) m += 1 + static_cast<unsigned char>(rd[m]);
                    std::size_t r2 = m + 1;
                    while (r2 < rd.size() && rd[r2] != 0) r2 += 1 + static_cast<unsigned char>(rd[r2]);
                    names_.write(out_, bytes(rd.substr(0, m + 1)));
                    names_.write(out_, bytes(rd.substr(m + 1, r2 - m)));
                    out_.insert(out_.end(), rd.begin() + static_cast<std::ptrdiff_t>(r2 + 1), rd.end());
                    break;
                }
                case zone::rdata_form::raw:
                    out_.insert(out_.end(), rd.begin(), rd.end());
                    break;
            }
            set16(out_, len_at, out_.size() - len_at - 2);
        }
        if (out_.size() + reserve_ > limit_) {
            // RFC 2181 9: never a partial RRset.
            out_.resize(start);
            names_.forget_from(start);
            return false;
        }
        counts_[section] += it.set->records.size();
        return true;
    }

    // TC on a reply that keeps what it holds (RFC 2181 9 allows it; NSD does it for
    // referrals whose glue did not fit).
    void set_tc() { out_[2] |= 0x02; }

    // Header, question and OPT only, with TC (RFC 1035 4.1.1, RFC 2181 9).
    void truncate() {
        out_.resize(question_end());
        counts_[0] = counts_[1] = counts_[2] = 0;
        out_[2] |= 0x02;
    }

    // `ede` is an Extended DNS Error info-code (RFC 8914), 0 for none.
    void opt(std::uint8_t extended_rcode, bool dnssec_ok, std::uint16_t ede = 0) {
        out_.push_back(0);
        put16(out_, type_opt);
        put16(out_, our_udp_size);
        put32(out_, static_cast<std::uint32_t>(extended_rcode) << 24 | (dnssec_ok ? 0x8000u : 0u));
        if (ede) {
            put16(out_, 6);
            put16(out_, 15);  // RFC 8914 2: OPTION-CODE of EDE, no EXTRA-TEXT
            put16(out_, 2);
            put16(out_, ede);
        } else {
            put16(out_, 0);
        }
        ++counts_[2];
    }

    void finish() {
        set16(out_, 6, counts_[0]);
        set16(out_, 8, counts_[1]);
        set16(out_, 10, counts_[2]);
    }

private:
    std::vector<std::uint8_t>& out_;
    std::size_t limit_;
    std::size_t reserve_;
    std::size_t question_end_ = 0;
    std::array<std::size_t, 3> counts_{};
    name_compressor names_;
};

// What the query asked, read without allocating.
struct parsed_query {
    std::uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    bool has_question = false;
    wire_name qname;  // case as received
    wire_name qlower;
    std::uint16_t qtype = 0, qclass = 0;
    std::size_t after_question = 0;
};

// Reads the question's name at `pos`, which must be uncompressed: a query has no earlier
// name to point at (RFC 1035 4.1.4 compresses repeats), and NSD answers a pointer or a
// reserved label type (RFC 6891 5) in the question with FORMERR, so this does too.
bool read_question_name(std::span<const std::uint8_t> q, std::size_t& pos, wire_name& out) {
    out.size = 0;
    out.labels = 0;
    for (std::size_t p = pos;;) {
        if (p >= q.size()) return false;
        std::size_t len = q[p];
        if ((len & 0xC0) != 0) return false;
        if (len == 0) {
            if (out.size + 1 > max_name_octets) return false;
            out.bytes[out.size++] = 0;
            pos = p + 1;
            return true;
        }
        if (q.size() - p - 1 < len) return false;
        if (out.size + 1 + len + 1 > max_name_octets) return false;  // room for the final zero too
        std::memcpy(out.bytes.data() + out.size, q.data() + p, 1 + len);
        out.size += 1 + len;
        ++out.labels;
        p += 1 + len;
    }
}

enum class opt_result { none, ok, malformed };

// Walks the additional section for the OPT record (RFC 6891 6.1.1): one at most, owned by
// the root, with well-formed options. Other records are checked and skipped.
opt_result read_additional(std::span<const std::uint8_t> q, std::size_t pos, unsigned count, edns& e) {
    opt_result result = opt_result::none;
    wire_name owner;
    for (unsigned i = 0; i < count; ++i) {
        if (!read_name(q, pos, owner) || q.size() - pos < 10) return opt_result::malformed;
        std::uint16_t type = get16(q, pos);
        std::uint16_t rclass = get16(q, pos + 2);
        std::uint32_t ttl = static_cast<std::uint32_t>(get16(q, pos + 4)) << 16 | get16(q, pos + 6);
        std::size_t rdlength = get16(q, pos + 8);
        pos += 10;
        if (q.size() - pos < rdlength) return opt_result::malformed;
        if (type == type_opt) {
            if (result != opt_result::none || owner.size != 1) return opt_result::malformed;
            for (std::size_t p = pos, end = pos + rdlength; p < end;) {
                if (end - p < 4) return opt_result::malformed;
                std::size_t len = get16(q, p + 2);
                if (end - p - 4 < len) return opt_result::malformed;
                p += 4 + len;
            }
            e.udp_size = rclass;
            e.extended_rcode = static_cast<std::uint8_t>(ttl >> 24);
            e.version = static_cast<std::uint8_t>(ttl >> 16);
            e.dnssec_ok = ttl & 0x8000;
            result = opt_result::ok;
        }
        pos += rdlength;
    }
    return result;
}

// True when the query name is at or below one of the listed names; an empty list matches all.
bool servfail_matches(const std::vector<std::string>& names, const wire_name& qlower) {
    if (names.empty()) return true;
    wire_name w;
    for (const auto& n : names) {
        if (text_to_wire(canonical_name(n), w) != name_status::ok) continue;
        lower_wire(w);
        if (below_or_at(key(qlower), key(w))) return true;
    }
    return false;
}

}  // namespace

bool answer(std::span<const zone* const> zones, std::span<const std::uint8_t> query, const query_context& ctx,
            std::vector<std::uint8_t>& out) {
    out.clear();
    // RFC 1035 4.1.1: no header, nobody to answer; a response is never answered (no loops).
    if (query.size() < header_size) return false;
    parsed_query q;
    q.id = get16(query, 0);
    q.flags = get16(query, 2);
    if (q.flags & 0x8000) return false;
    q.qdcount = get16(query, 4);
    q.ancount = get16(query, 6);
    q.nscount = get16(query, 8);
    q.arcount = get16(query, 10);
    std::size_t pos = header_size;
    if (q.qdcount >= 1 && read_question_name(query, pos, q.qname) && query.size() - pos >= 4) {
        q.has_question = true;
        q.qtype = get16(query, pos);
        q.qclass = get16(query, pos + 2);
        q.after_question = pos + 4;
        q.qlower = q.qname;
        lower_wire(q.qlower);
    }

    std::uint8_t opcode = static_cast<std::uint8_t>(q.flags >> 11 & 0x0F);
    // Echo opcode, RD and CD; RA stays clear: this server never recurses. RFC 4035 3.1.6
    // asks for CD to be copied (NSD clears it).
    std::uint16_t flags = static_cast<std::uint16_t>(0x8000 | opcode << 11 | (q.flags & 0x0110));

    edns e;
    opt_result opt = opt_result::none;
    std::size_t limit = ctx.tcp ? tcp_limit : udp_floor;

    auto simple = [&](rcode code, bool echo, bool with_opt, std::uint8_t ext = 0, std::uint16_t ede = 0) {
        writer w(out, tcp_limit, 0);
        w.header(q.id, static_cast<std::uint16_t>(flags | (static_cast<unsigned>(code) & 0x0F)));
        if (echo && q.has_question) w.question(q.qname, q.qtype, q.qclass);
        if (ctx.truncate && !ctx.tcp) w.truncate();
        if (with_opt) w.opt(ext, ext == 0 && e.dnssec_ok, ede);
        w.finish();
        return true;
    };

    if (opcode != 0) return simple(rcode::notimp, true, false);
    if (q.qdcount != 1 || !q.has_question) return simple(rcode::formerr, true, false);
    // Like NSD: a query carries no RCODE and no answer or authority records.
    if ((q.flags & 0x000F) != 0 || q.ancount != 0 || q.nscount != 0) return simple(rcode::formerr, true, false);
    opt = read_additional(query, q.after_question, q.arcount, e);
    if (opt == opt_result::malformed) return simple(rcode::formerr, true, false);
    bool with_opt = opt == opt_result::ok;
    if (with_opt) {
        // RFC 6891 6.1.3: BADVERS is 16, the upper bits in the OPT, with no data.
        if (e.version > 0) return simple(rcode::noerror, true, true, 1);
        if (!ctx.tcp) limit = std::max<std::size_t>(udp_floor, std::min<std::size_t>(e.udp_size, our_udp_size));
    }
    if (ctx.servfail && servfail_matches(*ctx.servfail, q.qlower)) return simple(rcode::servfail, true, with_opt);

    bool qclass_any = q.qclass == class_any;
    if (q.qclass != class_in && !qclass_any) {
        // NSD echoes the question for CHAOS (where it could have served version.bind) and
        // drops it for other classes.
        return simple(rcode::refused, q.qclass == class_ch, with_opt, 0, ede_not_supported);
    }
    // No zone transfers. NSD says NOTIMP to AXFR over UDP (RFC 5936 4.2: TCP only).
    if (q.qtype == type_axfr && !ctx.tcp) return simple(rcode::notimp, true, with_opt);
    if (q.qtype == type_axfr || q.qtype == type_ixfr) return simple(rcode::refused, true, with_opt, 0, ede_prohibited);

    const zone* z = best_zone(zones, key(q.qlower), q.qtype == type_ds);
    if (!z) return simple(rcode::refused, true, with_opt, 0, ede_not_authoritative);

    plan p;
    resolve(p, zones, z, key(q.qlower), q.qtype, qclass_any);

    std::uint16_t reply_flags = static_cast<std::uint16_t>(flags | (p.aa ? 0x0400 : 0) | static_cast<unsigned>(p.code));
    writer w(out, limit, with_opt ? opt_size : 0);
    w.header(q.id, reply_flags);
    w.question(q.qname, q.qtype, q.qclass);

    bool fits = !(ctx.truncate && !ctx.tcp);
    for (std::size_t i = 0; fits && i < p.answer.size; ++i) fits = w.rrset(p.answer.items[i], 0);
    bool optional_ok = fits;
    for (std::size_t i = 0; fits && optional_ok && i < p.authority.size; ++i) {
        if (!w.rrset(p.authority.items[i], 1)) {
            if (p.authority_optional) optional_ok = false;  // drop it, like the additional section
            else fits = false;
        }
    }
    if (!fits) {
        w.truncate();
    } else if (optional_ok) {
        // The additional section is optional (RFC 2181 9: no TC for leaving it out), filled
        // the way NSD 4.6 does it (encode_answer, packet_encode_rrset): all A RRsets first,
        // then all AAAA, in target order. An RRset that does not fit is left out and the
        // rest of its group is still tried; after a group that left something out, nothing
        // more is added. A referral left without a single address gets TC, its records
        // kept: a resolver cannot follow it without glue and should retry over TCP.
        bool skipped = false;
        std::size_t a_sets = 0;
        for (std::uint16_t type : {type_a, type_aaaa}) {
            for (std::size_t t = 0; t < p.target_count; ++t) {
                const target& tg = p.targets[t];
                const zone::rrset* s = tg.n->find(type);
                const item it{tg.z, s, false, tg.owner(), false};
                if (!s || s->records.empty() || p.answer.contains(it)) continue;
                bool seen = false;
                for (std::size_t u = 0; u < t && !seen; ++u)
                    seen = p.targets[u].n == tg.n && p.targets[u].owner() == tg.owner();
                if (seen) continue;
                if (w.rrset(it, 2)) {
                    if (type == type_a) ++a_sets;
                } else {
                    skipped = true;
                }
            }
            if (skipped) {
                if (type == type_a && a_sets == 0 && p.referral) w.set_tc();
                break;
            }
        }
    }
    if (with_opt) w.opt(0, e.dnssec_ok);
    w.finish();
    return true;
}

}  // namespace fake_dns
