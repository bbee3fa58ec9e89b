#include "vigil/error.hpp"

#include "core/text_checks.hpp"

namespace vigil {

namespace {

void append_escaped_byte(std::string& out, unsigned char c) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\0': out += "\\0"; return;
    default: {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) append_escaped_byte(out, c);
      else out += static_cast<char>(c);
      ++pos;
      continue;
    }
    const size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {  // not UTF-8: the byte itself, escaped
      append_escaped_byte(out, c);
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  if (out.size() > kMaxMessageBytes) {
    // Keep the head (file, line) and the tail (the problem); cut on UTF-8 boundaries.
    size_t head = kMaxMessageBytes / 2, tail = out.size() - kMaxMessageBytes / 4;
    while (head > 0 && (static_cast<unsigned char>(out[head]) & 0xC0) == 0x80) --head;
    while (tail < out.size() && (static_cast<unsigned char>(out[tail]) & 0xC0) == 0x80) ++tail;
    out = out.substr(0, head) + " ...(" + std::to_string(tail - head) + " bytes)... " + out.substr(tail);
  }
  return out;
}

InputError::InputError(const std::string& message) : std::runtime_error(printable(message)) {}

std::string where(const std::string& file, long long line, const std::string& problem) {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + problem;
  return file + ": " + problem;
}

std::string in_quotes(std::string_view text) {
  constexpr size_t kShown = 80;
  if (text.size() <= kShown) return "'" + std::string(text) + "'";
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(text.substr(0, cut)) + "'...(" + std::to_string(text.size()) + " bytes)";
}

}  // namespace vigil
