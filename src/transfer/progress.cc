#include "transfer/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/human_bytes.h"

namespace modelcar {
namespace {

std::string Human(double b) { return HumanBytes(b, ByteUnits::kSi); }

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string Short(const std::string& digest) {
  return digest.size() > 19 ? digest.substr(0, 19) : digest;
}

}  // namespace

Result<ProgressMode> ParseProgressMode(std::string_view s) {
  if (s == "auto") return ProgressMode::kAuto;
  if (s == "tty") return ProgressMode::kTty;
  if (s == "plain") return ProgressMode::kPlain;
  if (s == "json") return ProgressMode::kJson;
  if (s == "none") return ProgressMode::kNone;
  return InvalidArgument("--progress must be auto, tty, plain, json or none, not \"" +
                         std::string(s) + "\"");
}

TransferProgress::TransferProgress(ProgressMode mode, std::string verb, bool summary)
    : mode_(mode),
      verb_(std::move(verb)),
      summary_(summary),
      start_(std::chrono::steady_clock::now()) {
  if (mode_ == ProgressMode::kAuto) mode_ = isatty(2) ? ProgressMode::kTty : ProgressMode::kPlain;
  if (mode_ == ProgressMode::kTty || mode_ == ProgressMode::kJson) {
    thread_ = std::thread([this] { Loop(); });
  }
}

TransferProgress::~TransferProgress() { Finish(); }

void TransferProgress::Emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
}

int TransferProgress::Add(const std::string& digest, int64_t size, const std::string& title) {
  std::lock_guard<std::mutex> lock(mu_);
  auto b = std::make_unique<Blob>();
  b->digest = digest;
  b->title = title;
  b->size = size;
  b->start = std::chrono::steady_clock::now();
  blobs_.push_back(std::move(b));
  if (mode_ == ProgressMode::kJson) {
    Emit(nlohmann::json{
        {"event", "start"}, {"op", verb_}, {"digest", digest}, {"size", size}, {"title", title}}
             .dump());
  }
  return static_cast<int>(blobs_.size() - 1);
}

void TransferProgress::Bytes(int id, int64_t delta) {
  Blob* b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    b = blobs_[id].get();
  }
  b->bytes.fetch_add(delta, std::memory_order_relaxed);
}

void TransferProgress::Done(int id, std::string_view status) {
  std::lock_guard<std::mutex> lock(mu_);
  Blob& b = *blobs_[id];
  b.done = true;
  double secs = Seconds(std::chrono::steady_clock::now() - b.start);
  if (mode_ == ProgressMode::kJson) {
    Emit(nlohmann::json{{"event", "done"},
                        {"op", verb_},
                        {"digest", b.digest},
                        {"size", b.size},
                        {"status", status},
                        {"bytes", b.bytes.load()},
                        {"seconds", secs}}
             .dump());
  } else if (mode_ == ProgressMode::kPlain) {
    std::string line(status);
    if (!b.digest.empty()) line += " " + b.digest;
    line += " " + Human(b.size);
    if (!b.title.empty()) line += " " + b.title;
    if (status != "exists" && status != "mounted" && secs > 0) {
      line += " in " + std::to_string(secs).substr(0, 5) + " s (" +
              Human(b.bytes.load() / std::max(secs, 1e-6)) + "/s)";
    }
    Emit(line);
  }
}

void TransferProgress::Message(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (mode_) {
    case ProgressMode::kJson:
      Emit(nlohmann::json{{"event", "message"}, {"op", verb_}, {"message", line}}.dump());
      break;
    case ProgressMode::kTty:
      Emit(EraseBars() + std::string(line));  // the bars come back below it on the next tick
      break;
    case ProgressMode::kPlain:
      Emit(std::string(line));
      break;
    default:
      break;
  }
}

// Called with mu_ held: the escapes that erase the bars drawn last (tty).
std::string TransferProgress::EraseBars() {
  std::string out;
  for (int i = 0; i < drawn_lines_; ++i) out += "\x1b[1A\x1b[2K";
  drawn_lines_ = 0;
  return out;
}

void TransferProgress::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto period = mode_ == ProgressMode::kTty ? std::chrono::milliseconds(200)
                                            : std::chrono::milliseconds(1000);
  while (!stop_) {
    cv_.wait_for(lock, period, [&] { return stop_; });
    if (stop_) break;
    Draw(false);
  }
}

// Called with mu_ held.
void TransferProgress::Draw(bool final) {
  auto now = std::chrono::steady_clock::now();
  if (mode_ == ProgressMode::kJson) {
    for (const auto& b : blobs_) {
      if (b->done) continue;
      Emit(nlohmann::json{{"event", "progress"},
                          {"op", verb_},
                          {"digest", b->digest},
                          {"size", b->size},
                          {"bytes", b->bytes.load()}}
               .dump());
    }
    return;
  }
  std::string out = EraseBars();
  int lines = 0;
  for (const auto& b : blobs_) {
    if (b->done && !final) continue;
    int64_t got = b->bytes.load();
    double frac = b->size > 0 ? std::min(1.0, static_cast<double>(got) / b->size) : 1.0;
    double secs = std::max(Seconds(now - b->start), 1e-3);
    double rate = got / secs;
    int width = 24, filled = static_cast<int>(frac * width);
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    char buf[256];
    std::string eta =
        rate > 0 && !b->done ? fmt::format("{}s", static_cast<int>((b->size - got) / rate)) : "-";
    const std::string who = b->digest.empty() ? verb_ : verb_ + " " + Short(b->digest);
    std::snprintf(buf, sizeof buf, "%s [%s] %3d%% %9s/s ETA %s %s", who.c_str(), bar.c_str(),
                  static_cast<int>(frac * 100), Human(rate).c_str(), eta.c_str(), b->title.c_str());
    out += buf;
    out += "\n";
    ++lines;
  }
  drawn_lines_ = final ? 0 : lines;
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

void TransferProgress::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == ProgressMode::kNone) return;
  if (mode_ == ProgressMode::kTty) {
    const std::string erase = EraseBars();
    std::fwrite(erase.data(), 1, erase.size(), stderr);
  }
  if (!summary_) return;
  int64_t total = 0;
  for (const auto& b : blobs_) total += b->bytes.load();
  double secs = Seconds(std::chrono::steady_clock::now() - start_);
  if (mode_ == ProgressMode::kJson) {
    Emit(nlohmann::json{{"event", "summary"},
                        {"op", verb_},
                        {"blobs", blobs_.size()},
                        {"bytes", total},
                        {"seconds", secs}}
             .dump());
  } else {
    Emit(fmt::format("{}: {} blobs, {} transferred in {} s ({}/s)", verb_, blobs_.size(),
                     Human(total), std::to_string(secs).substr(0, 5),
                     Human(total / std::max(secs, 1e-6))));
  }
}

}  // namespace modelcar
