#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sim {

/// Where and why untrusted TOML text was refused before (or while) toml++ read it.
/// line/column are 1-based; 0 when no position can be given (e.g. the parser crashed).
struct toml_refusal {
    int line = 0;
    int column = 0;
    std::string message;
};

/// Limits applied to scenario files before toml++ sees them.
struct toml_limits {
    std::size_t max_bytes = 1 << 20;   ///< size cap
    int max_nesting = 32;              ///< arrays / inline tables nested inside each other
    int max_key_parts = 32;            ///< dotted segments in one key or table header
};

/// Cheap checks on the raw text: size cap, well-formed UTF-8 (no overlongs,
/// surrogates or code points past U+10FFFF), no control characters other than
/// tab, LF and CR-before-LF, and a depth pre-scan of brackets, braces and
/// dotted keys that respects strings and comments, and refusal of what toml++
/// 3.3.0 mishandles (non-ASCII outside strings and comments, a table header
/// without a key, a backslash before a non-ASCII character). nullopt when the text passes.
std::optional<toml_refusal> precheck_toml(std::string_view text, const toml_limits& limits = {});

/// Parses the text with toml++ in a child process under resource limits
/// (address space, CPU time, stack) and reports toml++'s own error with its
/// position, or a refusal without position when the child crashed or ran out of
/// time or memory. nullopt when the child parsed the text cleanly.
std::optional<toml_refusal> preflight_parse(std::string_view text, std::string_view source_name);

/// What a pre-flight child does instead of parsing; only tests ask for anything but `parse`.
enum class preflight_fault { parse, crash, hang, spin, exit_without_result };

/// Test hook: makes later pre-flight children misbehave and sets how long the parent waits for them.
void set_preflight_fault_for_testing(preflight_fault fault,
                                     std::chrono::milliseconds time_limit = std::chrono::seconds(5));

}  // namespace sim

#include <toml++/toml.h>

namespace sim {

/// The outcome of a guarded parse: the table, or why the text was refused.
struct guarded_table {
    std::optional<toml::table> table;
    std::optional<toml_refusal> refusal;
};

/// precheck_toml, then preflight_parse, then toml++ in this process: the only
/// way scenario files reach toml++.
guarded_table guarded_parse(std::string_view text, std::string_view source_name, const toml_limits& limits = {});

}  // namespace sim
