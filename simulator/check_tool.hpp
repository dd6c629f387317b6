#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/scenario.hpp"
#include "simulator/source.hpp"

namespace sim {

/// One finding: what a diagnostic tool reported, or what it should report.
struct finding {
    std::string kind;
    std::string target;
    bool operator==(const finding&) const = default;
};

/// Reads `{"findings":[{"kind":"...","target":"..."}]}`; nullopt with `error`
/// set when the text is anything else.
std::optional<std::vector<finding>> parse_findings(std::string_view text, std::string& error);

/// One `[[rule]]` of an adapter file: a regular expression (ECMAScript) tried
/// on every line of the tool's output, and the finding a match makes (`$1`...
/// in kind and target stand for the match's groups).
struct adapter_rule {
    std::string regex;
    std::string kind;
    std::string target;
    bool ignore_case = false;
    source_pos pos;
};

/// `--adapter FILE`: how to read findings from a tool that prints text.
struct adapter {
    std::vector<adapter_rule> rules;
    std::string input = "stdout";  ///< stdout | stderr | both
};

/// Loads and checks an adapter file; problems go to `diags` as file:line:col.
std::optional<adapter> load_adapter(const std::string& path, diagnostics& diags);

/// The findings the adapter's rules make from `text`, each once, in order.
std::vector<finding> apply_adapter(const adapter& a, std::string_view text);

/// What placeholders stand for in one lab.
struct placeholder_values {
    std::map<std::string, std::string> plain;  ///< dns, dns_addr, dns_port, smtp_port, api, token, scenario, ...
    const configuration* hosts = nullptr;      ///< for {smtp:HOST}, {addr:HOST}, {fqdn:HOST} (the answer configuration)
    int smtp_port = 0;
};

/// Fills the placeholders of a tool command (SPEC 10). Braces that are not a
/// placeholder stay as they are; a placeholder naming an unknown host is an error.
std::optional<std::string> fill_placeholders(std::string_view command, const placeholder_values& v, std::string& error);

/// What a scenario expects from a tool, and where each expectation came from.
struct expected_finding_item {
    finding f;
    std::optional<fault> source;  ///< the fault, when the expectation is the scenario's faults
    /// False for a fault that starts later (`after`): not active when the tool
    /// starts, so not required, but finding it is no false alarm either.
    bool required = true;
};

/// `[expect]` findings, else the scenario's faults with the lab seed's picks
/// (those active from the start required, the others tolerated).
std::vector<expected_finding_item> expected_findings(const scenario& s);

/// True when a reported finding names the expected one: same kind
/// (case-insensitively), and a target that names the same thing the way the
/// trainer's diagnosis does (any entry of a list, a host by name or FQDN).
bool finding_matches(const expected_finding_item& e, const finding& got, const configuration& answer);

/// Found, missed and extra findings of one scenario; `late` are findings of
/// faults that start later (neither required nor false alarms).
struct comparison {
    std::vector<finding> found, missed, extra, late;
    bool passed() const { return missed.empty() && extra.empty(); }
};
comparison compare_findings(const std::vector<expected_finding_item>& expected, const std::vector<finding>& reported,
                            const configuration& answer);

/// `mailsim check-tool` options (SPEC 7, 10).
struct check_tool_options {
    std::string tool;                    ///< the command, run through /bin/sh
    std::vector<std::string> paths;      ///< scenario files or directories (default: scenarios)
    std::string adapter_file;
    std::string json_file, junit_file;
    std::string timeout = "30s";         ///< per tool run
    int jobs = 1;
    int prefix_base = 150;               ///< labs use 127.base .. 127.(base+prefix_count-1)
    int prefix_count = 50;
    std::string ports = "auto";          ///< passed to `mailsim run --ports`
    std::string mailsim;                 ///< the executable that runs labs (default: this one)
    bool keep = false;                   ///< keep the work directory (lab logs, tool output)
};

/// Runs the tool against every scenario; returns the exit code (0 all passed,
/// 1 some scenario failed, 2 usage, 3 runtime failure).
int check_tool_main(const check_tool_options& o);

}  // namespace sim
