#include "vigil/dataset.hpp"

namespace vigil {

int Keys::dim_index(const std::string& name) const {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] == name) return static_cast<int>(i);
  return -1;
}

uint32_t Keys::intern(size_t dim, const std::string& value) {
  if (dictionary.size() < dims.size()) dictionary.resize(dims.size());
  if (index.size() < dims.size()) index.resize(dims.size());
  std::vector<std::string>& values = dictionary[dim];
  std::unordered_map<std::string, uint32_t>& lookup = index[dim];
  // Writers that fill `dictionary` directly leave the index behind; catch it up here.
  if (lookup.size() != values.size()) {
    lookup.clear();
    for (size_t i = 0; i < values.size(); ++i) lookup.emplace(values[i], static_cast<uint32_t>(i));
  }
  const auto [it, inserted] = lookup.try_emplace(value, static_cast<uint32_t>(values.size()));
  if (inserted) values.push_back(value);
  return it->second;
}

long long Keys::find_code(size_t dim, const std::string& value) const {
  if (dim >= dictionary.size()) return -1;
  const std::vector<std::string>& values = dictionary[dim];
  if (dim < index.size() && index[dim].size() == values.size()) {
    const auto it = index[dim].find(value);
    return it == index[dim].end() ? -1 : static_cast<long long>(it->second);
  }
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] == value) return static_cast<long long>(i);
  return -1;
}

std::string Keys::describe(size_t series) const {
  if (dims.empty()) return "*";
  std::string text;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) text += ',';
    text += dims[d];
    text += '=';
    text += value(series, d);
  }
  return text;
}

}  // namespace vigil
