#include "json_field.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace tinynet {

// Strict JSON: no byte-order mark, no NUL (nlohmann would stop reading at
// one), no duplicate keys, bounded nesting. Bare NaN/Infinity are turned into
// marked strings first so that the field holding them can be named.
json parse_json(const std::string &text, const std::string &source)
{
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0)
    throw FileError(source, "", "starts with a UTF-8 byte-order mark (not allowed in JSON text)");
  const size_t nul = text.find('\0');
  if (nul != std::string::npos)
    throw FileError(source, "", "contains a NUL byte at offset " + std::to_string(nul));

  std::vector<std::set<std::string>> keys_of_open_objects;
  int depth = 0;
  auto strict = [&](int, json::parse_event_t event, json &parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > MAX_DEPTH)
          throw FileError(source, "", "nested deeper than " + std::to_string(MAX_DEPTH) + " levels");
        if (event == json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        --depth;
        if (event == json::parse_event_t::object_end) keys_of_open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_of_open_objects.back().insert(parsed.get<std::string>()).second)
          throw FileError(source, "", "duplicate key '" + parsed.get<std::string>() + "'");
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(mark_nonfinite(text), strict);
  } catch (const FileError &) {
    throw;
  } catch (const std::exception &e) {
    // The parser quotes the bytes it stopped at, which may be anything.
    std::string what;
    for (const unsigned char ch : std::string(e.what())) {
      if (ch >= 0x20 && ch < 0x7f) {
        what += (char) ch;
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", ch);
        what += hex;
      }
    }
    throw FileError(source, "", "not valid JSON (truncated or corrupt?): " + what);
  }
}

json read_json_file(const std::string &path, const std::string &kind)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot open " + kind);
  std::stringstream text;
  text << in.rdbuf();
  return parse_json(text.str(), path);
}

}    // namespace tinynet
