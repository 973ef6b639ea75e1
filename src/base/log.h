// The process log: lines on stderr, filtered by level. The level comes from the environment
// variable MODELCAR_LOG (debug, info, warning or warn, error, off; read once, on first use;
// unset, empty or unknown means info) unless SetLogLevel() was called.
//
//   LogWarning("modelcar webhook: keeping the previous config: {}", st.ToString());
//   if (LogEnabled(LogLevel::kDebug)) { ...gather what only a debug line needs... }
//
// A message is printed as given (callers start it with their component, "modelcar serve: ...")
// plus a newline, in one write(2) so that lines of concurrent threads never interleave. Never
// put credentials or full URLs (they may carry tokens) into a log line.
// Thread-safe. CLI output meant for the user (results, tables, progress bars) is not logging and
// does not go through here.
#ifndef MODELCAR_BASE_LOG_H_
#define MODELCAR_BASE_LOG_H_

#include <fmt/format.h>

#include <optional>
#include <string_view>

namespace modelcar {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// "debug" -> kDebug, ..., "warn" and "warning" -> kWarning, "off" -> kOff; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// The current threshold: lines below it are dropped.
LogLevel CurrentLogLevel();
// Replaces the threshold (and the environment's choice) for the whole process.
void SetLogLevel(LogLevel level);

inline bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff && level >= CurrentLogLevel();
}

// Writes `message` and a newline to stderr when `level` is enabled.
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (LogEnabled(level)) LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void LogDebug(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kDebug, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogInfo(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kInfo, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogWarning(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kWarning, format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogError(fmt::format_string<Args...> format, Args&&... args) {
  Log(LogLevel::kError, format, std::forward<Args>(args)...);
}

}  // namespace modelcar

#endif  // MODELCAR_BASE_LOG_H_
