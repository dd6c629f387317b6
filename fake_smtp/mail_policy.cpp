#include "fake_smtp/mail_policy.hpp"

#include <algorithm>
#include <ctime>

#include "support/text.hpp"

namespace fake_smtp {

namespace {

std::string lower(std::string_view s) { return support::to_lower(s); }

bool listed(const std::vector<std::string>& list, std::string_view value) {
    return std::any_of(list.begin(), list.end(), [&](auto& x) { return support::iequals(x, value); });
}

// A domain matches an entry equal to it; an entry ".corp.example" matches its subdomains.
bool domain_matches(std::string_view entry, std::string_view domain) {
    if (!entry.empty() && entry.front() == '.')
        return domain.size() > entry.size() && support::iequals(domain.substr(domain.size() - entry.size()), entry);
    return support::iequals(entry, domain);
}

}  // namespace

recipient_decision classify_recipient(const mail_host_config& c, std::string_view address) {
    recipient_decision d;
    auto at = address.rfind('@');
    // RFC 5321 4.5.1: <postmaster> without a domain must be accepted.
    if (at == std::string_view::npos) {
        if (support::iequals(address, "postmaster")) {
            for (auto& dom : c.local_domains)
                if (listed(c.mailboxes, "postmaster@" + dom)) {
                    d.mailbox = "postmaster@" + lower(dom);
                    return d;
                }
        }
        d.refusal = reply{550, "5.1.1", "<" + std::string(address) + ">: Recipient address rejected: User unknown"};
        return d;
    }
    auto domain = address.substr(at + 1);
    if (listed(c.local_domains, domain)) {
        if (listed(c.mailboxes, address)) {
            d.mailbox = lower(address);
            return d;
        }
        d.refusal = reply{550, "5.1.1",
                          "<" + std::string(address) + ">: Recipient address rejected: User unknown in local recipient table"};
        return d;
    }
    if (c.relays && std::any_of(c.relay_domains.begin(), c.relay_domains.end(),
                                [&](auto& e) { return domain_matches(e, domain); })) {
        d.kind = recipient_kind::relayed;
        return d;
    }
    d.refusal = reply{554, "5.7.1", "<" + std::string(address) + ">: Relay access denied"};
    return d;
}

next_hop route_for(const mail_host_config& c, std::string_view domain) {
    // The most specific route wins: "corp.example" before ".example".
    const std::pair<std::string, std::string>* best = nullptr;
    for (auto& r : c.routes)
        if (domain_matches(r.first, domain) && (!best || r.first.size() > best->first.size())) best = &r;
    if (best) return {next_hop::kind::route, best->second};
    if (!c.smart_host.empty()) return {next_hop::kind::smart_host, c.smart_host};
    return {next_hop::kind::mx, lower(domain)};
}

std::string received_header(std::string_view by_host, std::string_view helo, std::string_view client_address,
                            std::string_view id, bool esmtp, std::string_view for_recipient, std::string_view date) {
    std::string h = "Received: from " + std::string(helo.empty() ? "unknown" : helo) + " ([" +
                    std::string(client_address) + "])\r\n\tby " + std::string(by_host) + " (mailsim) with " +
                    (esmtp ? "ESMTP" : "SMTP") + " id " + std::string(id);
    if (!for_recipient.empty()) h += "\r\n\tfor <" + std::string(for_recipient) + ">";
    h += "; " + std::string(date) + "\r\n";
    return h;
}

std::string_view header_block(std::string_view message) {
    auto end = message.find("\r\n\r\n");
    if (end == std::string_view::npos) return message;
    return message.substr(0, end + 4);
}

int count_received(std::string_view message) {
    auto headers = header_block(message);
    int n = 0;
    std::size_t pos = 0;
    while (pos < headers.size()) {
        auto eol = headers.find('\n', pos);
        auto line = headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        if (line.size() >= 9 && support::iequals(line.substr(0, 9), "received:")) ++n;
        if (eol == std::string_view::npos) break;
        pos = eol + 1;
    }
    return n;
}

std::string header_value(std::string_view message, std::string_view name) {
    auto headers = header_block(message);
    std::string value;
    bool in_field = false;
    std::size_t pos = 0;
    while (pos < headers.size()) {
        auto eol = headers.find('\n', pos);
        auto line = headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = eol == std::string_view::npos ? headers.size() : eol + 1;
        if (line.empty()) break;
        bool continuation = line.front() == ' ' || line.front() == '\t';
        if (in_field) {
            if (continuation) {
                value += " " + std::string(line.substr(line.find_first_not_of(" \t")));
                continue;
            }
            break;
        }
        auto colon = line.find(':');
        if (!continuation && colon != std::string_view::npos && support::iequals(line.substr(0, colon), name)) {
            auto v = line.substr(colon + 1);
            auto start = v.find_first_not_of(" \t");
            value = start == std::string_view::npos ? std::string{} : std::string(v.substr(start));
            in_field = true;
        }
    }
    return value;
}

std::string rfc5322_date(long long epoch_ms) {
    std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

}  // namespace fake_smtp
