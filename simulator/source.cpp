#include "simulator/source.hpp"

#include <algorithm>

namespace sim {

const std::string& source_pos::path() const {
    static const std::string none;
    return file ? *file : none;
}

std::string diagnostic::to_string() const {
    std::string out = file.empty() ? "<input>" : file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    out += ": error: " + message;
    return out;
}

void diagnostics::error(const source_pos& at, std::string message) {
    items_.push_back({at.path(), at.line, at.column, std::move(message)});
}

void diagnostics::error(std::string file, int line, int column, std::string message) {
    items_.push_back({std::move(file), line, column, std::move(message)});
}

std::vector<diagnostic> diagnostics::sorted() const {
    auto out = items_;
    std::stable_sort(out.begin(), out.end(), [](const diagnostic& a, const diagnostic& b) {
        return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
    });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void diagnostics::append(const diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

}  // namespace sim
