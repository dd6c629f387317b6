#include "fake_dns/wire.hpp"

#include <array>
#include <cstring>

namespace fake_dns {

namespace {

constexpr std::uint16_t class_in = 1;

std::uint8_t fold(std::uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c - 'A' + 'a') : c; }

std::uint16_t get16(std::span<const std::uint8_t> m, std::size_t at) {
    return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> m, std::size_t at) {
    return static_cast<std::uint32_t>(m[at]) << 24 | static_cast<std::uint32_t>(m[at + 1]) << 16 |
           static_cast<std::uint32_t>(m[at + 2]) << 8 | m[at + 3];
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}

// FNV-1a over one label (length octet included) on top of the hash of the suffix after it.
std::uint32_t hash_label(std::uint32_t h, const std::uint8_t* label) {
    std::size_t len = label[0];
    h ^= static_cast<std::uint32_t>(len);
    h *= 16777619u;
    for (std::size_t i = 1; i <= len; ++i) {
        h ^= fold(label[i]);
        h *= 16777619u;
    }
    return h;
}

// True when the (possibly compressed) name at `offset` in `out` equals the uncompressed
// suffix `name`, ignoring case. Only names we wrote ourselves are walked, but the walk
// is bounded all the same.
bool same_name_at(const std::vector<std::uint8_t>& out, std::size_t offset, const std::uint8_t* name,
                  std::size_t name_len) {
    std::size_t n = 0;
    for (int steps = 0; steps < 256; ++steps) {
        if (offset >= out.size() || n >= name_len) return false;
        std::uint8_t len = out[offset];
        if ((len & 0xC0) == 0xC0) {
            if (offset + 1 >= out.size()) return false;
            std::size_t target = static_cast<std::size_t>((len & 0x3F) << 8 | out[offset + 1]);
            if (target >= offset) return false;
            offset = target;
            continue;
        }
        if (len != name[n]) return false;
        if (len == 0) return true;
        if (offset + 1 + len > out.size() || n + 1 + len > name_len) return false;
        for (std::size_t i = 1; i <= len; ++i)
            if (fold(out[offset + i]) != fold(name[n + i])) return false;
        offset += 1 + len;
        n += 1 + len;
    }
    return false;
}

std::string lower_text(const wire_name& n) { return wire_to_text(n.view(), true); }

// The fixed part of one resource record, its RDATA located but not decoded.
struct raw_rr {
    wire_name owner;
    std::uint16_t type = 0, rclass = 0;
    std::uint32_t ttl = 0;
    std::size_t rdata = 0, rdlength = 0;
};

bool read_rr_header(std::span<const std::uint8_t> msg, std::size_t& pos, raw_rr& rr) {
    if (!read_name(msg, pos, rr.owner)) return false;
    if (msg.size() - pos < 10) return false;
    rr.type = get16(msg, pos);
    rr.rclass = get16(msg, pos + 2);
    rr.ttl = get32(msg, pos + 4);
    rr.rdlength = get16(msg, pos + 8);
    pos += 10;
    if (msg.size() - pos < rr.rdlength) return false;
    rr.rdata = pos;
    pos += rr.rdlength;
    return true;
}

// Decodes the RDATA of a known type into `r`; false when malformed.
bool decode_rdata(std::span<const std::uint8_t> msg, const raw_rr& rr, record& r) {
    std::size_t p = rr.rdata, end = rr.rdata + rr.rdlength;
    wire_name n1, n2;
    switch (rr.type) {
        case 1:
            if (rr.rdlength != 4) return false;
            r.data = a_data{get32(msg, p)};
            return true;
        case 28: {
            if (rr.rdlength != 16) return false;
            aaaa_data d;
            std::memcpy(d.address.data(), msg.data() + p, 16);
            r.data = d;
            return true;
        }
        case 2: case 5: case 12:
            // RFC 3597 4: compression inside these well-known types is allowed on input.
            if (!read_name(msg.first(end), p, n1) || p != end) return false;
            r.data = name_data{lower_text(n1)};
            return true;
        case 15: {
            if (rr.rdlength < 3) return false;
            std::uint16_t pref = get16(msg, p);
            p += 2;
            if (!read_name(msg.first(end), p, n1) || p != end) return false;
            r.data = mx_data{pref, lower_text(n1)};
            return true;
        }
        case 6: {
            if (!read_name(msg.first(end), p, n1) || !read_name(msg.first(end), p, n2)) return false;
            if (end - p != 20) return false;
            soa_data s;
            s.mname = lower_text(n1);
            s.rname = lower_text(n2);
            s.serial = get32(msg, p);
            s.refresh = get32(msg, p + 4);
            s.retry = get32(msg, p + 8);
            s.expire = get32(msg, p + 12);
            s.minimum = get32(msg, p + 16);
            r.data = std::move(s);
            return true;
        }
        case 16: {
            txt_data t;
            while (p < end) {
                std::size_t len = msg[p];
                if (end - p - 1 < len) return false;
                t.strings.emplace_back(reinterpret_cast<const char*>(msg.data() + p + 1), len);
                p += 1 + len;
            }
            r.data = std::move(t);
            return true;
        }
        default:
            return false;
    }
}

bool known_type(std::uint16_t t) {
    return t == 1 || t == 2 || t == 5 || t == 6 || t == 12 || t == 15 || t == 16 || t == 28;
}

void write_text_name(std::vector<std::uint8_t>& out, name_compressor& names, std::string_view text, bool compress) {
    wire_name w;
    // Names that cannot be encoded become the root rather than a corrupt message:
    // records built by hand are the caller's to validate (zone does, at build time).
    if (text_to_wire(text, w) != name_status::ok) text_to_wire("", w);
    names.write(out, w.view(), compress);
}

void write_record(std::vector<std::uint8_t>& out, name_compressor& names, const record& r) {
    write_text_name(out, names, r.owner, true);
    put16(out, r.type);
    put16(out, class_in);
    put32(out, r.ttl);
    std::size_t len_at = out.size();
    put16(out, 0);
    // RFC 3597 4: only the RFC 1035 types may carry compressed names in RDATA.
    if (auto* n = std::get_if<name_data>(&r.data)) {
        bool compress = r.type == 2 || r.type == 5 || r.type == 12;
        write_text_name(out, names, n->target, compress);
    } else if (auto* mx = std::get_if<mx_data>(&r.data)) {
        put16(out, mx->preference);
        write_text_name(out, names, mx->exchange, r.type == 15);
    } else if (auto* soa = std::get_if<soa_data>(&r.data)) {
        write_text_name(out, names, soa->mname, r.type == 6);
        write_text_name(out, names, soa->rname, r.type == 6);
        put32(out, soa->serial);
        put32(out, soa->refresh);
        put32(out, soa->retry);
        put32(out, soa->expire);
        put32(out, soa->minimum);
    } else {
        rdata_to_wire(r, out);
    }
    std::size_t len = out.size() - len_at - 2;
    out[len_at] = static_cast<std::uint8_t>(len >> 8);
    out[len_at + 1] = static_cast<std::uint8_t>(len);
}

}  // namespace

std::string_view rcode_name(rcode r) {
    switch (r) {
        case rcode::noerror: return "NOERROR";
        case rcode::formerr: return "FORMERR";
        case rcode::servfail: return "SERVFAIL";
        case rcode::nxdomain: return "NXDOMAIN";
        case rcode::notimp: return "NOTIMP";
        case rcode::refused: return "REFUSED";
        case rcode::badvers: return "BADVERS";
    }
    return "RCODE?";
}

rcode message::full_rcode() const {
    // RFC 6891 6.1.3: the OPT TTL carries the upper eight bits of a 12-bit RCODE.
    unsigned value = hdr.rcode & 0x0F;
    if (opt) value |= static_cast<unsigned>(opt->extended_rcode) << 4;
    return static_cast<rcode>(value);
}

name_status text_to_wire(std::string_view text, wire_name& out) {
    out.size = 0;
    out.labels = 0;
    if (text == "." || text.empty()) {
        out.bytes[0] = 0;
        out.size = 1;
        return name_status::ok;
    }
    std::size_t i = 0;
    std::size_t label_at = 0;  // where the current label's length octet sits
    std::size_t label_len = 0;
    out.size = 1;              // reserve the first length octet
    auto end_label = [&]() -> name_status {
        if (label_len == 0) return name_status::empty_label;
        out.bytes[label_at] = static_cast<std::uint8_t>(label_len);
        ++out.labels;
        label_at = out.size;
        label_len = 0;
        if (out.size >= max_name_octets) return name_status::name_too_long;
        ++out.size;
        return name_status::ok;
    };
    while (i < text.size()) {
        char c = text[i];
        if (c == '.') {
            if (auto s = end_label(); s != name_status::ok) return s;
            ++i;
            if (i == text.size()) {  // absolute: the final dot ends the name
                out.bytes[label_at] = 0;
                return name_status::ok;
            }
            continue;
        }
        std::uint8_t byte = static_cast<std::uint8_t>(c);
        if (c == '\\') {
            if (i + 1 >= text.size()) return name_status::bad_escape;
            char d = text[i + 1];
            if (d >= '0' && d <= '9') {
                if (i + 3 >= text.size()) return name_status::bad_escape;
                int v = 0;
                for (std::size_t k = 1; k <= 3; ++k) {
                    char e = text[i + k];
                    if (e < '0' || e > '9') return name_status::bad_escape;
                    v = v * 10 + (e - '0');
                }
                if (v > 255) return name_status::bad_escape;
                byte = static_cast<std::uint8_t>(v);
                i += 4;
            } else {
                byte = static_cast<std::uint8_t>(d);
                i += 2;
            }
        } else {
            ++i;
        }
        if (label_len == max_label_octets) return name_status::label_too_long;
        if (out.size >= max_name_octets) return name_status::name_too_long;
        out.bytes[out.size++] = byte;
        ++label_len;
    }
    if (auto s = end_label(); s != name_status::ok) return s;
    out.bytes[label_at] = 0;
    return name_status::ok;
}

std::string wire_to_text(std::span<const std::uint8_t> wire, bool lower) {
    // How master files show each octet: 0 as is, 1 after a backslash, 2 as \DDD.
    static constexpr auto shown = [] {
        std::array<std::uint8_t, 256> t{};
        for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = (c <= 0x20 || c >= 0x7f) ? 2 : 0;
        for (char c : std::string_view(".\\\"();@$")) t[static_cast<unsigned char>(c)] = 1;
        return t;
    }();
    // Most names need no escape: their text is the wire form without its first length
    // octet, the other length octets turned into dots. The query log turns every
    // question into text, so this is worth a path of its own.
    unsigned special = 0;
    std::size_t end = 0;
    while (end < wire.size() && wire[end] != 0) {
        std::size_t len = wire[end];
        if (len > max_label_octets || end + 1 + len > wire.size()) {
            special = 1;
            break;
        }
        for (std::size_t i = 1; i <= len; ++i) special |= shown[wire[end + i]];
        end += 1 + len;
    }
    if (special == 0) {
        if (end == 0) return {};
        std::string text(reinterpret_cast<const char*>(wire.data()) + 1, end - 1);
        for (std::size_t k = 1 + wire[0]; k < end; k += 1 + wire[k]) text[k - 1] = '.';
        if (lower)
            for (auto& c : text) c = static_cast<char>(fold(static_cast<std::uint8_t>(c)));
        return text;
    }
    // Otherwise built on the stack and copied out once.
    std::array<char, 1024> buf;
    std::size_t n = 0;
    std::string out;
    std::size_t p = 0;
    while (p < wire.size() && wire[p] != 0) {
        std::size_t len = wire[p];
        if (len > max_label_octets || p + 1 + len > wire.size()) break;
        if (n + 1 + 4 * len > buf.size()) {  // only for input longer than any name
            out.append(buf.data(), n);
            n = 0;
        }
        if (p != 0) buf[n++] = '.';
        for (std::size_t i = 1; i <= len; ++i) {
            std::uint8_t c = wire[p + i];
            if (lower) c = fold(c);
            switch (shown[c]) {
                case 0:
                    buf[n++] = static_cast<char>(c);
                    break;
                case 1:
                    buf[n++] = '\\';
                    buf[n++] = static_cast<char>(c);
                    break;
                default:
                    buf[n++] = '\\';
                    buf[n++] = static_cast<char>('0' + c / 100);
                    buf[n++] = static_cast<char>('0' + c / 10 % 10);
                    buf[n++] = static_cast<char>('0' + c % 10);
            }
        }
        p += 1 + len;
    }
    out.append(buf.data(), n);
    return out;
}

bool read_name(std::span<const std::uint8_t> msg, std::size_t& pos, wire_name& out) {
    out.size = 0;
    out.labels = 0;
    std::size_t p = pos;
    std::size_t run_start = pos;  // pointers must land strictly before the run they interrupt
    bool jumped = false;
    for (int jumps = 0;;) {
        if (p >= msg.size()) return false;
        std::uint8_t len = msg[p];
        if ((len & 0xC0) == 0xC0) {
            if (p + 1 >= msg.size()) return false;
            std::size_t target = static_cast<std::size_t>((len & 0x3F) << 8 | msg[p + 1]);
            // RFC 1035 4.1.4: a pointer refers to a prior occurrence. Requiring each jump to
            // land before the start of the current run makes targets strictly decrease, so
            // no loop is possible; the jump bound is a second guard.
            if (target >= run_start || ++jumps > 127) return false;
            if (!jumped) pos = p + 2;
            jumped = true;
            p = target;
            run_start = target;
            continue;
        }
        if ((len & 0xC0) != 0) return false;  // 01 and 10 label types are reserved (RFC 6891 5)
        if (len == 0) {
            if (out.size + 1 > max_name_octets) return false;
            out.bytes[out.size++] = 0;
            if (!jumped) pos = p + 1;
            return true;
        }
        if (msg.size() - p - 1 < len) return false;
        if (out.size + 1 + len + 1 > max_name_octets) return false;  // room for the final zero too
        std::memcpy(out.bytes.data() + out.size, msg.data() + p, 1 + static_cast<std::size_t>(len));
        out.size += 1 + static_cast<std::size_t>(len);
        ++out.labels;
        p += 1 + static_cast<std::size_t>(len);
    }
}

void lower_wire(wire_name& name) {
    for (std::size_t p = 0; p < name.size && name.bytes[p] != 0;) {
        std::size_t len = name.bytes[p];
        for (std::size_t i = 1; i <= len && p + i < name.size; ++i) name.bytes[p + i] = fold(name.bytes[p + i]);
        p += 1 + len;
    }
}

bool rdata_to_wire(const record& r, std::vector<std::uint8_t>& out) {
    wire_name w;
    auto put_name = [&](const std::string& text) {
        if (text_to_wire(text, w) != name_status::ok) return false;
        out.insert(out.end(), w.bytes.begin(), w.bytes.begin() + static_cast<std::ptrdiff_t>(w.size));
        return true;
    };
    if (auto* a = std::get_if<a_data>(&r.data)) {
        put32(out, a->address);
    } else if (auto* aaaa = std::get_if<aaaa_data>(&r.data)) {
        out.insert(out.end(), aaaa->address.begin(), aaaa->address.end());
    } else if (auto* n = std::get_if<name_data>(&r.data)) {
        return put_name(n->target);
    } else if (auto* mx = std::get_if<mx_data>(&r.data)) {
        put16(out, mx->preference);
        return put_name(mx->exchange);
    } else if (auto* soa = std::get_if<soa_data>(&r.data)) {
        if (!put_name(soa->mname) || !put_name(soa->rname)) return false;
        put32(out, soa->serial);
        put32(out, soa->refresh);
        put32(out, soa->retry);
        put32(out, soa->expire);
        put32(out, soa->minimum);
    } else if (auto* txt = std::get_if<txt_data>(&r.data)) {
        // RFC 1035 3.3: a <character-string> holds at most 255 octets.
        for (const auto& s : txt->strings) {
            std::size_t at = 0;
            do {
                std::size_t chunk = std::min<std::size_t>(255, s.size() - at);
                out.push_back(static_cast<std::uint8_t>(chunk));
                out.insert(out.end(), s.begin() + static_cast<std::ptrdiff_t>(at),
                           s.begin() + static_cast<std::ptrdiff_t>(at + chunk));
                at += chunk;
            } while (at < s.size());
        }
    }
    return true;
}

void name_compressor::write(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> name, bool compress) {
    // Label starts and the hash of every suffix, computed from the root upwards.
    std::array<std::uint8_t, 128> starts{};
    std::array<std::uint32_t, 129> hashes{};
    std::size_t labels = 0;
    for (std::size_t p = 0; p < name.size() && name[p] != 0 && labels < starts.size(); p += 1 + name[p]) {
        if (p + 1 + name[p] >= name.size()) break;
        starts[labels++] = static_cast<std::uint8_t>(p);
    }
    hashes[labels] = 2166136261u;
    for (std::size_t k = labels; k-- > 0;) hashes[k] = hash_label(hashes[k + 1], name.data() + starts[k]);

    std::size_t match_label = labels;  // first label of the suffix found earlier in the message
    std::size_t match_offset = 0;
    if (compress) {
        for (std::size_t k = 0; k < labels && match_label == labels; ++k) {
            for (std::size_t e = 0; e < count_; ++e) {
                if (entries_[e].hash != hashes[k]) continue;
                if (same_name_at(out, entries_[e].offset, name.data() + starts[k], name.size() - starts[k])) {
                    match_label = k;
                    match_offset = entries_[e].offset;
                    break;
                }
            }
        }
    }
    for (std::size_t k = 0; k < match_label; ++k) {
        std::size_t here = out.size();
        // Offsets above 0x3FFF cannot be the target of a 14-bit pointer.
        if (here < 0x4000 && count_ < entries_.size()) entries_[count_++] = {hashes[k], static_cast<std::uint16_t>(here)};
        const std::uint8_t* label = name.data() + starts[k];
        out.insert(out.end(), label, label + 1 + label[0]);
    }
    if (match_label < labels) {
        out.push_back(static_cast<std::uint8_t>(0xC0 | match_offset >> 8));
        out.push_back(static_cast<std::uint8_t>(match_offset));
    } else {
        out.push_back(0);
    }
}

void name_compressor::forget_from(std::size_t size) {
    while (count_ > 0 && entries_[count_ - 1].offset >= size) --count_;
}

std::optional<message> parse_message(std::span<const std::uint8_t> wire) {
    if (wire.size() < 12) return std::nullopt;
    message m;
    auto& h = m.hdr;
    h.id = get16(wire, 0);
    std::uint16_t flags = get16(wire, 2);
    h.qr = flags & 0x8000;
    h.opcode = static_cast<std::uint8_t>(flags >> 11 & 0x0F);
    h.aa = flags & 0x0400;
    h.tc = flags & 0x0200;
    h.rd = flags & 0x0100;
    h.ra = flags & 0x0080;
    h.ad = flags & 0x0020;
    h.cd = flags & 0x0010;
    h.rcode = static_cast<std::uint8_t>(flags & 0x0F);
    h.qdcount = get16(wire, 4);
    h.ancount = get16(wire, 6);
    h.nscount = get16(wire, 8);
    h.arcount = get16(wire, 10);

    std::size_t pos = 12;
    // Every entry takes at least 5 (question) or 11 (record) octets: reject absurd
    // counts before reserving anything for them.
    std::size_t remaining = wire.size() - pos;
    if (std::size_t{h.qdcount} * 5 + (std::size_t{h.ancount} + h.nscount + h.arcount) * 11 > remaining)
        return std::nullopt;
    m.questions.reserve(h.qdcount);
    wire_name n;
    for (unsigned i = 0; i < h.qdcount; ++i) {
        if (!read_name(wire, pos, n) || wire.size() - pos < 4) return std::nullopt;
        question q;
        q.name = wire_to_text(n.view(), false);
        q.type = get16(wire, pos);
        q.qclass = get16(wire, pos + 2);
        pos += 4;
        m.questions.push_back(std::move(q));
    }
    std::vector<record>* sections[3] = {&m.answers, &m.authority, &m.additional};
    std::uint16_t counts[3] = {h.ancount, h.nscount, h.arcount};
    for (int s = 0; s < 3; ++s) {
        for (unsigned i = 0; i < counts[s]; ++i) {
            raw_rr rr;
            if (!read_rr_header(wire, pos, rr)) return std::nullopt;
            if (rr.type == 41) {
                // RFC 6891 6.1.1: one OPT, in the additional section, owned by the root.
                if (s != 2 || m.opt || rr.owner.size != 1) return std::nullopt;
                for (std::size_t p = rr.rdata, end = rr.rdata + rr.rdlength; p < end;) {
                    if (end - p < 4) return std::nullopt;
                    std::size_t len = get16(wire, p + 2);
                    if (end - p - 4 < len) return std::nullopt;
                    p += 4 + len;
                }
                edns e;
                e.udp_size = rr.rclass;
                e.extended_rcode = static_cast<std::uint8_t>(rr.ttl >> 24);
                e.version = static_cast<std::uint8_t>(rr.ttl >> 16);
                e.dnssec_ok = rr.ttl & 0x8000;
                m.opt = e;
                continue;
            }
            if (!known_type(rr.type) || rr.rclass != class_in) {
                ++m.skipped;
                continue;
            }
            record r;
            r.owner = lower_text(rr.owner);
            r.type = rr.type;
            r.ttl = rr.ttl;
            if (!decode_rdata(wire, rr, r)) return std::nullopt;
            sections[s]->push_back(std::move(r));
        }
    }
    return m;
}

std::optional<std::pair<header, question>> parse_question(std::span<const std::uint8_t> wire) {
    if (wire.size() < 12) return std::nullopt;
    header h;
    h.id = get16(wire, 0);
    std::uint16_t flags = get16(wire, 2);
    h.qr = flags & 0x8000;
    h.opcode = static_cast<std::uint8_t>(flags >> 11 & 0x0F);
    h.aa = flags & 0x0400;
    h.tc = flags & 0x0200;
    h.rd = flags & 0x0100;
    h.ra = flags & 0x0080;
    h.ad = flags & 0x0020;
    h.cd = flags & 0x0010;
    h.rcode = static_cast<std::uint8_t>(flags & 0x0F);
    h.qdcount = get16(wire, 4);
    h.ancount = get16(wire, 6);
    h.nscount = get16(wire, 8);
    h.arcount = get16(wire, 10);
    if (h.qdcount == 0) return std::nullopt;
    std::size_t pos = 12;
    question q;
    // A query's name is a plain run of labels: turned into text where it lies (a server
    // logs every question). Anything else takes the general path.
    std::size_t end = pos;
    while (end < wire.size() && wire[end] != 0 && (wire[end] & 0xC0) == 0) end += 1 + std::size_t{wire[end]};
    if (end < wire.size() && wire[end] == 0 && end + 1 - pos <= max_name_octets) {
        q.name = wire_to_text(wire.subspan(pos, end + 1 - pos), false);
        pos = end + 1;
        if (wire.size() - pos < 4) return std::nullopt;
    } else {
        wire_name n;
        if (!read_name(wire, pos, n) || wire.size() - pos < 4) return std::nullopt;
        q.name = wire_to_text(n.view(), false);
    }
    q.type = get16(wire, pos);
    q.qclass = get16(wire, pos + 2);
    return std::pair{h, std::move(q)};
}

std::vector<std::uint8_t> encode(const message& m) {
    std::vector<std::uint8_t> out;
    out.reserve(512);
    const auto& h = m.hdr;
    put16(out, h.id);
    std::uint16_t flags = static_cast<std::uint16_t>((h.qr ? 0x8000 : 0) | (h.opcode & 0x0F) << 11 | (h.aa ? 0x0400 : 0) |
                                                     (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) |
                                                     (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) | (h.rcode & 0x0F));
    put16(out, flags);
    auto count = [](std::size_t n) { return static_cast<std::uint16_t>(std::min<std::size_t>(n, 0xFFFF)); };
    put16(out, count(m.questions.size()));
    put16(out, count(m.answers.size()));
    put16(out, count(m.authority.size()));
    put16(out, count(m.additional.size() + (m.opt ? 1 : 0)));
    name_compressor names;
    for (const auto& q : m.questions) {
        write_text_name(out, names, q.name, true);
        put16(out, q.type);
        put16(out, q.qclass);
    }
    for (const auto* section : {&m.answers, &m.authority, &m.additional})
        for (const auto& r : *section) write_record(out, names, r);
    if (m.opt) {
        out.push_back(0);
        put16(out, 41);
        put16(out, m.opt->udp_size);
        put32(out, static_cast<std::uint32_t>(m.opt->extended_rcode) << 24 |
                       static_cast<std::uint32_t>(m.opt->version) << 16 | (m.opt->dnssec_ok ? 0x8000u : 0u));
        put16(out, 0);
    }
    return out;
}

std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t type, bool recursion_desired,
                                      std::optional<std::uint16_t> edns_size) {
    message m;
    m.hdr.id = id;
    m.hdr.rd = recursion_desired;
    m.questions.push_back(question{std::string(name), type, class_in});
    if (edns_size) m.opt = edns{*edns_size, 0, 0, false};
    return encode(m);
}

}  // namespace fake_dns
