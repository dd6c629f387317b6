#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "simulator/scenario.hpp"
#include "simulator/source.hpp"

namespace sim {

/// How a scenario file is loaded.
struct load_options {
    /// Includes must stay inside this directory. Empty: the nearest ancestor
    /// directory named `scenarios`, else the file's own directory.
    std::string library_root;
    /// A fragment (a file meant to be included, such as scenarios/base/*.toml)
    /// is checked for syntax, keys and types only.
    bool fragment = false;
};

/// Loads a scenario with its includes and validates it. Every problem found is
/// added to `diags`; the scenario is returned only when there is none.
std::optional<scenario> load_scenario(const std::string& path, diagnostics& diags, const load_options& options = {});

/// The same for text that is not on disk (`path` is used in messages and to
/// resolve includes).
std::optional<scenario> load_scenario_text(std::string_view text, const std::string& path, diagnostics& diags,
                                           const load_options& options = {});

/// True for files that are fragments by convention: inside a `base` directory.
bool is_fragment_path(const std::string& path);

}  // namespace sim
