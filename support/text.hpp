#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace support {

/// ASCII lower case.
std::string to_lower(std::string_view s);

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

/// Levenshtein distance, used for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate nearest to `word` when it is close enough to be a plausible typo.
std::optional<std::string> did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

/// Parses a size such as "10MB", "512KB", "1024", "0" into bytes (binary units: 1KB = 1024).
std::optional<std::uint64_t> parse_size(std::string_view text);

/// Formats a byte count the way scenarios write it ("10MB" when exact, else bytes).
std::string format_size(std::uint64_t bytes);

/// Lab time, in milliseconds.
using duration = std::chrono::milliseconds;

/// Parses a duration such as "90s", "10m", "2h", "3d", "250ms"; a bare number is seconds.
std::optional<duration> parse_duration(std::string_view text);

/// Formats a duration compactly ("1h30m", "45s", "250ms").
std::string format_duration(duration d);

}  // namespace support
