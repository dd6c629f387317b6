// Zone-file text must never crash the parser, and whatever it accepts must be
// servable: every record it returns builds into a zone and prints as text.
#include <cstdint>
#include <string_view>

#include "fake_dns/zone.hpp"
#include "fake_dns/zone_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto result = fake_dns::parse_zone_text(text, "corp.example", 3600);
    for (const auto& r : result.records) {
        if (!fake_dns::in_zone(r.owner, "corp.example")) __builtin_trap();
        (void)fake_dns::to_text(r);
    }
    // Accepted records are valid by construction; a throw here is a parser bug.
    fake_dns::zone z("corp.example", result.records);
    (void)z.soa();
    return 0;
}
