#include "simulator/files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace sim {

std::string write_file_atomically(const std::string& path, std::string_view text) {
    auto tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) return "cannot write " + tmp;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        return "cannot write " + path + ": " + ec.message();
    }
    return {};
}

std::string make_work_directory(std::string_view stem, std::string& error) {
    std::string base = "/tmp";
    if (auto* t = std::getenv("TMPDIR"); t && *t) {
        std::error_code ec;
        if (std::filesystem::is_directory(t, ec)) base = t;
    }
    std::string tmpl = base + "/" + std::string(stem) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
        error = std::strerror(errno);
        return {};
    }
    error.clear();
    return tmpl;
}

}  // namespace sim
