#include "fake_smtp/exchange/gwart.hpp"

#include <algorithm>
#include <tuple>

#include "support/text.hpp"

namespace fake_smtp::exchange {

std::vector<gwart_entry> build_gwart(const std::vector<gateway>& gateways) {
    std::vector<gwart_entry> out;
    for (auto& g : gateways)
        for (auto& space : g.address_space) {
            auto colon = space.find(':');
            gwart_entry e;
            e.type = support::to_lower(colon == std::string::npos ? space : space.substr(0, colon));
            for (auto& c : e.type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            e.pattern = colon == std::string::npos ? std::string{} : space.substr(colon + 1);
            e.gateway = g.name;
            e.cost = g.cost;
            e.imc = g.imc;
            out.push_back(std::move(e));
        }
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) {
        return std::tie(a.type, a.pattern, a.cost) < std::tie(b.type, b.pattern, b.cost);
    });
    return out;
}

bool covers(std::string_view pattern, std::string_view address) {
    if (pattern == "*") return true;
    auto at = address.rfind('@');
    auto domain = at == std::string_view::npos ? address : address.substr(at + 1);
    if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
        auto base = pattern.substr(2);
        return support::iequals(domain, base) ||
               (domain.size() > base.size() && domain[domain.size() - base.size() - 1] == '.' &&
                support::iequals(domain.substr(domain.size() - base.size()), base));
    }
    if (pattern.find('@') != std::string_view::npos) return support::iequals(pattern, address);
    return support::iequals(pattern, domain);
}

namespace {
// How specific a pattern is: a full address beats a domain beats a wildcard.
int specificity(std::string_view pattern) {
    if (pattern == "*") return 0;
    if (pattern.substr(0, 2) == "*.") return 1 + static_cast<int>(pattern.size());
    if (pattern.find('@') != std::string_view::npos) return 10000;
    return 1000 + static_cast<int>(pattern.size());
}
}  // namespace

std::optional<gwart_entry> route(const std::vector<gwart_entry>& gwart, std::string_view smtp_address) {
    const gwart_entry* best = nullptr;
    for (auto& e : gwart) {
        if (e.type != "SMTP" || !covers(e.pattern, smtp_address)) continue;
        if (!best) {
            best = &e;
            continue;
        }
        auto key = [](const gwart_entry& x) { return std::tuple(-specificity(x.pattern), x.cost, x.imc); };
        if (key(e) < key(*best)) best = &e;
    }
    if (!best) return std::nullopt;
    return *best;
}

}  // namespace fake_smtp::exchange
