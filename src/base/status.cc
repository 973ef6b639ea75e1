#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace modelcar {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kDataLoss: return "data loss";
    case Code::kUnavailable: return "unavailable";
    case Code::kResourceExhausted: return "resource exhausted";
    case Code::kCancelled: return "cancelled";
    case Code::kDeadlineExceeded: return "deadline exceeded";
    case Code::kUnimplemented: return "unimplemented";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status ErrnoStatus(int err, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  switch (err) {
    case ENOENT: case ENOTDIR: return NotFound(std::move(m));
    case EACCES: case EPERM: case EROFS: return PermissionDenied(std::move(m));
    case ENOSPC: case EDQUOT: case EFBIG: return ResourceExhausted(std::move(m));
    case EEXIST: return AlreadyExists(std::move(m));
    case EINVAL: case ENAMETOOLONG: case ELOOP: return InvalidArgument(std::move(m));
    case EINTR: return Cancelled(std::move(m));
    default: return Internal(std::move(m));
  }
}

int ExitCode(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument: return 2;
    default: return 1;
  }
}

}  // namespace modelcar
