#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "support/ipv4.hpp"

namespace sim {

/// Who may reach a listening socket, by source address: the listed addresses
/// get `listed_verdict`, every other source gets the opposite.
struct source_policy {
    std::vector<support::ipv4> listed;
    bool listed_accepted = false;  ///< true: an allow list; false: a deny list

    static source_policy accept_all() { return {{}, false}; }
    static source_policy drop_all() { return {{}, true}; }
    bool accepts(support::ipv4 source) const;
    bool operator==(const source_policy&) const = default;
};

/// One classic BPF instruction (the layout of struct sock_filter).
struct bpf_insn {
    std::uint16_t code;
    std::uint8_t jt, jf;
    std::uint32_t k;
};

/// The classic BPF program that enforces a policy in the kernel: it loads the
/// IPv4 source address (SKF_NET_OFF + 12) and accepts or drops the packet.
/// Dropped SYNs make a TCP client's connect time out; dropped datagrams go
/// unanswered, as on a real network with no route.
std::vector<bpf_insn> compile_filter(const source_policy& policy);

/// Attaches (or replaces) the filter on a socket; "" on success, else the reason.
std::string attach_filter(int fd, const source_policy& policy);

}  // namespace sim
