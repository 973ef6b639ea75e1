// Status and Result<T>: the one error type of modelcar.
//
// A Status is either OK or carries a Code and a human-readable message. Functions that can fail
// for reasons outside the program (input, I/O, network) return Status or Result<T>; assertions are
// only for programmer mistakes. Messages are written for the user: they name the file, blob, field
// or request that failed, and never contain credentials.
//
// Tables elsewhere map codes to CLI exit codes (ExitCode below), HTTP/OpenAI errors and Kubernetes
// admission responses.
#ifndef MODELCAR_BASE_STATUS_H_
#define MODELCAR_BASE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace modelcar {

enum class Code {
  kOk = 0,
  kInvalidArgument,    // bad flag, malformed input file, manifest, request
  kNotFound,           // file, blob, manifest, tensor absent
  kAlreadyExists,      // a commit found the content already present (often treated as success)
  kFailedPrecondition, // state does not allow the operation (e.g. tag given where digest required)
  kPermissionDenied,   // 403, EACCES
  kUnauthenticated,    // 401
  kDataLoss,           // digest or size mismatch, truncated data, corrupt file
  kUnavailable,        // connection refused, 5xx, timeouts: retryable
  kResourceExhausted,  // disk full, too large, overload, quota
  kCancelled,          // interrupted by the user or a client disconnect
  kDeadlineExceeded,   // a timeout that is not retried
  kUnimplemented,      // a feature modelcar does not support (names it)
  kInternal,           // a bug or an unexpected system failure
};

// Returns "invalid argument", "not found", ... for messages.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not found: blob sha256:... missing" ; "ok" for OK.
  std::string ToString() const;

  // Returns a copy whose message is "context: message" (same code). OK stays OK.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Convenience constructors.
inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Maps errno to a Status: ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied,
// ENOSPC/EDQUOT -> ResourceExhausted, others -> Internal. Message: "what: strerror(err)".
Status ErrnoStatus(int err, std::string_view what);

// Process exit code for a CLI command that failed with `status` (0 for OK, 1 for most errors,
// 2 for invalid arguments).
int ExitCode(const Status& status);

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK status when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace modelcar

#define MC_CONCAT_INNER_(a, b) a##b
#define MC_CONCAT_(a, b) MC_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::modelcar::Status mc_status_ = (expr);                \
    if (!mc_status_.ok()) return mc_status_;               \
  } while (0)

// ASSIGN_OR_RETURN(auto x, F()); evaluates F() (a Result<T>), returns its Status on error, else
// moves the value into the declaration.
#define ASSIGN_OR_RETURN(decl, expr) \
  ASSIGN_OR_RETURN_IMPL_(MC_CONCAT_(mc_result_, __LINE__), decl, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return tmp.status();           \
  decl = std::move(tmp).value()

#endif  // MODELCAR_BASE_STATUS_H_
