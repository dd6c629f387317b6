#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/source.hpp"

namespace sim {

struct doc_member;

/// A TOML value with the position it came from. Scenario files are converted
/// into this tree right after parsing, so includes can be merged without
/// losing positions and the rest of the loader never sees toml++ types.
struct doc_node {
    enum class kind { table, array, string, integer, floating, boolean, date_time };

    kind type = kind::table;
    source_pos pos;
    std::string text;  ///< string value, or the text of a date-time
    std::int64_t integer = 0;
    double floating = 0;
    bool boolean = false;
    std::vector<doc_member> members;  ///< table members in file order
    std::vector<doc_node> items;      ///< array items

    /// The member called `key`, or nullptr.
    const doc_node* find(std::string_view key) const;
    doc_node* find(std::string_view key);
    /// "table", "array", "string", "integer", "float", "boolean", "date-time".
    std::string_view type_name() const;
    bool is_table() const { return type == kind::table; }
    bool is_array() const { return type == kind::array; }
    bool is_string() const { return type == kind::string; }
    /// An array whose items are all tables (`[[x]]` or an array of inline tables).
    bool is_table_array() const;
};

/// A key of a table with its position and value.
struct doc_member {
    std::string key;
    source_pos key_pos;
    doc_node value;
};

/// Merges `later` over `base` as includes do: tables merge key by key, arrays
/// of tables append, any other later value replaces the earlier one.
void merge_into(doc_node& base, doc_node later);

}  // namespace sim
