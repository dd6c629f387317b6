#include "simulator/doc.hpp"

namespace sim {

const doc_node* doc_node::find(std::string_view key) const {
    for (auto& m : members)
        if (m.key == key) return &m.value;
    return nullptr;
}

doc_node* doc_node::find(std::string_view key) {
    for (auto& m : members)
        if (m.key == key) return &m.value;
    return nullptr;
}

std::string_view doc_node::type_name() const {
    switch (type) {
        case kind::table: return "table";
        case kind::array: return "array";
        case kind::string: return "string";
        case kind::integer: return "integer";
        case kind::floating: return "float";
        case kind::boolean: return "boolean";
        case kind::date_time: return "date-time";
    }
    return "value";
}

bool doc_node::is_table_array() const {
    if (type != kind::array || items.empty()) return false;
    for (auto& i : items)
        if (!i.is_table()) return false;
    return true;
}

void merge_into(doc_node& base, doc_node later) {
    if (!base.is_table() || !later.is_table()) {
        base = std::move(later);
        return;
    }
    for (auto& m : later.members) {
        auto* existing = base.find(m.key);
        if (!existing) {
            base.members.push_back(std::move(m));
        } else if (existing->is_table() && m.value.is_table()) {
            merge_into(*existing, std::move(m.value));
        } else if (existing->is_table_array() && m.value.is_table_array()) {
            for (auto& item : m.value.items) existing->items.push_back(std::move(item));
        } else {
            *existing = std::move(m.value);
        }
    }
}

}  // namespace sim
