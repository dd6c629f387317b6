#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "fake_dns/answer.hpp"

namespace fake_dns {

/// Finished replies of answer(), reused for later queries that differ only in
/// their ID and in the case of the question name. Pure: bytes in, bytes out.
///
/// A reply is reused only for the same query bytes (the ID and the case of the
/// question name aside), the same zones (by address) and the same context, so
/// it is byte for byte what answer() would write; the 0x20 case of the question
/// is copied from each query. Zones are immutable, but an address may be
/// reused once a zone is freed: whoever replaces zones must say so (use() or
/// clear()).
/// Replies under dns.servfail are never kept. Bounded: when it holds
/// `max_entries` replies or `max_bytes`, it starts again empty.
class reply_cache {
public:
    /// Bounds of one cache.
    struct limits {
        std::size_t max_entries = 4096;
        std::size_t max_bytes = 1 << 20;  ///< keys and replies together
    };

    reply_cache() = default;
    explicit reply_cache(limits l) : limits_(l) {}

    /// Does what answer(zones, query, ctx, out) does, from a kept reply when it can.
    bool answer(std::span<const zone* const> zones, std::span<const std::uint8_t> query, const query_context& ctx,
                std::vector<std::uint8_t>& out);

    /// For a server that takes queries in batches: brings the replies kept for them
    /// closer to the processor, so that answer() waits less on memory. Only a hint.
    void prefetch(std::span<const std::span<const std::uint8_t>> queries) const;

    /// Forgets every reply (the zones or the faults behind them changed).
    void clear();

    /// Says what the zones of the next queries belong to (a snapshot of the lab's
    /// zones and faults): when it is not what the kept replies were built under,
    /// they are forgotten.
    void use(const std::shared_ptr<const void>& generation);

    /// Replies kept.
    std::size_t size() const { return count_; }
    /// Queries answered from a kept reply, and by answer() (kept or not), since construction.
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

private:
    // Open addressing over one arena, so a hit touches a slot and one run of bytes.
    struct slot {
        std::uint32_t hash = 0;
        std::uint32_t at = 0;  ///< offset + 1 of the entry in arena_; 0: empty
    };
    const std::uint8_t* find(std::uint32_t hash) const;
    void insert(std::uint32_t hash, std::span<const std::uint8_t> reply);

    limits limits_;
    std::vector<slot> table_;          // a power of two, at most half full; allocated on first use
    std::vector<std::uint8_t> arena_;  // entries: key size (2), reply size (2), key, reply
    std::size_t count_ = 0;
    std::uint64_t hits_ = 0, misses_ = 0;
    // The key of the query at hand: context, zones, and the query without its ID.
    std::array<char, 2 + 64 * sizeof(void*) + 512 + 8> key_{};  // 8 to spare for folding
    std::size_t key_size_ = 0;
    // Weak, so an old snapshot is not kept alive; its control block is, so no
    // later snapshot can take its place unnoticed.
    std::weak_ptr<const void> generation_;
};

}  // namespace fake_dns
