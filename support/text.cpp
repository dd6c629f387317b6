#include "support/text.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace support {

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            std::size_t cost = (a[i - 1] == b[j - 1]) ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
            diag = up;
        }
    }
    return row[b.size()];
}

std::optional<std::string> did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
    auto lowered = to_lower(word);
    std::optional<std::string> best;
    std::size_t best_distance = 0;
    for (auto c : candidates) {
        auto d = edit_distance(lowered, to_lower(c));
        if (!best || d < best_distance) {
            best = std::string(c);
            best_distance = d;
        }
    }
    // A suggestion helps only when it is a plausible typo: at most a third of the word changed.
    if (best && best_distance <= std::max<std::size_t>(2, word.size() / 3) && best_distance < word.size())
        return best;
    return std::nullopt;
}

namespace {

// Splits "10MB" into 10 and "MB"; nullopt when there is no leading number.
std::optional<std::pair<std::uint64_t, std::string>> number_and_unit(std::string_view text) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || p == text.data()) return std::nullopt;
    std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    return std::pair{n, to_lower(unit)};
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto nu = number_and_unit(text);
    if (!nu) return std::nullopt;
    auto [n, unit] = *nu;
    std::uint64_t mult = 0;
    if (unit.empty() || unit == "b") mult = 1;
    else if (unit == "kb" || unit == "k") mult = 1024;
    else if (unit == "mb" || unit == "m") mult = 1024 * 1024;
    else if (unit == "gb" || unit == "g") mult = 1024ull * 1024 * 1024;
    else return std::nullopt;
    if (n > (std::uint64_t{1} << 50) / mult) return std::nullopt;  // absurdly large
    return n * mult;
}

std::string format_size(std::uint64_t bytes) {
    constexpr std::uint64_t k = 1024, m = k * 1024, g = m * 1024;
    if (bytes == 0) return "0";
    if (bytes % g == 0) return std::to_string(bytes / g) + "GB";
    if (bytes % m == 0) return std::to_string(bytes / m) + "MB";
    if (bytes % k == 0) return std::to_string(bytes / k) + "KB";
    return std::to_string(bytes) + "B";
}

std::optional<duration> parse_duration(std::string_view text) {
    auto nu = number_and_unit(text);
    if (!nu) return std::nullopt;
    auto [n, unit] = *nu;
    std::uint64_t ms = 0;
    if (unit == "ms") ms = 1;
    else if (unit.empty() || unit == "s") ms = 1000;
    else if (unit == "m" || unit == "min") ms = 60'000;
    else if (unit == "h") ms = 3'600'000;
    else if (unit == "d") ms = 86'400'000;
    else return std::nullopt;
    if (n > (std::uint64_t{1} << 40) / ms) return std::nullopt;
    return duration{static_cast<std::int64_t>(n * ms)};
}

std::string format_duration(duration d) {
    auto ms = d.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) { out = "-"; ms = -ms; }
    if (ms % 1000 != 0 && ms < 60'000) return out + std::to_string(ms) + "ms";
    auto s = ms / 1000;
    auto days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
    if (days) out += std::to_string(days) + "d";
    if (hours) out += std::to_string(hours) + "h";
    if (minutes) out += std::to_string(minutes) + "m";
    if (seconds) out += std::to_string(seconds) + "s";
    return out;
}

}  // namespace support
