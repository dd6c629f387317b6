#pragma once
#include <optional>
#include <string>
#include <vector>

#include "simulator/scenario.hpp"

namespace sim {

/// One direction of a packet's trip through the modelled network.
struct route_result {
    bool ok = false;
    std::vector<ipv4> hops;  ///< router addresses crossed, in order (what tracert prints)
    std::string failure;     ///< why it stops, in words an admin would use
};

/// The network of a configuration: segments, routers, links, hosts. Decides
/// for every ordered pair of addresses whether a packet gets there and back
/// (SPEC 2). Pure; rebuilt whenever the live configuration changes.
class network {
public:
    explicit network(const configuration& config);

    /// The way from `from` to `to`, one direction. `from` is a host or router address.
    route_result route(ipv4 from, ipv4 to) const;

    /// True when packets from `from` reach `to` and the replies come back.
    bool reachable(ipv4 from, ipv4 to) const;

private:
    struct router_node {
        const router_config* config;
        std::vector<std::size_t> neighbours;  // routers reachable in one hop
    };

    const segment_config* segment_of(ipv4 a) const;
    std::optional<std::size_t> router_with(ipv4 address) const;
    /// The router address on `seg` of router `r`, or 0.
    ipv4 address_on(std::size_t r, const segment_config* seg) const;

    const configuration& config_;
    std::vector<router_node> routers_;
};

}  // namespace sim
