// Flag parsers of build.h.
#include <time.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "image/build.h"

namespace modelcar {

namespace {

bool ParseU32(std::string_view s, uint32_t* out, int base = 10) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Status ParseOwner(std::string_view s, uint32_t* uid, uint32_t* gid) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || !ParseU32(s.substr(0, colon), uid) ||
      !ParseU32(s.substr(colon + 1), gid)) {
    return InvalidArgument("--owner \"" + std::string(s) +
                           "\" must be UID:GID (numbers), e.g. 1001:0");
  }
  return Status();
}

Status ParseMode(std::string_view s, uint32_t* file_mode, uint32_t* dir_mode) {
  auto bad = [&](std::string why) {
    return InvalidArgument("--mode \"" + std::string(s) + "\": " + why);
  };
  if (!s.empty() && s[0] >= '0' && s[0] <= '7') {
    uint32_t m;
    if (!ParseU32(s, &m, 8) || m > 07777) return bad("not an octal mode");
    *file_mode = m;
    *dir_mode = m | ((m & 0444) >> 2);
    return Status();
  }
  uint32_t f = 0, d = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    std::string_view clause = s.substr(pos, end == std::string_view::npos ? s.npos : end - pos);
    size_t i = 0;
    uint32_t who = 0;
    for (; i < clause.size(); ++i) {
      char c = clause[i];
      if (c == 'u')
        who |= 04700;
      else if (c == 'g')
        who |= 02070;
      else if (c == 'o')
        who |= 01007;
      else if (c == 'a')
        who |= 07777;
      else
        break;
    }
    if (who == 0) who = 07777;
    if (i >= clause.size() || (clause[i] != '=' && clause[i] != '+' && clause[i] != '-')) {
      return bad("expected octal digits or clauses like a=rX");
    }
    char op = clause[i++];
    uint32_t pf = 0, pd = 0;
    for (; i < clause.size(); ++i) {
      switch (clause[i]) {
        case 'r':
          pf |= 0444;
          pd |= 0444;
          break;
        case 'w':
          pf |= 0222;
          pd |= 0222;
          break;
        case 'x':
          pf |= 0111;
          pd |= 0111;
          break;
        case 'X':
          pd |= 0111;
          break;
        default:
          return bad(std::string("unknown permission '") + clause[i] + "'");
      }
    }
    pf &= who & 0777;
    pd &= who & 0777;
    uint32_t clear = who & 0777;
    if (op == '=') {
      f = (f & ~clear) | pf;
      d = (d & ~clear) | pd;
    } else if (op == '+') {
      f |= pf;
      d |= pd;
    } else {
      f &= ~pf;
      d &= ~pd;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  *file_mode = f;
  *dir_mode = d;
  return Status();
}

Result<int64_t> ParseCreated(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t v;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  struct tm tm = {};
  int consumed = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6 &&
      consumed == static_cast<int>(str.size()) && tm.tm_year >= 1970 && tm.tm_mon >= 1 &&
      tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour < 24 && tm.tm_min < 60 &&
      tm.tm_sec < 61) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<int64_t>(::timegm(&tm));
  }
  return InvalidArgument("--created \"" + str +
                         "\" must be seconds since the epoch or YYYY-MM-DDTHH:MM:SSZ");
}

Result<std::vector<std::string>> ParseExecForm(std::string_view flag, std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const nlohmann::json& e : j) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
  }
  if (!j.is_array() || out.size() != j.size()) {
    return InvalidArgument(std::string(flag) + " \"" + std::string(json) +
                           "\" must be a JSON array of strings, e.g. '[\"/usr/bin/modelcar\"]'");
  }
  return out;
}

Status CheckEnvEntry(std::string_view entry) {
  size_t eq = entry.find('=');
  if (eq == 0 || eq == std::string_view::npos) {
    return InvalidArgument("--env \"" + std::string(entry) + "\" must be KEY=VALUE");
  }
  return Status();
}

std::string FormatRfc3339(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace modelcar
