#pragma once
#include <compare>
#include <memory>
#include <string>
#include <vector>

namespace sim {

/// A position in a scenario file, for error messages (1-based; 0 = unknown).
struct source_pos {
    std::shared_ptr<const std::string> file;
    int line = 0;
    int column = 0;

    const std::string& path() const;
};

/// One problem found in a scenario, printed `file:line:col: error: message`.
struct diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;

    /// The canonical one-line form.
    std::string to_string() const;
    auto operator<=>(const diagnostic&) const = default;
};

/// Collects diagnostics; never throws.
class diagnostics {
public:
    void error(const source_pos& at, std::string message);
    void error(std::string file, int line, int column, std::string message);
    bool empty() const { return items_.empty(); }
    std::size_t size() const { return items_.size(); }
    /// Sorted by file, line, column; duplicates removed.
    std::vector<diagnostic> sorted() const;
    const std::vector<diagnostic>& items() const { return items_; }
    void append(const diagnostics& other);

private:
    std::vector<diagnostic> items_;
};

}  // namespace sim
