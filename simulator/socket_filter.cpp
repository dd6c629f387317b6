#include "simulator/socket_filter.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sim {

bool source_policy::accepts(support::ipv4 source) const {
    bool listed_here = std::find(listed.begin(), listed.end(), source) != listed.end();
    return listed_here == listed_accepted;
}

std::vector<bpf_insn> compile_filter(const source_policy& policy) {
    constexpr std::uint32_t accept = 0xffffffffu, drop = 0;
    std::uint32_t match = policy.listed_accepted ? accept : drop;
    std::uint32_t other = policy.listed_accepted ? drop : accept;
    std::vector<bpf_insn> prog;
    // A = 32-bit word at offset 12 of the network header: the IPv4 source address.
    prog.push_back({BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(SKF_NET_OFF + 12)});
    // Two instructions per address: if equal, fall through to a long jump to
    // the `match` return; else skip it. Long jumps keep any list length legal.
    auto n = policy.listed.size();
    for (std::size_t i = 0; i < n; ++i) {
        prog.push_back({BPF_JMP | BPF_JEQ | BPF_K, 0, 1, policy.listed[i]});
        auto here = prog.size();  // index of the ja
        auto target = 1 + 2 * n + 1;  // index of the `match` return
        prog.push_back({BPF_JMP | BPF_JA, 0, 0, static_cast<std::uint32_t>(target - here - 1)});
    }
    prog.push_back({BPF_RET | BPF_K, 0, 0, other});
    prog.push_back({BPF_RET | BPF_K, 0, 0, match});
    return prog;
}

std::string attach_filter(int fd, const source_policy& policy) {
    auto prog = compile_filter(policy);
    static_assert(sizeof(bpf_insn) == sizeof(sock_filter));
    std::vector<sock_filter> raw(prog.size());
    std::memcpy(raw.data(), prog.data(), prog.size() * sizeof(sock_filter));
    sock_fprog fprog{static_cast<unsigned short>(raw.size()), raw.data()};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) return std::strerror(errno);
    return {};
}

}  // namespace sim
