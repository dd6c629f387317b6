#pragma once
#include <string>
#include <string_view>

namespace sim {

/// Writes `text` to a temporary file beside `path` (named with the process id)
/// and renames it over `path`, so a reader or a crash sees the old file or the
/// new one, never half of one. "" when written, else why not.
std::string write_file_atomically(const std::string& path, std::string_view text);

/// A new private directory $TMPDIR/STEM-XXXXXX (/tmp without TMPDIR); "" and
/// `error` set when it cannot be made.
std::string make_work_directory(std::string_view stem, std::string& error);

}  // namespace sim
