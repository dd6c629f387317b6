#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fake_smtp::exchange {

/// A connector of an Exchange site: the IMC or another (MS Mail, X.400...).
struct gateway {
    std::string name;
    std::vector<std::string> address_space;  ///< "SMTP:*", "SMTP:*.example.net", "X400:c=US;..."
    int cost = 1;
    bool imc = false;
};

/// One row of the Gateway Address Routing Table.
struct gwart_entry {
    std::string type;     ///< "SMTP", "X400", "MS"...
    std::string pattern;  ///< what follows the colon
    std::string gateway;  ///< connector name
    int cost = 1;
    bool imc = false;
};

/// The GWART of a site: one row per address-space entry of every connector, in
/// the order the Administrator shows them (by type, then pattern, then cost).
std::vector<gwart_entry> build_gwart(const std::vector<gateway>& gateways);

/// True when an address-space pattern covers an SMTP address: "*" covers all,
/// "*.example.net" covers example.net and its subdomains, "example.net" that
/// domain, a full address that address.
bool covers(std::string_view pattern, std::string_view address);

/// The row the MTA uses for an SMTP address: the most specific pattern, then
/// the lowest cost; between equal rows, a connector other than the IMC (so a
/// competing connector always shows). nullopt: no route ("No transport
/// provider was available").
std::optional<gwart_entry> route(const std::vector<gwart_entry>& gwart, std::string_view smtp_address);

}  // namespace fake_smtp::exchange
