#include "simulator/socket_filter.hpp"

#include <linux/filter.h>

#include <gtest/gtest.h>

namespace {

using support::parse_ipv4;

// A classic-BPF interpreter for the few instructions compile_filter emits,
// run against a packet whose IPv4 source is `source`.
std::uint32_t run(const std::vector<sim::bpf_insn>& prog, std::uint32_t source) {
    std::uint32_t a = 0;
    for (std::size_t pc = 0; pc < prog.size();) {
        auto& i = prog[pc];
        switch (i.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                EXPECT_EQ(i.k, static_cast<std::uint32_t>(SKF_NET_OFF + 12));
                a = source;
                ++pc;
                break;
            case BPF_JMP | BPF_JEQ | BPF_K: pc += 1 + (a == i.k ? i.jt : i.jf); break;
            case BPF_JMP | BPF_JA: pc += 1 + i.k; break;
            case BPF_RET | BPF_K: return i.k;
            default: ADD_FAILURE() << "unexpected opcode " << i.code; return 0;
        }
    }
    ADD_FAILURE() << "fell off the end";
    return 0;
}

TEST(socket_filter, deny_list_drops_only_listed_sources) {
    sim::source_policy p{{*parse_ipv4("127.25.200.25"), *parse_ipv4("127.25.100.25")}, false};
    auto prog = sim::compile_filter(p);
    EXPECT_EQ(run(prog, *parse_ipv4("127.25.200.25")), 0u);
    EXPECT_EQ(run(prog, *parse_ipv4("127.25.100.25")), 0u);
    EXPECT_NE(run(prog, *parse_ipv4("127.25.10.20")), 0u);
    EXPECT_NE(run(prog, *parse_ipv4("127.0.0.1")), 0u);
    EXPECT_FALSE(p.accepts(*parse_ipv4("127.25.200.25")));
    EXPECT_TRUE(p.accepts(*parse_ipv4("127.0.0.1")));
}

TEST(socket_filter, allow_list_accepts_only_listed_sources) {
    sim::source_policy p{{*parse_ipv4("127.25.10.20")}, true};
    auto prog = sim::compile_filter(p);
    EXPECT_NE(run(prog, *parse_ipv4("127.25.10.20")), 0u);
    EXPECT_EQ(run(prog, *parse_ipv4("127.0.0.1")), 0u);
}

TEST(socket_filter, accept_all_and_drop_all) {
    EXPECT_NE(run(sim::compile_filter(sim::source_policy::accept_all()), 12345), 0u);
    EXPECT_EQ(run(sim::compile_filter(sim::source_policy::drop_all()), 12345), 0u);
}

TEST(socket_filter, long_lists_stay_within_jump_range) {
    sim::source_policy p;
    for (std::uint32_t i = 0; i < 1500; ++i) p.listed.push_back((127u << 24) | (25u << 16) | i);
    auto prog = sim::compile_filter(p);
    EXPECT_LE(prog.size(), static_cast<std::size_t>(BPF_MAXINSNS));
    EXPECT_EQ(run(prog, (127u << 24) | (25u << 16) | 1499), 0u);
    EXPECT_EQ(run(prog, (127u << 24) | (25u << 16) | 0), 0u);
    EXPECT_NE(run(prog, (127u << 24) | (26u << 16) | 5), 0u);
}

}  // namespace
