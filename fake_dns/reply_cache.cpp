#include "fake_dns/reply_cache.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace fake_dns {

namespace {

constexpr std::size_t header_size = 12;
// Queries are small; a bigger one (options, padding) is answered without the cache.
constexpr std::size_t max_query = 512;
// Zones a client sees; more than this is not a lab anyone writes.
constexpr std::size_t max_zones = 64;

// The end of the question name at offset 12 when it is a plain run of labels, as
// answer() reads it (no pointer, at most 255 octets); 0 otherwise. Length octets are
// 0..63 and never A-Z, so the whole run can be folded to lower case at once.
std::size_t question_name_end(std::span<const std::uint8_t> q) {
    if (q.size() < header_size || (q[4] << 8 | q[5]) == 0) return 0;
    for (std::size_t p = header_size;;) {
        if (p >= q.size()) return 0;
        std::size_t len = q[p];
        if ((len & 0xC0) != 0) return 0;
        if (len == 0) return p + 1 - header_size <= 255 ? p + 1 : 0;
        if (q.size() - p - 1 < len) return 0;
        p += 1 + len;
    }
}

// True when the query holds a compression pointer to offset 0 or 1: a name that
// starts in the ID. The key leaves the ID out, so such a query (never a real
// client's, but a fuzzer's) must not share a reply with one of another ID.
bool may_read_the_id(std::span<const std::uint8_t> q) {
    for (std::size_t i = header_size; i + 1 < q.size(); ++i)
        if (q[i] == 0xC0 && q[i + 1] < 2) return true;
    return false;
}

// True when a query has the shape of those the cache keeps (zones and context aside).
bool keepable(std::span<const std::uint8_t> q) {
    return q.size() >= header_size && q.size() <= max_query && !(q[2] & 0x80) && !may_read_the_id(q);
}

static_assert(std::endian::native == std::endian::little, "fold8 and its masks take octet 0 as the low one");

// A-Z to a-z in the eight octets of `w` that `keep` selects (0x80 in each), eight at a
// time: a byte is upper case when its low seven bits are in 0x41..0x5A and its top bit
// is clear; adding to the low seven bits cannot carry into the next byte.
std::uint64_t fold8(std::uint64_t w, std::uint64_t keep) {
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    std::uint64_t low = w & 0x7F * ones;
    std::uint64_t at_least_a = low + (0x80 - 'A') * ones;
    std::uint64_t past_z = low + (0x80 - 'Z' - 1) * ones;
    std::uint64_t upper = at_least_a & ~past_z & ~w & keep;
    return w ^ upper >> 2;  // 0x80 >> 2 is 0x20, the case bit
}

// Copies the query from offset 2 (after the ID) to `into`, folds the question name to
// lower case there, and returns the hash the reply is filed under. The zones and the
// context are in the key but not in the hash, so that a server can look for a batch
// of replies before it knows them. `into` must have 8 octets to spare.
inline std::uint32_t fold_and_hash(std::span<const std::uint8_t> query, std::size_t name_end, char* into) {
    std::size_t n = query.size() - 2;
    std::memcpy(into, query.data() + 2, n);
    // The name is at offsets [12, name_end) of the query, [10, name_end - 2) here.
    for (std::size_t i = header_size - 2; i + 2 < name_end; i += 8) {
        std::size_t left = name_end - 2 - i;
        std::uint64_t keep = left >= 8 ? ~0ull : (1ull << (8 * left)) - 1;
        std::uint64_t w;
        std::memcpy(&w, into + i, 8);
        w = fold8(w, keep & 0x8080808080808080ull);
        std::memcpy(into + i, &w, 8);
    }
    // Eight octets at a time, multiplied and folded (keys are compared in full, so the
    // hash only has to spread them over the table).
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, into + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(into[i])) * 0x100000001B3ull;
    h ^= h >> 32;
    h *= 0xC4CEB9FE1A85EC53ull;
    return static_cast<std::uint32_t>(h >> 32);
}

}  // namespace

void reply_cache::prefetch(std::span<const std::span<const std::uint8_t>> queries) const {
    if (table_.empty()) return;
    // Two passes, so that the waits on memory overlap: the slots of every query first,
    // then the entries the slots point at (the first one each; most are found there).
    constexpr std::size_t most = 64;
    std::array<std::uint32_t, most> hashes{};
    std::array<char, max_query + 8> scratch{};
    std::size_t n = std::min(queries.size(), most);
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = 0; i < n; ++i) {
        if (!keepable(queries[i])) continue;
        hashes[i] = fold_and_hash(queries[i], question_name_end(queries[i]), scratch.data());
        __builtin_prefetch(&table_[hashes[i] & mask]);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!keepable(queries[i])) continue;
        const slot& s = table_[hashes[i] & mask];
        if (s.at == 0) continue;
        // The entry's first four cache lines (a prefetch never faults, even past the end).
        const std::uint8_t* e = arena_.data() + (s.at - 1);
        for (int line = 0; line < 4; ++line) __builtin_prefetch(e + 64 * line);
    }
}

bool reply_cache::answer(std::span<const zone* const> zones, std::span<const std::uint8_t> query,
                         const query_context& ctx, std::vector<std::uint8_t>& out) {
    // Not kept: queries answered with silence (too short, or a response), odd sizes,
    // and dns.servfail, whose answer depends on the list of names it points to.
    if (ctx.servfail || !keepable(query) || zones.size() > max_zones) {
        ++misses_;
        return fake_dns::answer(zones, query, ctx, out);
    }

    // The key: what answer() reads besides the ID, with the question name folded.
    // Every field of query_context that answer() reads is here.
    std::size_t name_end = question_name_end(query);
    char* k = key_.data();
    k[0] = static_cast<char>((ctx.tcp ? 1 : 0) | (ctx.truncate ? 2 : 0));
    k[1] = static_cast<char>(zones.size());
    if (!zones.empty()) std::memcpy(k + 2, zones.data(), zones.size() * sizeof(const zone*));
    char* q = k + 2 + zones.size() * sizeof(const zone*);  // the query from its offset 2
    std::uint32_t hash = fold_and_hash(query, name_end, q);
    key_size_ = static_cast<std::size_t>(q - k) + query.size() - 2;
    if (const std::uint8_t* e = find(hash)) {
        ++hits_;
        std::size_t key_size = std::size_t{e[0]} << 8 | e[1];
        std::size_t reply_size = std::size_t{e[2]} << 8 | e[3];
        const std::uint8_t* reply = e + 4 + key_size;
        out.assign(reply, reply + reply_size);
        out[0] = query[0];
        out[1] = query[1];
        // The question is echoed at offset 12, uncompressed, in the case it came in
        // (the 0x20 trick); names further on point at it and so take its case too,
        // as they would in a fresh answer (compression compares without case).
        bool echoed = out.size() >= name_end && out[4] == 0 && out[5] == 1;
        if (name_end && echoed)
            std::memcpy(out.data() + header_size, query.data() + header_size, name_end - header_size);
        return true;
    }

    ++misses_;
    if (!fake_dns::answer(zones, query, ctx, out)) return false;
    insert(hash, out);
    return true;
}

const std::uint8_t* reply_cache::find(std::uint32_t hash) const {
    if (table_.empty()) return nullptr;
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {  // never full: ends at an empty slot
        const slot& s = table_[i];
        if (s.at == 0) return nullptr;
        if (s.hash != hash) continue;
        const std::uint8_t* e = arena_.data() + (s.at - 1);
        std::size_t key_size = std::size_t{e[0]} << 8 | e[1];
        if (key_size == key_size_ && std::memcmp(e + 4, key_.data(), key_size) == 0) return e;
    }
}

void reply_cache::insert(std::uint32_t hash, std::span<const std::uint8_t> reply) {
    std::size_t cost = 4 + key_size_ + reply.size();
    if (limits_.max_entries == 0 || cost > limits_.max_bytes || reply.size() > 0xFFFF) return;
    if (count_ >= limits_.max_entries || arena_.size() + cost > limits_.max_bytes) clear();
    if (table_.size() < 2 * (count_ + 1)) {
        // Grow and place every entry again by its hash.
        std::vector<slot> bigger(std::max<std::size_t>(64, table_.size() * 2));
        std::size_t mask = bigger.size() - 1;
        for (const slot& s : table_) {
            if (s.at == 0) continue;
            std::size_t i = s.hash & mask;
            while (bigger[i].at != 0) i = (i + 1) & mask;
            bigger[i] = s;
        }
        table_ = std::move(bigger);
    }
    std::size_t at = arena_.size();
    arena_.push_back(static_cast<std::uint8_t>(key_size_ >> 8));
    arena_.push_back(static_cast<std::uint8_t>(key_size_));
    arena_.push_back(static_cast<std::uint8_t>(reply.size() >> 8));
    arena_.push_back(static_cast<std::uint8_t>(reply.size()));
    arena_.insert(arena_.end(), key_.begin(), key_.begin() + static_cast<std::ptrdiff_t>(key_size_));
    arena_.insert(arena_.end(), reply.begin(), reply.end());
    std::size_t mask = table_.size() - 1;
    std::size_t i = hash & mask;
    while (table_[i].at != 0) i = (i + 1) & mask;
    table_[i] = {hash, static_cast<std::uint32_t>(at + 1)};
    ++count_;
}

void reply_cache::clear() {
    arena_.clear();
    std::fill(table_.begin(), table_.end(), slot{});
    count_ = 0;
}

void reply_cache::use(const std::shared_ptr<const void>& generation) {
    if (!generation_.owner_before(generation) && !generation.owner_before(generation_)) return;
    clear();
    generation_ = generation;
}

}  // namespace fake_dns
